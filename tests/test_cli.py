"""End-to-end tests of the ``vaelab`` command line: every command on digits and on tiny files the
tests write, resume and Ctrl-C, and every error path with its message.

The CLI is called in-process through ``vaelab.cli.main(argv)``; one test runs the installed
console script in a subprocess. Models are tiny (latent 2, one hidden layer of 16, 4 channels) and
train for 1-2 epochs, so the whole file runs in seconds on a CPU.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import vaelab
import vaelab.run
import vaelab.training
from vaelab.cli import main

from cli_helpers import fails, is_png, isolated, one_thread, run  # noqa: F401  (fixtures)
from vaelab.data import load_dataset, write_idx

TINY = ["--latent-dim", "2", "--hidden", "16", "--channels", "4", "--quiet"]
EPOCH_KEYS = {"epoch", "step", "train_loss", "train_rec", "train_kl", "val_loss", "seconds",
              "samples_per_s"}
N_DIGITS = 1797


# -- helpers -------------------------------------------------------------------------------------


def quietly(*argv) -> int:
    """Call the CLI with its output swallowed (for module-scoped fixtures, which have no capsys)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main([str(a) for a in argv])


def train_seeded(*argv) -> int:
    """Train quietly; --seed (default 0) fixes the initial weights, so two calls start alike."""
    return quietly("train", *argv)


def metrics(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file()}


def weights_equal(a: Path, b: Path) -> bool:
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def write_table(path: Path, n: int = 60, seed: int = 0) -> list[str]:
    """A CSV with numeric columns a, b, c and a text label column 'kind'; returns the labels."""
    rng = np.random.default_rng(seed)
    kinds = ["red" if i % 3 else "blue" for i in range(n)]
    x = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "b", "kind", "c"])
        for row, kind in zip(x, kinds, strict=True):
            writer.writerow([f"{row[0]:.5f}", f"{row[1]:.5f}", kind, f"{row[2]:.5f}"])
    return kinds


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """Factory: the run directory of a 2-epoch digits model (model, arch), trained once per module
    with figures. Tests that change a run copy it first."""
    root = tmp_path_factory.mktemp("digits-runs")
    cache: dict[tuple[str, str], tuple[Path, str]] = {}

    def get(model: str = "vae", arch: str = "conv") -> tuple[Path, str]:
        if (model, arch) not in cache:
            out = root / f"{model}-{arch}"
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                code = main(["train", "--data", "digits", "--model", model, "--arch", arch,
                             "--epochs", "2", *TINY, "--out", str(out)])
            assert code == 0
            cache[model, arch] = (out, stdout.getvalue())
        return cache[model, arch]

    return get


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """A 2-epoch VAE on a 60-row CSV (columns a, b, kind, c; label column 'kind')."""
    root = tmp_path_factory.mktemp("table")
    kinds = write_table(root / "table.csv")
    out = root / "run"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["train", "--data", str(root / "table.csv"), "--label-column", "kind",
                     "--epochs", "2", "--latent-dim", "2", "--hidden", "8", "--quiet",
                     "--out", str(out)])
    assert code == 0
    return out, root / "table.csv", kinds


def copy_run(run_dir: Path, dest: Path) -> Path:
    shutil.copytree(run_dir, dest)
    return dest


# -- 1. train on digits ----------------------------------------------------------------------


@pytest.mark.parametrize("model", ["vae", "ae"])
@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_train_digits_writes_a_complete_run_directory(digits_run, model, arch):
    out, stdout = digits_run(model, arch)
    assert f"training {model} ({arch}, bernoulli" in stdout
    assert f"run directory: {out}" in stdout

    config = json.loads((out / "config.json").read_text())
    assert config["vaelab_version"] == vaelab.__version__
    assert config["model"]["model"] == model and config["model"]["arch"] == arch
    assert config["model"]["latent_dim"] == 2 and config["model"]["hidden"] == [16]
    assert config["model"]["likelihood"] == "bernoulli"  # auto for images
    assert config["model"]["input_shape"] == [1, 8, 8]
    assert config["data"]["spec"] == "digits" and config["train"]["epochs"] == 2
    assert config["data_info"]["value_range"] == [0.0, 16.0]

    weights = load_file(str(out / "model.safetensors"))
    assert weights and all(torch.isfinite(t).all() for t in weights.values())
    state = torch.load(out / "trainer_state.pt", weights_only=True)
    assert state["epoch"] == 2

    records = metrics(out)
    assert [r["epoch"] for r in records] == [1, 2]
    for r in records:
        assert EPOCH_KEYS <= set(r), EPOCH_KEYS - set(r)
        assert all(math.isfinite(r[k]) for k in EPOCH_KEYS)
        assert r["seconds"] > 0 and r["samples_per_s"] > 0
        if model == "ae":  # no KL term: the loss is the reconstruction alone
            assert r["train_kl"] == 0 and r["train_loss"] == pytest.approx(r["train_rec"])
        else:
            assert r["train_kl"] > 0
    assert records[0]["step"] > 0 and records[1]["step"] == 2 * records[0]["step"]

    figures = out / "figures"
    assert is_png(figures / "curves.png") and is_png(figures / "reconstructions.png")
    assert is_png(figures / "samples.png") == (model == "vae")  # an AE cannot sample


def test_train_default_out_is_numbered_under_runs(capsys, tmp_path):
    args = ("train", "--data", "digits", "--model", "ae", "--arch", "mlp", "--epochs", "1", *TINY,
            "--no-figures")
    code, out, _ = run(capsys, *args)
    assert code == 0 and "run directory: runs/digits-ae\n" in out
    code, out, _ = run(capsys, *args)  # a second run never replaces the first
    assert code == 0 and "run directory: runs/digits-ae-2\n" in out
    assert len(metrics(tmp_path / "runs" / "digits-ae")) == 1
    assert len(metrics(tmp_path / "runs" / "digits-ae-2")) == 1
    assert not (tmp_path / "runs" / "digits-ae" / "figures").exists()  # --no-figures


# -- 2. info ---------------------------------------------------------------------------------


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


# -- 3. sample -------------------------------------------------------------------------------


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


# -- 4. reconstruct, encode, decode ----------------------------------------------------------


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


# -- 5. tables -------------------------------------------------------------------------------


def test_table_run_defaults_to_mlp_and_gaussian(table_run):
    out, _, _ = table_run
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["arch"] == "mlp" and config["model"]["likelihood"] == "gaussian"
    assert config["model"]["input_shape"] == [3]  # the label column is not a feature
    assert config["data"]["label_column"] == "kind"
    assert config["data_info"]["columns"] == ["a", "b", "c"]
    assert config["data_info"]["classes"] == ["blue", "red"]
    header, rows = read_csv(out / "samples.csv")  # tables: samples as CSV instead of a picture
    assert header == ["a", "b", "c"] and len(rows) == 100
    assert is_png(out / "figures" / "curves.png")
    assert not (out / "figures" / "samples.png").exists()


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


# -- 6. other inputs -------------------------------------------------------------------------


def _idx(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 8, 8), dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte", (np.arange(20) % 2).astype(np.uint8))
    return [str(tmp_path / "train-images-idx3-ubyte")]


def _npz(tmp_path: Path) -> list[str]:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tiny.npz", x=rng.random((20, 1, 8, 8), dtype=np.float32),
             y=np.arange(20) % 2)
    return [str(tmp_path / "tiny.npz")]


def _folder(tmp_path: Path) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "pics" / cls).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)  # H 10, W 12, RGB
            Image.fromarray(pixels).save(tmp_path / "pics" / cls / f"{i}.png")
    return [str(tmp_path / "pics"), "--image-size", "8"]


@pytest.mark.parametrize("make, n, shape, classes", [
    (_idx, 20, [1, 8, 8], ["0", "1"]),
    (_npz, 20, [1, 8, 8], ["0", "1"]),
    (_folder, 12, [3, 8, 8], ["cats", "dogs"]),
], ids=["idx", "npz", "image-folder"])
def test_train_on_other_inputs(capsys, tmp_path, make, n, shape, classes):
    data = make(tmp_path)
    code, _, err = run(capsys, "train", "--data", *data, "--arch", "conv", "--epochs", 1, *TINY,
                       "--no-figures", "--out", "run")
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["arch"] == "conv" and config["model"]["input_shape"] == shape
    assert config["data"]["spec"] == data[0]
    assert config["data_info"]["classes"] == classes
    assert [r["epoch"] for r in metrics(tmp_path / "run")] == [1]
    assert not (tmp_path / "run" / "figures").exists()
    # Later commands find the data through the run: encode keeps every row.
    assert run(capsys, "encode", "run", "--out", "z.npy")[0] == 0
    assert np.load(tmp_path / "z.npy").shape == (n, 2)


# -- 7. resume, overwrite --------------------------------------------------------------------

RESUME = ["--data", "digits", "--arch", "mlp", *TINY, "--no-figures"]


def test_resume_ends_where_an_uninterrupted_run_ends(capsys, tmp_path):
    assert train_seeded(*RESUME, "--epochs", 2, "--out", "a") == 0
    assert len(metrics(tmp_path / "a")) == 2
    code, out, _ = run(capsys, "train", "--resume", "--out", "a", "--epochs", 4, "--quiet")
    assert code == 0 and "epoch 4:" in out
    assert train_seeded(*RESUME, "--epochs", 4, "--out", "b") == 0

    resumed, straight = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert [r["epoch"] for r in resumed] == [1, 2, 3, 4]
    assert [r["step"] for r in resumed] == [r["step"] for r in straight]
    assert [r["train_loss"] for r in resumed] == [r["train_loss"] for r in straight]
    assert weights_equal(tmp_path / "a", tmp_path / "b")
    assert json.loads((tmp_path / "a" / "config.json").read_text())["train"]["epochs"] == 4


def test_resume_refuses_to_change_the_model(capsys, tmp_path):
    assert train_seeded(*RESUME, "--epochs", 1, "--out", "a") == 0
    before = snapshot(tmp_path / "a")
    fails(capsys, "train", "--resume", "--out", "a", "--epochs", 2, "--latent-dim", 3,
          words=("--latent-dim", "--epochs", "a"))
    fails(capsys, "train", "--resume", "--out", "a", "--data", "digits", words=("--data",))
    fails(capsys, "train", "--resume", "--out", "a", "--batch-size", "32", words=("--batch-size",))
    fails(capsys, "train", "--resume", "--out", "a", "--label-column", "kind",
          words=("--label-column",))
    assert snapshot(tmp_path / "a") == before


def test_resume_refusal_names_the_flag_as_typed(capsys, tmp_path):
    assert train_seeded(*RESUME, "--epochs", 1, "--out", "a") == 0
    fails(capsys, "train", "--resume", "--out", "a", "--latent-dim", 3, words=("--latent-dim",))


def test_resume_refuses_changed_data(capsys, tmp_path):
    write_table(tmp_path / "t.csv")
    args = ["--data", "t.csv", "--label-column", "kind", "--latent-dim", 2, "--hidden", 8,
            "--quiet", "--no-figures"]
    assert run(capsys, "train", *args, "--epochs", 1, "--out", "a")[0] == 0
    write_table(tmp_path / "t.csv", seed=1)  # same shape, other values
    before = snapshot(tmp_path / "a")
    fails(capsys, "train", "--resume", "--out", "a", "--epochs", 2,
          words=("a: the data differ", "start a new run"))
    assert snapshot(tmp_path / "a") == before


def test_resume_needs_an_existing_run(capsys, tmp_path):
    fails(capsys, "train", "--resume", "--epochs", 2, words=("--resume needs --out RUN",))
    fails(capsys, "train", "--resume", "--out", "nowhere",
          words=("run directory nowhere does not exist",))
    assert not (tmp_path / "nowhere").exists()


def test_existing_run_is_kept_unless_overwrite(capsys, tmp_path):
    assert train_seeded(*RESUME, "--epochs", 1, "--out", "a") == 0
    before = snapshot(tmp_path / "a")
    fails(capsys, "train", *RESUME, "--epochs", 1, "--out", "a",
          words=("a already holds a run", "--resume", "--overwrite"))
    assert snapshot(tmp_path / "a") == before

    code, _, _ = run(capsys, "train", *RESUME, "--epochs", 2, "--latent-dim", 3, "--out", "a",
                     "--overwrite")
    assert code == 0
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["model"]["latent_dim"] == 3 and config["train"]["epochs"] == 2
    assert [r["epoch"] for r in metrics(tmp_path / "a")] == [1, 2]
    assert vaelab.load(tmp_path / "a").config.latent_dim == 3


def test_overwrite_leaves_no_files_of_the_old_run(digits_run, capsys, tmp_path):
    old, _ = digits_run("vae", "mlp")
    copy_run(old, tmp_path / "a")
    assert (tmp_path / "a" / "figures" / "samples.png").exists()
    code, _, _ = run(capsys, "train", "--data", "digits", "--model", "ae", "--arch", "mlp",
                     "--epochs", 1, *TINY, "--out", "a", "--overwrite")
    assert code == 0
    assert not (tmp_path / "a" / "figures" / "samples.png").exists()  # an AE cannot sample


def test_same_seed_gives_the_same_model(capsys, tmp_path):
    for out in ("a", "b"):
        assert run(capsys, "train", *RESUME, "--epochs", 1, "--seed", 7, "--out", out)[0] == 0
    assert weights_equal(tmp_path / "a", tmp_path / "b")


# -- 8. error paths --------------------------------------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["--data", "nope"], ("nope", "neither an existing file", "built-ins: chorales, digits")),
    (["--data", "missing.csv"], ("missing.csv", "neither an existing file or folder")),
    (["--model", "nope"], ("'nope'", "ae, vae")),
    (["--arch", "nope"], ("--arch 'nope'", "conv", "mlp")),
    (["--data", "table.csv", "--label-column", "kind", "--arch", "conv"],
     ("--arch 'conv'", "(C, H, W)", "arch='mlp'")),
    (["--binarize", "dynamic", "--likelihood", "gaussian"],
     ("--binarize 'dynamic'", "bernoulli", "'gaussian'")),
    (["--epochs", "0"], ("--epochs 0", "positive integer")),
    (["--precision", "fp8"], ("--precision 'fp8'", "float32, bfloat16")),
    (["--lr", "-1"], ("--lr -1.0", "> 0")),
    (["--data", "pics", "--image-size", "8,8,8"], ("image_size=(8, 8, 8)", "HEIGHT,WIDTH")),
    (["--data", "digits", "--label-column", "kind"], ("label_column='kind'", "CSV files")),
    (["--data", "table.csv", "--label-column", "colour"],
     ("table.csv", "'colour' not found", "a, b, kind, c")),
    (["--data", "bad.csv"], ("bad.csv", "column 'b' line 3", "'oops'", "not a number")),
    (["--data", "table.csv", "--label-column", "kind", "--val-fraction", "0.999"],
     ("val_fraction=0.999", "no training")),
    pytest.param(["--device", "cuda"], ("device='cuda'", "not available", "auto or cpu"),
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")),
], ids=["unknown-data", "missing-file", "model", "arch", "conv-on-table", "binarize", "epochs",
        "precision", "lr", "image-size", "label-column-on-builtin", "unknown-label-column",
        "non-numeric-cell", "val-fraction", "device"])
def test_train_errors(capsys, tmp_path, argv, words):
    write_table(tmp_path / "table.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,oops\n5,6\n")
    epochs = [] if "--epochs" in argv else ["--epochs", "1"]
    fails(capsys, "train", *argv, *epochs, "--quiet", "--no-figures", words=words)
    assert not (tmp_path / "runs").exists()  # a refused train leaves nothing behind


def after_epochs(monkeypatch, epochs_saved: int, fault) -> None:
    """Break training once ``epochs_saved`` epochs are checkpointed: from then on the trainer's
    KL-weight schedule calls ``fault(k)`` (k = 1, 2, ... steps since), which may raise or return
    the weight to use (None: the real one)."""
    real_weight, real_save = vaelab.losses.KLSchedule.__call__, vaelab.run.RunDir.save_trainer_state
    saved, steps = [0], [0]

    def save(*args):
        real_save(*args)
        saved[0] += 1

    def weight_at(schedule, step):
        if saved[0] >= epochs_saved:
            steps[0] += 1
            weight = fault(steps[0])
            if weight is not None:
                return weight
        return real_weight(schedule, step)

    monkeypatch.setattr(vaelab.run.RunDir, "save_trainer_state", save)
    monkeypatch.setattr(vaelab.losses.KLSchedule, "__call__", weight_at)


def test_non_finite_loss_keeps_the_last_good_epoch(capsys, tmp_path, monkeypatch):
    after_epochs(monkeypatch, 1, lambda k: math.nan)  # a NaN KL weight makes the VAE's loss NaN
    fails(capsys, "train", *RESUME, "--epochs", 3, "--out", "a",
          words=("non-finite at epoch 2", "last good checkpoint: epoch 1",
                 "continue with: vaelab train --resume --out a --lr 0.0001 --grad-clip 10"))
    assert [r["epoch"] for r in metrics(tmp_path / "a")] == [1]
    assert torch.load(tmp_path / "a" / "trainer_state.pt", weights_only=True)["epoch"] == 1


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
        fails(capsys, *argv, words=("r/model.safetensors", "damaged or truncated"))

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
    fails(capsys, "info", "r", words=("r/model.safetensors does not match r/config.json",))

    config.write_text(good)
    metrics_file = run_dir / "metrics.jsonl"
    metrics_file.write_text(metrics_file.read_text() + "{oops\n")
    fails(capsys, "info", "r", words=("r/metrics.jsonl line 3 is not JSON",))


def test_damaged_trainer_state_on_resume(digits_run, capsys, tmp_path):
    run_dir = copy_run(digits_run("vae", "mlp")[0], tmp_path / "r")
    (run_dir / "trainer_state.pt").write_bytes(b"not a torch file")
    before = snapshot(run_dir)
    fails(capsys, "train", "--resume", "--out", "r", "--epochs", 3,
          words=("r/trainer_state.pt", "damaged or truncated"))
    assert snapshot(run_dir) == before


def test_usage_errors_exit_2(digits_run, capsys):
    out, _ = digits_run("vae", "conv")
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", str(out)])
    assert exit_info.value.code == 2
    assert "the following arguments are required: --out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--hidden", "16,x"])
    assert exit_info.value.code == 2
    assert "expected comma-separated integers, got '16,x'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["nope"])
    assert exit_info.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err


def test_debug_shows_the_exception(capsys):
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        main(["train", "--debug", "--data", "missing.csv"])


def test_train_out_is_an_existing_file(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    fails(capsys, "train", *RESUME, "--epochs", 1, "--out", "notes.txt", words=("notes.txt",))
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_outputs_respect_the_umask(digits_run, capsys, tmp_path):
    out, _ = digits_run("vae", "conv")
    old = os.umask(0o022)
    try:
        assert run(capsys, "sample", out, "-n", 2, "--out", "x.npy")[0] == 0
    finally:
        os.umask(old)
    assert (tmp_path / "x.npy").stat().st_mode & 0o777 == 0o644


# -- 9. Ctrl-C -------------------------------------------------------------------------------


def ctrl_c_on_third_step(step: int) -> None:
    if step == 3:
        raise KeyboardInterrupt


def resume_command(err: str) -> list[str]:
    """The command the interrupt message tells the user to run, as argv for main()."""
    lines = [line.strip() for line in err.splitlines() if line.strip().startswith("vaelab train")]
    assert len(lines) == 1, err
    return shlex.split(lines[0])[1:]


def test_ctrl_c_keeps_the_last_epoch_and_resume_finishes(capsys, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        after_epochs(patch, 1, ctrl_c_on_third_step)
        torch.manual_seed(1234)
        code, _, err = run(capsys, "train", *RESUME, "--epochs", 3, "--out", "a")
    assert code == 130
    assert "interrupted; a holds 1 completed epoch(s)" in err and "--resume" in err
    assert "Traceback" not in err
    assert [r["epoch"] for r in metrics(tmp_path / "a")] == [1]
    assert torch.load(tmp_path / "a" / "trainer_state.pt", weights_only=True)["epoch"] == 1

    argv = resume_command(err)
    assert argv == ["train", "--resume", "--out", "a"]
    code, out, _ = run(capsys, *argv, "--quiet")
    assert code == 0 and "epoch 3:" in out
    assert [r["epoch"] for r in metrics(tmp_path / "a")] == [1, 2, 3]
    # ... and the result is that of a run that was never interrupted.
    assert train_seeded(*RESUME, "--epochs", 3, "--out", "b") == 0
    assert weights_equal(tmp_path / "a", tmp_path / "b")


def test_ctrl_c_in_the_first_epoch_gives_advice_that_works(capsys, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        after_epochs(patch, 0, ctrl_c_on_third_step)
        code, _, err = run(capsys, "train", *RESUME, "--epochs", 2, "--out", "a")
    assert code == 130 and "nothing to resume" in err and "--overwrite" in err
    fails(capsys, "train", "--resume", "--out", "a", words=("no completed epoch", "--overwrite"))
    code, _, err = run(capsys, "train", *RESUME, "--epochs", 2, "--out", "a", "--overwrite")
    assert code == 0, err
    assert [r["epoch"] for r in metrics(tmp_path / "a")] == [1, 2]


# -- the installed console script ------------------------------------------------------------


def test_console_script_runs_and_errors_cleanly(digits_run, tmp_path):
    script = Path(sys.executable).with_name("vaelab")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "vaelab.cli"]
    out, _ = digits_run("ae", "mlp")
    done = subprocess.run([*command, "info", str(out)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "model      ae, arch mlp, latent 2" in done.stdout and "2/2 epochs" in done.stdout

    done = subprocess.run([*command, "sample", "no-such-run", "--out", "x.npy"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["vaelab: error: run directory no-such-run does not exist"]
    assert done.stdout == ""
