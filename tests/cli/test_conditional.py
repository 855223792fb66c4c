"""vaelab.cli.conditional: cvae and dae runs on the command line: --label, --condition, restyle, denoise."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import fails, is_png, ok

import vaelab
from vaelab import losses, noise
from vaelab.cli import main

TINY = ["--latent-dim", "4", "--hidden", "32", "--device", "cpu", "--quiet"]
N_TEST = 360  # digits: 1797 rows, 20% held out
CSV_ROWS = 200
COLLAPSE = "warning: the KL fell below 0.1 nats at epoch"

#: name -> the train flags of each run the tests use (--data is digits unless given)
RUNS: dict[str, list[str]] = {
    "cvae": ["--model", "cvae", "--epochs", "3"],
    "vae": ["--model", "vae", "--epochs", "3", "--no-figures"],
    "dae": ["--model", "dae", "--epochs", "3"],
    "vae-mask": ["--model", "vae", "--noise", "mask:0.3", "--epochs", "3"],
    "collapsed": ["--model", "vae", "--beta", "50", "--epochs", "5", "--no-figures"],
    "cyclical": ["--kl-schedule", "cyclical", "--kl-cycles", "2", "--kl-ratio", "0.8", "--epochs", "4",
                 "--no-figures"],
    "warmup": ["--kl-warmup", "3", "--epochs", "4", "--no-figures"],
    "cvae-kind": ["--model", "cvae", "--data", "{kind.csv}", "--label-column", "kind", "--epochs", "3",
                  "--no-figures"],
    "cvae-columns": ["--model", "cvae", "--data", "{attributes.csv}", "--condition-columns", "a0,a1",
                     "--epochs", "5"],
    "cvae-numeric": ["--model", "cvae", "--data", "{numeric.csv}", "--label-column", "digit", "--epochs", "1",
                     "--no-figures"],
    "dae-table": ["--model", "dae", "--data", "{plain.csv}", "--epochs", "20", "--batch-size", "16",
                  "--no-figures"],
}


# -- helpers and fixtures ----------------------------------------------------------------------


def write_csvs(root: Path) -> None:
    """Four CSVs of ``CSV_ROWS`` rows in ``root``:

    attributes.csv: features f0..f3 and attributes a0, a1 between them (f0 ~ a0, f1 ~ 2 a1,
        f2 ~ a0 - a1, f3 noise around 5);
    kind.csv: columns x, y and a text label 'kind' (red rows have x shifted by 3);
    plain.csv: four correlated columns p, q, r, s and no labels;
    numeric.csv: columns x, y and a label column 'digit' whose classes are the numbers 3, 5, 7.
    """
    rng = np.random.default_rng(0)
    a = rng.normal(size=(CSV_ROWS, 2))
    eps = 0.1 * rng.normal(size=(CSV_ROWS, 4))
    f = np.column_stack([a[:, 0], 2 * a[:, 1], a[:, 0] - a[:, 1], 5 + 3 * eps[:, 3]]) + eps
    with open(root / "attributes.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["f0", "f1", "a0", "f2", "a1", "f3"])
        for row, attr in zip(f, a, strict=True):
            w.writerow([f"{row[0]:.5f}", f"{row[1]:.5f}", f"{attr[0]:.5f}", f"{row[2]:.5f}", f"{attr[1]:.5f}",
                        f"{row[3]:.5f}"])
    with open(root / "kind.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["x", "y", "kind"])
        for i in range(CSV_ROWS):
            kind = "red" if i % 2 else "blue"
            w.writerow([f"{rng.normal() + (3 if kind == 'red' else 0):.5f}", f"{rng.normal():.5f}", kind])
    with open(root / "plain.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["p", "q", "r", "s"])
        for _ in range(CSV_ROWS):
            z = rng.normal()
            w.writerow([f"{z:.5f}", f"{2 * z + 0.1 * rng.normal():.5f}", f"{-z + 0.1 * rng.normal():.5f}",
                        f"{rng.normal():.5f}"])
    with open(root / "numeric.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["x", "y", "digit"])
        for i in range(CSV_ROWS):
            digit = (3, 5, 7)[i % 3]
            w.writerow([f"{rng.normal() + digit:.5f}", f"{rng.normal():.5f}", digit])


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory) -> Path:
    """The folder holding the module's CSVs (see ``write_csvs``)."""
    root = tmp_path_factory.mktemp("conditional-csv")
    write_csvs(root)
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory, csv_dir):
    """Factory: ``trained(name) -> (run directory, stdout, stderr)`` of the run ``RUNS[name]``,
    trained once per module. Tests that change a run copy it first."""
    root = tmp_path_factory.mktemp("conditional-runs")
    cache: dict[str, tuple[Path, str, str]] = {}

    def get(name: str) -> tuple[Path, str, str]:
        if name not in cache:
            out = root / name
            flags = [re.sub(r"\{(.+)\}", lambda m: str(csv_dir / m.group(1)), f) for f in RUNS[name]]
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(["train", *TINY, *flags, "--out", str(out)])
            assert code == 0, stderr.getvalue()
            cache[name] = (out, stdout.getvalue(), stderr.getvalue())
        return cache[name]

    return get


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def numbers(line: str) -> list[float]:
    """The decimal numbers in a printed line, in order (signs included)."""
    return [float(v) for v in re.findall(r"[-+]?\d+\.\d+", line)]


def line_with(text: str, start: str) -> str:
    found = [line for line in text.splitlines() if line.startswith(start)]
    assert len(found) == 1, text
    return found[0]


def t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


# -- 1. a cvae on digits: every command ----------------------------------------------------------


def test_train_cvae_records_the_labels_and_draws_a_row_per_class(trained):
    out, stdout, _ = trained("cvae")
    assert "training cvae (conv, bernoulli" in stdout
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["model"] == "cvae"
    assert config["model"]["condition"] == "label" and config["model"]["n_conditions"] == 10
    assert config["model"]["noise"] == "none"
    figures = out / "figures"
    assert is_png(figures / "samples.png") and f"{figures / 'samples.png'}" in stdout
    assert not (figures / "denoising.png").exists()  # trained without noise


def test_sample_with_a_label_draws_that_label(trained, capsys, tmp_path):
    out, _, _ = trained("cvae")
    text = ok(capsys, "sample", out, "--label", "3", "-n", "8", "--out", "x.npy")
    assert "wrote 8 samples given 3 to x.npy" in text
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (8, 1, 8, 8) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 16 and x.std() > 0

    model = vaelab.load(out)
    with torch.no_grad():
        expected = vaelab.latent.sample(model, 8, generator=torch.Generator().manual_seed(0),
                                        y=np.full(8, 3)).numpy()
    np.testing.assert_allclose(x, expected, atol=1e-5)
    ok(capsys, "sample", out, "--label", "7", "-n", "8", "--out", "seven.npy")
    assert np.abs(np.load(tmp_path / "seven.npy") - x).max() > 0.1  # same codes, another digit


def test_sample_label_all_draws_n_per_class_in_order(trained, capsys, tmp_path):
    out, _, _ = trained("cvae")
    text = ok(capsys, "sample", out, "--label", "all", "-n", "5", "--out", "grid.npy")
    assert "wrote 50 samples (5 per label)" in text
    grid = np.load(tmp_path / "grid.npy")
    assert grid.shape == (50, 1, 8, 8)
    ok(capsys, "sample", out, "--label", "0", "-n", "5", "--out", "zeros.npy")
    np.testing.assert_array_equal(grid[:5], np.load(tmp_path / "zeros.npy"))  # the first group is label 0

    ok(capsys, "sample", out, "--label", "all", "-n", "5", "--out", "grid.png")
    assert is_png(tmp_path / "grid.png")


def test_a_class_name_works_like_its_id(trained, capsys, tmp_path):
    out, _, _ = trained("cvae-kind")
    classes = json.loads((out / "config.json").read_text())["data_info"]["classes"]
    assert sorted(classes) == ["blue", "red"]
    red = str(classes.index("red"))
    assert "given red" in ok(capsys, "sample", out, "--label", "red", "-n", "6", "--out", "by_name.npy")
    assert "given red" in ok(capsys, "sample", out, "--label", red, "-n", "6", "--out", "by_id.npy")
    by_name = np.load(tmp_path / "by_name.npy")
    assert by_name.shape == (6, 2)
    np.testing.assert_array_equal(by_name, np.load(tmp_path / "by_id.npy"))
    ok(capsys, "sample", out, "--label", "blue", "-n", "6", "--out", "blue.npy")
    assert not np.array_equal(by_name, np.load(tmp_path / "blue.npy"))

    np.save(tmp_path / "codes.npy", np.zeros((2, 4), np.float32))
    ok(capsys, "decode", out, "--latents", "codes.npy", "--label", "red", "--out", "d_name.csv")
    ok(capsys, "decode", out, "--latents", "codes.npy", "--label", red, "--out", "d_id.csv")
    assert (tmp_path / "d_name.csv").read_text() == (tmp_path / "d_id.csv").read_text()
    assert read_csv(tmp_path / "d_name.csv")[0] == ["x", "y"]


def test_numeric_class_names_are_read_as_names(trained, capsys, tmp_path):
    out, _, _ = trained("cvae-numeric")
    assert json.loads((out / "config.json").read_text())["data_info"]["classes"] == ["3", "5", "7"]
    assert "given 5" in ok(capsys, "sample", out, "--label", "5", "-n", "4", "--out", "five.npy")
    model = vaelab.load(out)
    with torch.no_grad():  # the class named 5 has id 1
        expected = vaelab.latent.sample(model, 4, generator=torch.Generator().manual_seed(0),
                                        y=np.full(4, 1)).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "five.npy"), expected, atol=1e-5)


def test_an_id_is_not_mistaken_for_a_numeric_class_name(trained, capsys):
    out, _, _ = trained("cvae-numeric")
    fails(capsys, "sample", out, "--label", "1", "-n", "4", "--out", "x.npy",
          words=("--label", "1", "3", "5", "7"))


def test_decode_with_a_label(trained, capsys, tmp_path):
    out, _, _ = trained("cvae")
    z = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    np.save(tmp_path / "codes.npy", z)
    assert "decoded 6 codes to two.npy" in ok(capsys, "decode", out, "--latents", "codes.npy", "--label", "2",
                                              "--out", "two.npy")
    two = np.load(tmp_path / "two.npy")
    assert two.shape == (6, 1, 8, 8)
    model = vaelab.load(out)
    with torch.no_grad():
        expected = model.decode(t(z), torch.full((6,), 2)).mean.numpy()
    np.testing.assert_allclose(two, expected, atol=1e-5)
    ok(capsys, "decode", out, "--latents", "codes.npy", "--label", "7", "--out", "seven.npy")
    assert np.abs(np.load(tmp_path / "seven.npy") - two).max() > 0.1


def test_reconstruct_and_encode_give_the_model_each_rows_label(trained, digits, capsys, tmp_path):
    out, _, _ = trained("cvae")
    model = vaelab.load(out)
    x, y = digits.x_test, digits.y_test
    ok(capsys, "reconstruct", out, "-n", "10", "--out", "r.npy")
    with torch.no_grad():
        expected = model.reconstruct(t(x[:10]), t(y[:10])).numpy()
        shifted = model.reconstruct(t(x[:10]), t((y[:10] + 1) % 10)).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "r.npy"), expected, atol=1e-5)
    assert np.abs(expected - shifted).max() > 0.1  # so the labels matter
    ok(capsys, "reconstruct", out, "-n", "10", "--out", "r.png")
    assert is_png(tmp_path / "r.png")

    assert f"wrote {N_TEST} codes of size 4" in ok(capsys, "encode", out, "--split", "test", "--out", "z.csv")
    header, rows = read_csv(tmp_path / "z.csv")
    assert header == ["z0", "z1", "z2", "z3", "label"]
    assert [r[-1] for r in rows] == [str(k) for k in y]
    codes = np.array([[float(v) for v in r[:4]] for r in rows])
    with torch.no_grad():
        np.testing.assert_allclose(codes, model.embed(t(x), t(y)).numpy(), rtol=1e-4, atol=1e-5)


def test_interpolate_traverse_and_plot_use_the_rows_labels(trained, digits, capsys, tmp_path):
    out, _, _ = trained("cvae")
    model = vaelab.load(out)
    x, y = digits.x_test, digits.y_test
    ok(capsys, "interpolate", out, "--from", "0", "--to", "5", "--out", "i.npy")
    frames = np.load(tmp_path / "i.npy")
    assert frames.shape == (8, 1, 8, 8)
    y0 = t(y[:1])  # the whole path is decoded with the --from row's label
    with torch.no_grad():
        np.testing.assert_allclose(frames[0], model.reconstruct(t(x[:1]), y0)[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(frames[-1], model.reconstruct(t(x[5:6]), y0)[0].numpy(), atol=1e-5)
    ok(capsys, "interpolate", out, "--from", "0", "--to", "5", "--out", "i.png")
    assert is_png(tmp_path / "i.png")

    assert "for row 0" in ok(capsys, "traverse", out, "--index", "0", "--out", "tr.npy")
    images = np.load(tmp_path / "tr.npy")
    assert images.shape == (4, 7, 1, 8, 8)  # all 4 latent dimensions x 7 values
    assert np.isfinite(images).all() and images.min() >= 0 and images.max() <= 16

    ok(capsys, "plot", out, "latent", "--out", "latent.png")
    assert is_png(tmp_path / "latent.png")


def test_evaluate_prints_the_label_accuracy_of_a_cvae_only(trained, capsys):
    out, _, _ = trained("cvae")
    text = ok(capsys, "evaluate", out, "--iwae-k", "5", "--limit", "100", "--device", "cpu")
    assert "label accuracy" in text
    record = json.loads((out / "evaluation.json").read_text())
    assert record["n"] == 100 and 0 <= record["label_accuracy"] <= 1

    plain, _, _ = trained("vae")
    text = ok(capsys, "evaluate", plain, "--iwae-k", "5", "--limit", "100", "--device", "cpu")
    assert "label accuracy" not in text
    assert json.loads((plain / "evaluation.json").read_text())["label_accuracy"] is None


def test_report_on_a_cvae(trained, capsys, tmp_path):
    out, _, _ = trained("cvae")
    ok(capsys, "report", out, "--out", "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") or page.lower().startswith("<!doctype html>")
    assert "one row per label" in page


def test_restyle_decodes_each_inputs_code_with_every_label(trained, digits, capsys, tmp_path):
    out, _, _ = trained("cvae")
    text = ok(capsys, "restyle", out, "--index", "0,1", "--labels", "0,1,2", "--out", "r.npy")
    assert "restyled 2 input(s) as 3 label(s)" in text
    r = np.load(tmp_path / "r.npy")
    assert r.shape == (2, 3, 1, 8, 8)
    model = vaelab.load(out)
    x, y = t(digits.x_test[:2]), t(digits.y_test[:2])
    with torch.no_grad():
        z = model.embed(x, y)  # each input's code, with its own label
        for j in range(3):
            np.testing.assert_allclose(r[:, j], model.decode(z, torch.full((2,), j)).mean.numpy(), atol=1e-5)
    ok(capsys, "restyle", out, "--index", "0,1", "--labels", "0,1,2", "--out", "r.png")
    assert is_png(tmp_path / "r.png")


# -- 2. error paths ------------------------------------------------------------------------------

#: (run, argv after the command's RUN, words the one-line message must hold)
RUN_ERRORS = [
    ("cvae", ["sample", "RUN", "-n", "4", "--out", "x.npy"],
     ("--label", "0, 1, 2, 3, 4, 5, 6, 7, 8, 9", "all")),
    ("cvae", ["sample", "RUN", "--label", "12", "--out", "x.npy"],
     ("--label 12", "unknown class", "0, 1, 2", "9")),
    ("vae", ["sample", "RUN", "--label", "1", "--out", "x.npy"], ("--label", "cvae", "holds a vae")),
    ("cvae", ["sample", "RUN", "--condition", "a0=1", "--out", "x.npy"],
     ("--condition", "class labels", "use --label")),
    ("vae", ["restyle", "RUN", "--out", "r.npy"], ("restyle", "--model cvae", "holds a vae")),
    ("cvae", ["restyle", "RUN", "--labels", "0,11", "--out", "r.npy"],
     ("--labels 11", "unknown class", "0, 1, 2")),
    ("cvae", ["restyle", "RUN", "--index", "0,400", "--out", "r.npy"],
     ("--index", "400", f"0 to {N_TEST - 1}")),
    ("cvae", ["attribute", "RUN", "--label", "1", "--out", "a.png"],
     ("conditional", "vaelab restyle", "--label")),
    ("cvae", ["decode", "RUN", "--latents", "codes.npy", "--label", "all", "--out", "d.npy"],
     ("--label all", "unknown class", "0, 1, 2")),
    ("dae", ["denoise", "RUN", "--noise", "gaussian:0.3", "--clean", "clean.npy", "--out", "d.npy"],
     ("--noise", "--clean", "not both")),
    ("dae", ["denoise", "RUN", "--noise", "none", "--out", "d.npy"], ("--noise none", "KIND:LEVEL")),
    ("dae", ["denoise", "RUN", "--noise", "bogus:1", "--out", "d.npy"],
     ("'bogus:1'", "gaussian, mask, saltpepper")),
    ("cvae-columns", ["sample", "RUN", "--condition", "a0=1", "--out", "s.csv"],
     ("--condition", "lacks a1", "a0, a1")),
    ("cvae-columns", ["sample", "RUN", "--condition", "a0=1,a1=2,b=3", "--out", "s.csv"],
     ("--condition", "'b=3'", "a0, a1")),
    ("cvae-columns", ["sample", "RUN", "--condition", "a0=1,a1=x", "--out", "s.csv"],
     ("--condition", "a1", "number")),
    ("cvae-columns", ["sample", "RUN", "--label", "1", "--out", "s.csv"], ("a0, a1", "use --condition")),
    ("cvae-columns", ["sample", "RUN", "--out", "s.csv"], ("--condition", "a0, a1")),
]


@pytest.mark.parametrize(("name", "argv", "words"), RUN_ERRORS,
                         ids=[f"{n}-{a[0]}-{i}" for i, (n, a, _) in enumerate(RUN_ERRORS)])
def test_a_bad_request_on_a_run_fails_in_one_line_and_leaves_the_run_alone(trained, capsys, tmp_path, name,
                                                                            argv, words):
    out, _, _ = trained(name)
    np.save(tmp_path / "codes.npy", np.zeros((3, 4), np.float32))
    before = snapshot(out)
    fails(capsys, *[str(out) if a == "RUN" else a for a in argv], words=words)
    assert snapshot(out) == before
    assert {p.name for p in tmp_path.iterdir()} <= {"cache", "codes.npy"}  # no output written


#: train flags that must be refused before an existing run in --out is touched, and the words
TRAIN_ERRORS = [
    (["--noise", "bogus:1"], ("--noise", "'bogus:1'", "gaussian, mask, saltpepper")),
    (["--noise", "mask:2"], ("--noise", "'mask:2'", "from 0 to 1")),
    (["--model", "dae", "--noise", "none"], ("'none'", "DAE", "KIND:LEVEL")),
    (["--model", "cvae", "--data", "{plain.csv}"], ("cvae", "--label-column", "--condition-columns")),
    (["--kl-schedule", "nope"], ("--kl-schedule", "'nope'", "linear, cyclical")),
    (["--kl-ratio", "0"], ("--kl-ratio", "(0, 1]")),
    (["--kl-cycles", "0"], ("--kl-cycles", "positive integer")),
]


@pytest.mark.parametrize(("flags", "words"), TRAIN_ERRORS, ids=[" ".join(f) for f, _ in TRAIN_ERRORS])
def test_bad_train_flags_fail_before_replacing_a_run(trained, csv_dir, capsys, tmp_path, flags, words):
    source, _, _ = trained("vae")
    out = shutil.copytree(source, tmp_path / "run")
    before = snapshot(out)
    flags = [f.replace("{plain.csv}", str(csv_dir / "plain.csv")) for f in flags]
    fails(capsys, "train", *TINY, "--epochs", "1", *flags, "--overwrite", "--out", out, words=words)
    assert snapshot(out) == before


# -- 3. denoising autoencoder --------------------------------------------------------------------


def test_dae_defaults_to_gaussian_noise_and_draws_a_denoising_figure(trained, capsys):
    out, stdout, _ = trained("dae")
    info = json.loads(ok(capsys, "info", out, "--json"))
    assert info["model"]["model"] == "dae" and info["model"]["noise"] == "gaussian:0.3"
    assert is_png(out / "figures" / "denoising.png") and "denoising.png" in stdout
    assert is_png(out / "figures" / "reconstructions.png")


def test_denoise_corrupts_the_test_rows_and_reports_the_psnr(trained, digits, capsys, tmp_path):
    out, _, _ = trained("dae")
    text = ok(capsys, "denoise", out, "--noise", "gaussian:0.3", "--out", "d.npy")
    assert f"denoised {N_TEST} rows -> d.npy" in text
    assert "trained without --noise" not in text
    line = line_with(text, "PSNR against the clean data: noisy ")
    assert re.fullmatch(r"PSNR against the clean data: noisy [-\d.]+ dB, denoised [-\d.]+ dB "
                        r"\(gain [-+][\d.]+ dB\)", line), line
    noisy_db, denoised_db, gain = numbers(line)
    denoised = np.load(tmp_path / "d.npy")
    assert denoised.shape == (N_TEST, 1, 8, 8)

    # the same corruption (seed 0) and the model's reconstruction of it give the printed numbers
    model = vaelab.load(out)
    clean = digits.x_test
    noisy = model.corrupt(t(clean), torch.Generator().manual_seed(0)).numpy()
    assert noisy.min() >= 0 and noisy.max() <= 16 and not np.array_equal(noisy, clean)
    with torch.no_grad():
        np.testing.assert_allclose(denoised, model.reconstruct(t(noisy)).numpy(), atol=1e-5)
    assert noisy_db == pytest.approx(noise.psnr(clean, noisy, (0, 16)), abs=0.006)
    assert denoised_db == pytest.approx(noise.psnr(clean, denoised, (0, 16)), abs=0.006)
    assert gain == pytest.approx(denoised_db - noisy_db, abs=0.011)


def test_denoise_files_against_their_clean_version(trained, digits, capsys, tmp_path):
    out, _, _ = trained("dae")
    clean = digits.x_test[:40]
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(scale=3.0, size=clean.shape), 0, 16).astype(np.float32)
    np.save(tmp_path / "clean.npy", clean)
    np.save(tmp_path / "noisy.npy", noisy)
    text = ok(capsys, "denoise", out, "--data", "noisy.npy", "--clean", "clean.npy", "--out", "d.png")
    assert "denoised 40 rows -> d.png" in text and is_png(tmp_path / "d.png")
    noisy_db = numbers(line_with(text, "PSNR against the clean data: noisy "))[0]
    mse = np.mean((noisy.astype(np.float64) - clean) ** 2)
    assert noisy_db == pytest.approx(10 * np.log10(16**2 / mse), abs=0.006)

    ok(capsys, "denoise", out, "--data", "noisy.npy", "--clean", "clean.npy", "--out", "d.npy")
    model = vaelab.load(out)
    with torch.no_grad():
        expected = model.reconstruct(t(noisy)).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "d.npy"), expected, atol=1e-5)


def test_denoise_a_table_reports_the_rmse_and_writes_the_columns(trained, capsys, tmp_path):
    out, _, _ = trained("dae-table")
    text = ok(capsys, "denoise", out, "--noise", "gaussian:0.3", "--out", "d.csv")
    line = line_with(text, "RMSE against the clean data: noisy ")
    noisy_rmse, denoised_rmse, lower = numbers(line)
    assert denoised_rmse < noisy_rmse  # 20 epochs on correlated columns learn to denoise
    assert lower == pytest.approx(100 * (noisy_rmse - denoised_rmse) / noisy_rmse, abs=0.2)
    header, rows = read_csv(tmp_path / "d.csv")
    n_test = int(np.ceil(0.2 * CSV_ROWS))
    assert header == ["p", "q", "r", "s"] and len(rows) == n_test
    assert f"denoised {n_test} rows" in text


def test_denoise_a_labeled_table_against_its_clean_version(trained, capsys, tmp_path):
    out, _, _ = trained("cvae-kind")
    rng = np.random.default_rng(2)
    kinds = ["red" if i % 2 else "blue" for i in range(30)]
    clean = rng.normal(size=(30, 2)) + np.array([[3.0, 0.0] if k == "red" else [0.0, 0.0] for k in kinds])
    noisy = clean + 0.3 * rng.normal(size=clean.shape)
    for name, rows in (("clean.csv", clean), ("noisy.csv", noisy)):
        with open(tmp_path / name, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["x", "y", "kind"])
            w.writerows([f"{a:.6f}", f"{b:.6f}", k] for (a, b), k in zip(rows, kinds, strict=True))
    text = ok(capsys, "denoise", out, "--data", "noisy.csv", "--label-column", "kind", "--clean", "clean.csv",
              "--out", "d.csv")
    noisy_rmse = numbers(line_with(text, "RMSE against the clean data: noisy "))[0]
    assert noisy_rmse == pytest.approx(np.sqrt(np.mean((noisy - clean) ** 2)), rel=1e-3)
    header, rows = read_csv(tmp_path / "d.csv")
    assert header == ["x", "y"] and len(rows) == 30


# -- 4. a VAE with noise -------------------------------------------------------------------------


def test_a_vae_trained_with_noise_denoises(trained, capsys, tmp_path):
    out, _, _ = trained("vae-mask")
    info = json.loads(ok(capsys, "info", out, "--json"))
    assert info["model"]["model"] == "vae" and info["model"]["noise"] == "mask:0.3"
    assert is_png(out / "figures" / "denoising.png") and is_png(out / "figures" / "samples.png")
    text = ok(capsys, "denoise", out, "--noise", "mask:0.3", "--out", "d.npy")
    assert "PSNR against the clean data" in text and "trained without --noise" not in text
    assert np.load(tmp_path / "d.npy").shape == (N_TEST, 1, 8, 8)

    plain, _, _ = trained("vae")  # a run without noise still runs, with a note saying so
    text = ok(capsys, "denoise", plain, "--noise", "mask:0.3", "--out", "p.npy")
    assert f"note: {plain} was trained without --noise" in text
    assert json.loads(ok(capsys, "info", plain, "--json"))["model"]["noise"] == "none"


# -- 5. condition columns ------------------------------------------------------------------------


def test_a_cvae_on_condition_columns(trained, capsys, tmp_path):
    out, _, _ = trained("cvae-columns")
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["condition"] == "columns" and config["model"]["n_conditions"] == 2
    assert config["data_info"]["columns"] == ["f0", "f1", "f2", "f3"]
    header, rows = read_csv(out / "samples.csv")  # written by train
    assert header == ["a0", "a1", "f0", "f1", "f2", "f3"] and len(rows) == 100

    text = ok(capsys, "sample", out, "--condition", "a0=1,a1=2", "-n", "5", "--out", "s.csv")
    assert "wrote 5 samples given a0=1,a1=2 to s.csv" in text
    header, rows = read_csv(tmp_path / "s.csv")
    assert header == ["f0", "f1", "f2", "f3"] and len(rows) == 5
    assert all(np.isfinite(float(v)) for r in rows for v in r)

    # the order of the pairs does not matter; the condition does (f0 follows a0)
    ok(capsys, "sample", out, "--condition", "a1=2,a0=1", "-n", "5", "--out", "swapped.csv")
    assert (tmp_path / "swapped.csv").read_text() == (tmp_path / "s.csv").read_text()
    means = {}
    for a0 in (-2, 2):
        ok(capsys, "sample", out, "--condition", f"a0={a0},a1=0", "-n", "200", "--out", f"s{a0}.npy")
        means[a0] = np.load(tmp_path / f"s{a0}.npy").mean(0)  # (4,)
    assert means[2][0] > means[-2][0] + 0.2

    np.save(tmp_path / "codes.npy", np.zeros((3, 4), np.float32))
    ok(capsys, "decode", out, "--latents", "codes.npy", "--condition", "a0=1,a1=2", "--out", "d.csv")
    assert read_csv(tmp_path / "d.csv")[0] == ["f0", "f1", "f2", "f3"]


# -- 6. KL schedules and the collapse warning ---------------------------------------------------


def test_cyclical_schedule_rises_and_restarts(trained):
    out, _, stderr = trained("cyclical")
    records = metrics(out)
    per_epoch = records[0]["step"]
    weights = [r["kl_weight"] for r in records]
    expected = [losses.cyclical(r["step"] - 1, 4 * per_epoch, cycles=2, ratio=0.8) for r in records]
    assert weights == pytest.approx(expected)
    assert weights[0] < weights[1] and weights[2] < weights[1] < weights[3] + 1e-9  # up, down, up
    assert weights[1] == 1.0 and weights[2] < 0.9
    config = json.loads((out / "config.json").read_text())["train"]
    assert (config["kl_schedule"], config["kl_cycles"], config["kl_ratio"]) == ("cyclical", 2, 0.8)
    assert COLLAPSE not in stderr


def test_linear_warmup_rises_to_one(trained):
    out, _, _ = trained("warmup")
    records = metrics(out)
    per_epoch = records[0]["step"]
    weights = [r["kl_weight"] for r in records]
    assert weights == pytest.approx([losses.linear_warmup(r["step"] - 1, 3 * per_epoch) for r in records])
    assert 0 < weights[0] < weights[1] < weights[2] < 1 and weights[3] == 1.0


def test_a_collapsed_kl_is_warned_about_and_a_healthy_one_is_not(trained):
    out, stdout, stderr = trained("collapsed")
    records = metrics(out)
    assert all(r["train_kl"] < 0.1 for r in records)
    line = line_with(stderr, COLLAPSE)
    assert f"{COLLAPSE} 1:" in line and "--kl-warmup" in line and "--free-bits" in line
    assert "run directory:" in stdout  # a warning, not an error

    out, _, stderr = trained("vae")  # its KL starts below 0.1 and recovers: not a collapse
    records = metrics(out)
    assert records[0]["train_kl"] < 0.1 < records[-1]["train_kl"]
    assert "warning" not in stderr
