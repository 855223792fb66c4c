"""vaelab report (vaelab.cli.report): one self-contained HTML page for image and table runs."""

from __future__ import annotations

import base64
import re

import pytest
from cli_helpers import HOSTILE, HOSTILE_CLASS, IMG, PNG_MAGIC, fails, run

HEADINGS = ("Run summary", "Evaluation", "Training curves", "Reconstructions", "Samples", "Interpolation",
            "Traversals", "Latent map", "Latent dimensions")


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
