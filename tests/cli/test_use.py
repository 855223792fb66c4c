"""vaelab info, sample, reconstruct, encode, decode (vaelab.cli.use), the GMM sampler's cache, errors."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time

import numpy as np
import pytest
import torch
from cli_helpers import PNG_MAGIC, copy_run, fails, is_png, read_csv, run
from safetensors.numpy import save_file

import vaelab
from vaelab.data import load_dataset
from vaelab.latent.samplers import load_gmm

N_DIGITS = 1797


def test_info_text_and_json(digits_run, capsys):
    out, _ = digits_run("vae", "conv")
    code, text, _ = run(capsys, "info", out)
    assert code == 0
    assert "vae, arch conv, latent 2" in text and "2/2 epochs" in text and "digits" in text
    assert "last epoch 2:" in text

    code, text, _ = run(capsys, "info", out, "--json")
    assert code == 0
    report = json.loads(text)
    model = vaelab.load(out)
    assert report["epochs_done"] == 2 and report["last_metrics"]["epoch"] == 2
    assert report["parameters"] == sum(p.numel() for p in model.parameters()) > 0
    assert report["model"]["model"] == "vae" and report["model"]["latent_dim"] == 2
    assert report["data"]["name"] == "digits" and report["train"]["epochs"] == 2
    assert report["vaelab_version"] == vaelab.__version__ and report["size_bytes"] > 0


def test_sample_npy_is_in_data_units_and_png_is_written(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    code, text, _ = run(capsys, "sample", out, "-n", 7, "--out", "x.npy")
    assert code == 0 and "wrote 7 samples to x.npy" in text
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (7, 1, 8, 8) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 16 and x.max() > 1  # grey levels 0..16, not [0, 1]
    assert x.std() > 0

    code, _, _ = run(capsys, "sample", out, "-n", 5, "--out", "sub/x.png")
    assert code == 0 and is_png(tmp_path / "sub" / "x.png")


def test_sample_seed_fixes_the_draw(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "mlp")
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert run(capsys, "sample", out, "-n", 6, "--seed", seed, "--out", f"{name}.npy")[0] == 0
    a, b, c = (np.load(tmp_path / f"{n}.npy") for n in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sample_from_an_ae_is_refused(digits_run, capsys, tmp_path):
    out, _ = digits_run("ae", "conv")
    fails(capsys, "sample", out, "--out", "x.npy", words=("AE", "cannot sample", "--model vae"))
    assert not (tmp_path / "x.npy").exists()


def test_sample_needs_at_least_one(digits_run, capsys):
    out, _ = digits_run("vae", "conv")
    fails(capsys, "sample", out, "-n", 0, "--out", "x.npy", words=("-n 0", "at least 1"))


# -- the size of an output, checked before any work (issue 17, item 7) -----------------------------


def test_sample_refuses_an_output_too_large_before_drawing(digits_run, capsys, tmp_path, monkeypatch):
    out, _ = digits_run("vae", "mlp")

    def no_draws(*args, **kwargs):
        raise AssertionError("samples were drawn")

    monkeypatch.setattr(vaelab.latent.sampling, "standard_normal", no_draws)
    start = time.perf_counter()
    fails(capsys, "sample", out, "-n", 10_000_000, "--out", "x.npy",
          words=("-n 10000000 is not allowed", "10,000,000 examples of 64 values as .npy",
                 "come to about 2.38 GiB", "above the limit of 1 GiB", "--max-bytes 3G",
                 "$VAELAB_MAX_OUTPUT_BYTES"))
    fails(capsys, "sample", out, "-n", 10_000_000, "--out", "x.png",
          words=("-n 10000000 is not allowed", "a PNG of 10,000,000 images", "at most 2,500",
                 "--out FILE.npy"))
    fails(capsys, "sample", out, "-n", 2501, "--out", "x.png", words=("a PNG of 2,501 images",))
    assert time.perf_counter() - start < 20  # the run is loaded, nothing is drawn: about a second
    assert list(tmp_path.iterdir()) == []


def test_the_output_limit_is_a_flag_or_an_environment_variable(digits_run, capsys, tmp_path, monkeypatch):
    out, _ = digits_run("vae", "mlp")
    # 100 samples of 64 float32 values: 25,600 bytes
    fails(capsys, "sample", out, "-n", 100, "--max-bytes", "20K", "--out", "x.npy",
          words=("about 25 KiB", "above the limit of 20 KiB"))
    monkeypatch.setenv("VAELAB_MAX_OUTPUT_BYTES", "20K")
    fails(capsys, "sample", out, "-n", 100, "--out", "x.npy", words=("above the limit of 20 KiB",))
    assert not (tmp_path / "x.npy").exists()
    code, _, _ = run(capsys, "sample", out, "-n", 100, "--max-bytes", "1M", "--out", "x.npy")  # the flag wins
    assert code == 0 and np.load(tmp_path / "x.npy").shape == (100, 1, 8, 8)
    monkeypatch.setenv("VAELAB_MAX_OUTPUT_BYTES", "lots")
    fails(capsys, "sample", out, "-n", 100, "--out", "x.npy",
          words=("$VAELAB_MAX_OUTPUT_BYTES=lots is not allowed", "e.g. 500M or 4G"))
    fails(capsys, "sample", out, "--max-bytes", "0", "--out", "x.npy",
          words=("--max-bytes 0 is not allowed",))


def test_samples_streamed_to_npy_equal_the_ones_drawn_at_once(digits_run, capsys, tmp_path, monkeypatch):
    """The .npy is filled chunk by chunk as the samples are drawn; they are those of
    vaelab.latent.sample for the seed, and a draw of one chunk is the start of a longer one."""
    from vaelab.latent.sampling import CHUNK

    out, _ = digits_run("vae", "mlp")
    n = 2 * CHUNK + 300
    code, _, err = run(capsys, "sample", out, "-n", n, "--seed", 3, "--out", "big.npy")
    assert code == 0 and err == ""  # no progress bar into a file or a pipe
    big = np.load(tmp_path / "big.npy")
    at_once = vaelab.latent.sample(vaelab.load(out), n, generator=torch.Generator().manual_seed(3)).numpy()
    np.testing.assert_array_equal(big, at_once)
    assert run(capsys, "sample", out, "-n", CHUNK, "--seed", 3, "--out", "one.npy")[0] == 0
    np.testing.assert_array_equal(np.load(tmp_path / "one.npy"), big[:CHUNK])
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal gets a progress bar
    code, _, err = run(capsys, "sample", out, "-n", n, "--seed", 3, "--out", "again.npy")
    assert code == 0 and "sampling" in err and "rows" in err
    np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), big)


def test_table_samples_streamed_to_csv_equal_the_npy(table_run, capsys, tmp_path):
    out, _, _ = table_run
    for name in ("s.csv", "s.npy"):
        assert run(capsys, "sample", out, "-n", 1500, "--seed", 1, "--out", name)[0] == 0
    header, rows = read_csv(tmp_path / "s.csv")
    assert header == ["a", "b", "c"] and len(rows) == 1500
    np.testing.assert_allclose(np.array(rows, dtype=np.float32), np.load(tmp_path / "s.npy"), rtol=1e-5)


def test_interpolate_traverse_and_decode_check_their_size_first(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "mlp")
    fails(capsys, "interpolate", out, "--from", 0, "--to", 1, "--steps", 10_000_000, "--out", "i.npy",
          words=("--steps 10000000 is not allowed", "about 2.38 GiB", "--max-bytes 3G"))
    fails(capsys, "traverse", out, "--index", 0, "--steps", 10_000_000, "--out", "t.npy",
          words=("--steps 10000000 is not allowed", "20,000,000 examples", "about 4.77 GiB"))
    fails(capsys, "traverse", out, "--index", 0, "--steps", 2000, "--out", "t.png",
          words=("--steps 2000 is not allowed", "a PNG of 4,000 images"))
    np.save(tmp_path / "z.npy", np.zeros((3000, 2), np.float32))
    fails(capsys, "decode", out, "--latents", "z.npy", "--out", "d.png",
          words=("--latents z.npy is not allowed", "a PNG of 3,000 images", "--out FILE.npy"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.npy"]


def test_reconstruct_png_and_npy(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    code, _, _ = run(capsys, "reconstruct", out, "--out", "r.png")
    assert code == 0 and is_png(tmp_path / "r.png")

    code, text, _ = run(capsys, "reconstruct", out, "--out", "r.npy", "-n", 5)
    assert code == 0
    r = np.load(tmp_path / "r.npy")
    assert r.shape == (5, 1, 8, 8) and r.min() >= 0 and r.max() <= 16
    # The rows are the first 5 of the test split; the reported error is theirs.
    x = load_dataset("digits").x_test[:5]
    assert f"wrote 5 reconstructions to r.npy (RMSE {np.sqrt(np.mean((r - x) ** 2)):.4g}" in text

    code, _, _ = run(capsys, "reconstruct", out, "--out", "all.npy", "-n", 0)
    assert code == 0 and np.load(tmp_path / "all.npy").shape == (360, 1, 8, 8)


# -- a user's file given to a run (issue 17, item 14) -----------------------------------------------


def test_a_users_file_is_used_whole_and_the_runs_own_data_by_its_test_split(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    np.save(tmp_path / "my20.npy", load_dataset("digits").x_test[:20])  # (20, 1, 8, 8)
    code, text, err = run(capsys, "reconstruct", out, "--data", "my20.npy", "--out", "r.npy")
    assert code == 0 and err == "" and "wrote 20 reconstructions" in text
    assert np.load(tmp_path / "r.npy").shape == (20, 1, 8, 8)
    code, text, _ = run(capsys, "reconstruct", out, "--data", "my20.npy", "--split", "test", "--out", "r.npy")
    assert code == 0 and "wrote 4 reconstructions" in text  # the file's own seeded test split
    for data in ([], ["--data", "digits"]):  # the run's own data, named or not: its test rows
        code, text, _ = run(capsys, "reconstruct", out, *data, "-n", 0, "--out", "r.npy")
        assert code == 0 and "wrote 360 reconstructions" in text
    with pytest.raises(SystemExit):
        run(capsys, "reconstruct", "--help")
    assert "all for other --data" in " ".join(capsys.readouterr().out.split())


def test_data_in_other_units_than_the_training_data_is_warned_about(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    x = load_dataset("digits").x_test[:20]  # grey levels 0..16
    for name, rows, shown in (("big.npy", x * 62.5, "0..1000"), ("unit.npy", x / 16, "0..1")):
        np.save(tmp_path / name, rows)
        code, _, err = run(capsys, "reconstruct", out, "--data", name, "--out", "r.npy")
        assert code == 0 and err.count("\n") == 1, err
        assert err.startswith(f"warning: --data {name} holds values in {shown}, the model's training data "
                              "(digits) 0..16; if they are in other units, rescale them to 0..16")
    np.save(tmp_path / "same.npy", x)
    assert run(capsys, "encode", out, "--data", "same.npy", "--out", "z.npy")[2] == ""


def test_flat_rows_of_the_image_size_are_read_as_images(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    x = load_dataset("digits").x_test[:20]
    np.save(tmp_path / "images.npy", x)
    np.save(tmp_path / "flat.npy", x.reshape(20, 64))
    with open(tmp_path / "flat.csv", "w") as f:
        f.write(",".join(f"p{i}" for i in range(64)) + "\n")
        f.writelines(",".join(f"{v:g}" for v in row) + "\n" for row in x.reshape(20, 64))
    for name in ("images", "flat"):
        assert run(capsys, "reconstruct", out, "--data", f"{name}.npy", "--out", f"{name}.r.npy")[0] == 0
    assert run(capsys, "reconstruct", out, "--data", "flat.csv", "--out", "csv.r.npy")[0] == 0
    expected = np.load(tmp_path / "images.r.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "flat.r.npy"), expected)
    np.testing.assert_array_equal(np.load(tmp_path / "csv.r.npy"), expected)
    np.save(tmp_path / "wrong.npy", x.reshape(20, 64)[:, :63])
    fails(capsys, "reconstruct", out, "--data", "wrong.npy", "--out", "r.npy",
          words=("--data wrong.npy: rows have shape (63,), the model was trained on (1, 8, 8)",
                 "allowed: rows of (1, 8, 8) or (8, 8) images, or flat rows of 64 values"))


def test_encode_npy_csv_and_decode_round_trip(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    code, text, _ = run(capsys, "encode", out, "--out", "z.npy")
    assert code == 0 and f"wrote {N_DIGITS} codes of size 2" in text
    z = np.load(tmp_path / "z.npy")
    assert z.shape == (N_DIGITS, 2) and np.isfinite(z).all() and z.std() > 0

    assert run(capsys, "encode", out, "--out", "z.csv")[0] == 0
    header, rows = read_csv(tmp_path / "z.csv")
    assert header == ["z0", "z1", "label"] and len(rows) == N_DIGITS
    np.testing.assert_allclose(np.array([r[:2] for r in rows], dtype=float), z, rtol=1e-5,
                               atol=1e-6)
    _, y = load_dataset("digits").split("all")
    assert [r[2] for r in rows] == [str(v) for v in y]  # file order, class names

    code, text, _ = run(capsys, "decode", out, "--latents", "z.npy", "--out", "d.npy")
    assert code == 0 and f"decoded {N_DIGITS} codes to d.npy" in text
    d = np.load(tmp_path / "d.npy")
    assert d.shape == (N_DIGITS, 1, 8, 8) and d.min() >= 0 and d.max() <= 16
    # decode(encode(x)) is the reconstruction: built-ins list train rows then test rows.
    assert run(capsys, "reconstruct", out, "--out", "r.npy", "-n", 5)[0] == 0
    np.testing.assert_allclose(d[1437:1442], np.load(tmp_path / "r.npy"), atol=1e-4)

    # The CSV written by encode is a valid --latents file too (the label column is ignored).
    assert run(capsys, "decode", out, "--latents", "z.csv", "--out", "d2.npy")[0] == 0
    np.testing.assert_allclose(np.load(tmp_path / "d2.npy"), d, atol=1e-3)

    assert run(capsys, "decode", out, "--latents", "z.npy", "--out", "d.png")[0] == 0
    assert is_png(tmp_path / "d.png")


def test_decode_wrong_width_names_the_expected_shape(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    np.save(tmp_path / "z3.npy", np.zeros((4, 3), dtype=np.float32))
    fails(capsys, "decode", out, "--latents", "z3.npy", "--out", "d.npy",
          words=("z3.npy", "(4, 3)", "(N, 2)"))
    np.save(tmp_path / "nan.npy", np.full((4, 2), np.nan, dtype=np.float32))
    fails(capsys, "decode", out, "--latents", "nan.npy", "--out", "d.npy",
          words=("nan.npy", "NaN or infinite"))
    fails(capsys, "decode", out, "--latents", "none.npy", "--out", "d.npy",
          words=("--latents none.npy", "does not exist"))
    (tmp_path / "z.csv").write_text("a,b\n1,2\n")
    fails(capsys, "decode", out, "--latents", "z.csv", "--out", "d.npy",
          words=("z.csv", "z0..z1", "'a', 'b'"))
    (tmp_path / "z.csv").write_text("z0,z1\n1,2\n3,x\n")
    fails(capsys, "decode", out, "--latents", "z.csv", "--out", "d.npy",
          words=("z.csv", "non-number"))
    assert not (tmp_path / "d.npy").exists()


def test_table_sample_csv_has_the_column_names(table_run, capsys, tmp_path):
    out, _, _ = table_run
    assert run(capsys, "sample", out, "-n", 9, "--out", "s.csv")[0] == 0
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "a,b,c" and len(lines) == 1 + 9
    values = np.array([line.split(",") for line in lines[1:]], dtype=float)
    assert values.shape == (9, 3) and np.isfinite(values).all()
    assert 20 < values[:, 1].mean() < 80  # column b comes back in its own units (mean 50)


def test_table_encode_rows_line_up_with_the_file(table_run, capsys, tmp_path):
    out, _, kinds = table_run
    assert run(capsys, "encode", out, "--out", "z.csv")[0] == 0
    header, rows = read_csv(tmp_path / "z.csv")
    assert header == ["z0", "z1", "label"]
    assert [r[2] for r in rows] == kinds  # N rows in file order, labels as the file's strings
    assert run(capsys, "encode", out, "--out", "z.npy")[0] == 0
    z = np.load(tmp_path / "z.npy")
    assert z.shape == (60, 2)
    np.testing.assert_allclose(np.array([r[:2] for r in rows], dtype=float), z, rtol=1e-5,
                               atol=1e-6)


def test_table_reconstruct_csv(table_run, capsys, tmp_path):
    out, path, _ = table_run
    assert run(capsys, "reconstruct", out, "--out", "r.csv")[0] == 0
    header, rows = read_csv(tmp_path / "r.csv")
    n_test = len(load_dataset(path, label_column="kind").x_test)
    assert header == ["a", "b", "c"] and len(rows) == n_test == 12


def test_table_png_output_is_refused(table_run, capsys, tmp_path):
    out, _, _ = table_run
    fails(capsys, "sample", out, "--out", "s.png",
          words=("--out s.png", "PNG output needs image or music data", ".csv or .npy"))
    fails(capsys, "reconstruct", out, "--out", "r.png",
          words=("--out r.png", "PNG output needs image or music data", ".csv or .npy"))
    assert not (tmp_path / "s.png").exists() and not (tmp_path / "r.png").exists()


def test_run_command_errors(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    fails(capsys, "sample", out, "--out", "x.gif",
          words=("--out x.gif", "'.gif'", ".png, .npy, .csv"))
    fails(capsys, "sample", out, "--out", "x.csv",
          words=("--out x.csv", "CSV output needs table data", ".png or .npy"))
    fails(capsys, "encode", out, "--out", "z.png", words=("--out z.png", ".npy, .csv"))
    fails(capsys, "reconstruct", out, "--out", "r.npy", "--data", "missing.csv",
          words=("missing.csv", "neither an existing file"))
    for command in ("sample", "reconstruct", "encode", "decode", "info"):
        extra = {"info": [], "decode": ["--latents", "z.npy", "--out", "x.npy"]}
        fails(capsys, command, "no-such-run", *extra.get(command, ["--out", "x.npy"]),
              words=("run directory no-such-run does not exist",))
    (tmp_path / "empty").mkdir()
    fails(capsys, "info", "empty",
          words=("empty/config.json is missing", "not a vaelab run directory"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_reconstruct_on_data_of_another_shape(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    np.savez(tmp_path / "big.npz", x=np.zeros((10, 1, 12, 12), dtype=np.float32))
    fails(capsys, "reconstruct", out, "--data", "big.npz", "--out", "r.npy",
          words=("big.npz", "(1, 12, 12)", "(1, 8, 8)"))


def test_damaged_run_files_are_named(digits_run, capsys, tmp_path):
    run_dir = copy_run(digits_run("vae", "conv")[0], tmp_path / "r")
    weights = run_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    for argv in (["info", "r"], ["sample", "r", "--out", "x.npy"]):
        fails(capsys, *argv, words=("r/model.safetensors", "damaged, truncated or replaced",
                                    "r/manifest.json"))
    # A run written before manifests (vaelab 0.2): each file's own checks speak.
    (run_dir / "manifest.json").unlink()
    fails(capsys, "info", "r", words=("r/model.safetensors", "damaged or truncated"))

    config = run_dir / "config.json"
    good = config.read_text()
    config.write_text(good[: len(good) // 2])
    fails(capsys, "info", "r", words=("r/config.json", "damaged or truncated"))
    raw = json.loads(good)
    raw["model"]["bogus"] = 1
    config.write_text(json.dumps(raw))
    fails(capsys, "info", "r", words=("r/config.json", "unknown keys ['bogus']"))
    raw = json.loads(good)
    raw["model"]["model"] = "gan"
    config.write_text(json.dumps(raw))
    fails(capsys, "info", "r", words=("r/config.json", "'gan'", "ae, vae"))
    raw = json.loads(good)
    raw["model"]["latent_dim"] = 3
    config.write_text(json.dumps(raw))
    shutil.copy(digits_run("vae", "conv")[0] / "model.safetensors", weights)
    fails(capsys, "info", "r", words=("r/model.safetensors does not match r/config.json",
                                      "the config builds"))
    (tmp_path / "afile").write_text("not a run")
    fails(capsys, "info", "afile", words=("afile is a file, not a run directory",))

    config.write_text(good)
    metrics_file = run_dir / "metrics.jsonl"
    metrics_file.write_text(metrics_file.read_text() + "{oops\n")
    fails(capsys, "info", "r", words=("r/metrics.jsonl line 3 is not JSON",))


def test_outputs_respect_the_umask(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    old = os.umask(0o022)
    try:
        assert run(capsys, "sample", out, "-n", 2, "--out", "x.npy")[0] == 0
    finally:
        os.umask(old)
    assert (tmp_path / "x.npy").stat().st_mode & 0o777 == 0o644


# -- sample --sampler gmm ----------------------------------------------------------------------

def test_ae_samples_from_a_gmm_that_is_cached_and_reused(copy, capsys, tmp_path, fits):
    ae = copy("ae")
    cache = ae / "gmm.safetensors"
    code, out, _ = run(capsys, "sample", ae, "--sampler", "gmm", "-n", 12, "--out", "a.npy")
    assert code == 0 and "wrote 12 samples to a.npy" in out and "cached in" in out
    x = np.load(tmp_path / "a.npy")
    assert x.shape == (12, 1, 8, 8) and x.min() >= 0 and x.max() <= 16 and x.std() > 0
    assert cache.is_file() and fits == [10] and len(load_gmm(cache).weights) == 10
    stamp = cache.stat().st_mtime_ns

    code, out, _ = run(capsys, "sample", ae, "--sampler", "gmm", "-n", 4, "--out", "b.png")
    assert code == 0 and (tmp_path / "b.png").read_bytes()[:8] == PNG_MAGIC
    assert fits == [10] and cache.stat().st_mtime_ns == stamp  # reused, not refitted
    assert f"the 10-component GMM in {cache}" in out

    assert run(capsys, "sample", ae, "--sampler", "gmm", "--components", 3, "--out", "c.npy")[0] == 0
    assert fits == [10, 3] and len(load_gmm(cache).weights) == 3  # refitted with the new K


def test_gmm_is_refitted_after_the_model_is_trained_again(copy, capsys, fits):
    ae = copy("ae")
    assert run(capsys, "sample", ae, "--sampler", "gmm", "--out", "a.npy")[0] == 0
    retrained = vaelab.load(ae)  # the run trained on: other weights, so the cache is stale
    with torch.no_grad():
        next(retrained.parameters()).add_(0.01)
    rd = vaelab.RunDir(ae)
    rd.commit({rd.WEIGHTS: rd.weights_bytes(retrained.state_dict())})
    assert (ae / "gmm.safetensors").exists()  # still there, but fitted to the codes of other weights
    assert run(capsys, "sample", ae, "--sampler", "gmm", "--out", "b.npy")[0] == 0
    assert fits == [10, 10]
    assert run(capsys, "sample", ae, "--sampler", "gmm", "--out", "c.npy")[0] == 0
    assert fits == [10, 10]  # the new cache is fresh again


def distinct(x: np.ndarray, tol: float = 0.02) -> int:
    """How many different images (N, ...) there are, up to ``tol`` in every pixel."""
    kept: list[np.ndarray] = []
    for row in x.reshape(len(x), -1):
        if not any(np.abs(row - k).max() < tol for k in kept):
            kept.append(row)
    return len(kept)


def test_same_seed_same_samples_and_temperature_is_used(copy, capsys, tmp_path):
    ae = copy("ae")
    for name, seed, temperature in (("a", 3, 1), ("b", 3, 1), ("c", 4, 1), ("cold", 3, 1e-4)):
        argv = ("sample", ae, "--sampler", "gmm", "--components", 4, "-n", 40, "--seed", seed,
                "--temperature", temperature, "--out", f"{name}.npy")
        assert run(capsys, *argv)[0] == 0
    a, b, c, cold = (np.load(tmp_path / f"{n}.npy") for n in ("a", "b", "c", "cold"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # Near temperature 0 every draw sits on one of the 4 component means: at most 4 distinct images.
    assert distinct(cold) <= 4 < distinct(a)


def test_vae_samples_from_its_prior_or_a_gmm(copy, capsys, tmp_path):
    vae = copy("vae")
    for name, extra in (("prior", ()), ("gmm", ("--sampler", "gmm")), ("warm", ("--temperature", 2))):
        assert run(capsys, "sample", vae, "-n", 30, *extra, "--out", f"{name}.npy")[0] == 0
    prior, gmm, warm = (np.load(tmp_path / f"{n}.npy") for n in ("prior", "gmm", "warm"))
    assert prior.shape == gmm.shape == warm.shape == (30, 1, 8, 8)
    assert not np.allclose(prior, gmm) and not np.allclose(prior, warm)
    assert (vae / "gmm.safetensors").is_file()


def test_sample_errors(copy, capsys, tmp_path):
    ae = copy("ae")
    fails(capsys, "sample", ae, "--out", "x.npy",
          words=("AE", "cannot sample", "--sampler gmm", "--model vae"))
    for t in ("0", "-1", "nan"):
        fails(capsys, "sample", ae, "--sampler", "gmm", "--temperature", t, "--out", "x.npy",
              words=(f"--temperature {t}", "> 0"))
    fails(capsys, "sample", ae, "--components", 3, "--out", "x.npy",
          words=("--components", "--sampler gmm"))
    fails(capsys, "sample", ae, "--sampler", "gmm", "--components", 0, "--out", "x.npy",
          words=("--components 0", "at least 1"))
    fails(capsys, "sample", ae, "--sampler", "gmm", "--components", 5000, "--out", "x.npy",
          words=("--components 5000", "at most 1437"))
    assert not (tmp_path / "x.npy").exists() and not (ae / "gmm.safetensors").exists()


@pytest.mark.parametrize("content", ["garbage", "wrong keys", "wrong keys, right stamp"])
def test_damaged_gmm_cache_is_fitted_again(copy, capsys, tmp_path, content):
    ae = copy("ae")
    cache = ae / "gmm.safetensors"
    if content == "garbage":
        cache.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    else:
        stamp = {"weights": vaelab.RunDir(ae).weights_id(), "format": "vaelab.GMMSampler"}
        save_file({"means": np.zeros((2, 3))}, str(cache), metadata=stamp if "stamp" in content else None)
    # A cache is derived data: one that cannot be read is fitted again and replaced, not an error.
    assert run(capsys, "sample", ae, "--sampler", "gmm", "--out", "x.npy")[0] == 0
    assert vaelab.latent.samplers.load_gmm(cache).latent_dim == vaelab.load(ae).config.latent_dim


def test_info_says_which_derived_files_are_stale_and_who_writes(copy, capsys):
    ae = copy("ae")
    assert run(capsys, "sample", ae, "--sampler", "gmm", "-n", "2", "--out", "a.npy")[0] == 0
    assert run(capsys, "report", ae)[0] == 0
    code, out, _ = run(capsys, "info", ae)
    assert code == 0 and "derived    gmm.safetensors, report.html: of these weights" in out
    assert "stale" not in out and "writer" not in out
    model = vaelab.load(ae)
    assert f"SHA-256 {model.weights_id[:12]}" in out
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    rd = vaelab.RunDir(ae)
    with rd.writing():
        rd.commit({rd.WEIGHTS: rd.weights_bytes(model.state_dict())})  # as an epoch of training would
        code, out, _ = run(capsys, "info", ae)
    assert "stale      report.html: made from other weights; vaelab report makes it again" in out
    assert "stale      gmm.safetensors" in out
    assert f"writer     process {os.getpid()} (" in out
    info = json.loads(run(capsys, "info", ae, "--json")[1])
    assert info["derived"]["report.html"]["fresh"] is False and info["writer"] is None
