"""End-to-end tests of ``vaelab sample --sampler gmm --temperature`` (with the GMM cached in
RUN/gmm.safetensors) and of ``vaelab report`` (one self-contained HTML page), through
``vaelab.cli.main(argv)`` on tiny digits runs (a VAE and an AE) and a tiny CSV run whose column
and class names are hostile HTML.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import vaelab
import vaelab.latent
from vaelab.cli import main

from cli_helpers import PNG_MAGIC, fails, isolated, one_thread, run  # noqa: F401  (fixtures)
from vaelab.report import build_report
from vaelab.latent.samplers import load_gmm

TINY = ["--latent-dim", "3", "--hidden", "16", "--channels", "4", "--quiet", "--no-figures"]
IMG = '<img src="data:image/png;base64,'
HOSTILE = "<script>alert(1)</script>"
HOSTILE_CLASS = "<b>red</b>"
HEADINGS = ("Run summary", "Evaluation", "Training curves", "Reconstructions", "Samples", "Interpolation",
            "Traversals", "Latent map", "Latent dimensions")


# -- helpers and fixtures ------------------------------------------------------------------------


def train(*argv) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", *map(str, argv)]) == 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """1-epoch digits runs (VAE and AE, conv) and a 2-epoch VAE on a CSV, trained once. Tests copy
    a run before writing into it."""
    root = tmp_path_factory.mktemp("runs")
    for model in ("vae", "ae"):
        train("--data", "digits", "--model", model, "--arch", "conv", "--epochs", 1, *TINY,
              "--out", root / model)
    rng = np.random.default_rng(0)
    with open(root / "table.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", HOSTILE, "kind", "c"])
        for i in range(60):
            a, b, c = rng.normal(size=3) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
            writer.writerow([f"{a:.4f}", f"{b:.4f}", HOSTILE_CLASS if i % 3 else "blue", f"{c:.4f}"])
    train("--data", root / "table.csv", "--label-column", "kind", "--epochs", 2, "--latent-dim", 2,
          "--hidden", 8, "--quiet", "--no-figures", "--out", root / "table")
    return root


@pytest.fixture
def copy(runs, tmp_path):
    """copy(name) -> a private copy of a module run, under the test's folder."""
    return lambda name: Path(shutil.copytree(runs / name, tmp_path / name))


@pytest.fixture
def fits(monkeypatch):
    """Counts the calls of vaelab.latent.samplers.fit_gmm (which the CLI and the report use)."""
    calls: list[int] = []
    real = vaelab.latent.samplers.fit_gmm

    def spy(*args, **kwargs):
        calls.append(kwargs.get("n_components", 10))
        return real(*args, **kwargs)

    monkeypatch.setattr(vaelab.latent.samplers, "fit_gmm", spy)
    return calls


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
    earlier = (ae / "model.safetensors").stat().st_mtime_ns - 10**9
    os.utime(ae / "gmm.safetensors", ns=(earlier, earlier))  # the weights are newer than the cache
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


@pytest.mark.parametrize("content", ["garbage", "wrong keys"])
def test_damaged_gmm_cache_is_named(copy, capsys, tmp_path, content):
    ae = copy("ae")
    cache = ae / "gmm.safetensors"
    if content == "garbage":
        cache.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    else:
        save_file({"means": np.zeros((2, 3))}, str(cache))
    fails(capsys, "sample", ae, "--sampler", "gmm", "--out", "x.npy",
          words=(str(cache), "damaged", "delete it"))
    fails(capsys, "report", ae, words=(str(cache), "damaged"))
    assert not (tmp_path / "x.npy").exists() and not (ae / "report.html").exists()


# -- report ----------------------------------------------------------------------------------


def images(page: str) -> list[bytes]:
    """The decoded bytes of every inline image of the page."""
    return [base64.b64decode(b, validate=True)
            for b in re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def check_self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere
    assert "<script" not in page.lower() and "src=\"http" not in page
    assert all(b[:8] == PNG_MAGIC for b in images(page))
    assert page.count("<img ") == page.count(IMG)  # every image is inline


@pytest.mark.parametrize("model, n_images", [("vae", 8), ("ae", 6)])
def test_digits_report(copy, capsys, model, n_images):
    r = copy(model)
    code, out, _ = run(capsys, "report", r)
    path = r / "report.html"
    assert code == 0 and out.strip() == str(path)
    page = path.read_text(encoding="utf-8")
    check_self_contained(page)
    # curves, reconstructions, GMM samples, interpolation, traversals, latent map (+ prior, KL)
    assert page.count(IMG) == len(images(page)) == n_images
    for heading in HEADINGS:
        assert f">{heading}</h2>" in page
    assert ("From the prior N(0, I)" in page) == (model == "vae")
    assert ("KL per latent dimension" in page) == (model == "vae")
    assert "10-component GMM" in page and "active units" in page
    assert "Not evaluated yet: <code>vaelab evaluate" in page
    assert len(page) < 2_000_000
    assert (r / "gmm.safetensors").is_file()  # the GMM it fitted is cached for `sample`


def test_report_reuses_the_cached_gmm_and_honours_out(copy, capsys, tmp_path, fits):
    r = copy("vae")
    assert run(capsys, "sample", r, "--sampler", "gmm", "--components", 3, "--out", "s.npy")[0] == 0
    code, out, _ = run(capsys, "report", r, "--out", "sub/page.html")
    assert code == 0 and out.strip() == "sub/page.html"
    assert fits == [3] and "3-component GMM" in (tmp_path / "sub" / "page.html").read_text()
    assert not (r / "report.html").exists()
    fails(capsys, "report", r, "--out", "page.txt", words=("--out page.txt", "HTML"))
    fails(capsys, "report", "no-such-run", words=("no-such-run", "does not exist"))


def test_report_on_other_data_leaves_the_cache_alone(copy, capsys):
    r = copy("ae")
    assert run(capsys, "report", r, "--data", "digits")[0] == 0
    assert (r / "report.html").is_file() and not (r / "gmm.safetensors").exists()


def test_build_report_writes_nothing(copy):
    r = copy("vae")
    before = sorted(p.name for p in r.iterdir())
    page = build_report(vaelab.load(r), r, vaelab.load_dataset("digits"))
    assert page.startswith("<!DOCTYPE html>") and page.count(IMG) == 8
    assert sorted(p.name for p in r.iterdir()) == before


def test_table_report_shows_tables_with_escaped_column_names(copy, capsys):
    r = copy("table")
    assert run(capsys, "report", r)[0] == 0
    page = (r / "report.html").read_text(encoding="utf-8")
    check_self_contained(page)
    assert HOSTILE not in page and HOSTILE_CLASS not in page  # never raw
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"<tr><th>a</th><th>{escaped}</th><th>c</th></tr>" in page  # the original columns
    assert "&lt;b&gt;red&lt;/b&gt;" in page  # a class name, in the data summary
    # Curves, latent map and KL stay pictures; samples and reconstructions become tables.
    assert page.count(IMG) == len(images(page)) == 3
    for heading in HEADINGS:
        assert f">{heading}</h2>" in page
    samples = page.split('id="samples"')[1].split("<h2")[0]
    assert samples.count("<table>") == 2 and IMG not in samples  # prior and GMM, as tables
