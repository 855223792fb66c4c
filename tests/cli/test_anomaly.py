"""vaelab anomaly (vaelab.cli.anomaly) and the other commands on CSVs with mixed columns, and their errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from cli_helpers import fails, is_png, ok
from helpers import COLORS, mixed_csv
from sklearn.metrics import roc_auc_score

TINY = ["--latent-dim", "3", "--hidden", "32", "--device", "cpu", "--quiet"]
N = 400


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """A VAE and an AE trained once on a mixed CSV whose last 10 rows are outliers."""
    import contextlib
    import io

    from vaelab.cli import main

    folder = tmp_path_factory.mktemp("anomaly")
    path = folder / "mixed.csv"
    outliers = mixed_csv(path, n=N, outliers=10)
    runs = {}
    for model in ("vae", "ae"):
        runs[model] = folder / model
        argv = ["train", "--data", path, "--categorical", "grade", "--model", model, "--epochs", "30",
                "--batch-size", "32", "--lr", "3e-3", "--out", runs[model], "--no-figures", *TINY]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main([str(a) for a in argv]) == 0
    return path, runs, outliers


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_outputs_come_back_as_the_original_columns(capsys, mixed_run, tmp_path):
    data, runs, _ = mixed_run
    out = ok(capsys, "reconstruct", runs["vae"], "--out", tmp_path / "rec.csv", "--split", "all", "-n", "0")
    assert "% of categories right" in out and "RMSE" in out
    rows = read(tmp_path / "rec.csv")
    assert len(rows) == N and list(rows[0]) == ["width", "color", "height", "size", "grade"]
    assert {r["color"] for r in rows} <= set(COLORS) and {r["size"] for r in rows} <= {"small", "large"}
    assert {r["grade"] for r in rows} <= {"1", "2", "3"} and all(r["width"] for r in rows)  # filled in
    ok(capsys, "sample", runs["vae"], "-n", "20", "--out", tmp_path / "s.csv")
    assert {r["color"] for r in read(tmp_path / "s.csv")} <= set(COLORS)
    out = ok(capsys, "evaluate", runs["vae"], "--iwae-k", "50", "--no-fidelity")
    assert "-ELBO" in out


def test_anomaly_scores_flags_and_histogram(capsys, mixed_run, tmp_path):
    data, runs, outliers = mixed_run
    out = ok(capsys, "anomaly", runs["vae"], "--out", tmp_path / "scores.csv", "--contamination", "0.05")
    assert "threshold" in out and "20 rows flagged" in out
    rows = read(tmp_path / "scores.csv")
    assert [r["row"] for r in rows] == [str(i) for i in range(N)]
    scores = np.array([float(r["score"]) for r in rows])
    flags = np.array([int(r["outlier"]) for r in rows])
    truth = np.isin(np.arange(N), outliers)
    assert flags.sum() == 20 and roc_auc_score(truth, scores) > 0.9
    assert flags[outliers].mean() >= 0.8  # most planted outliers are among the 5% flagged
    assert is_png(tmp_path / "scores.png")
    # a fixed threshold, another score, the AE's reconstruction score, the plot elsewhere
    threshold = float(np.sort(scores)[-5])
    out = ok(capsys, "anomaly", runs["vae"], "--out", tmp_path / "t.csv", "--threshold", threshold,
             "--score", "nll", "--plot", tmp_path / "h.png")
    assert "given by --threshold" in out and is_png(tmp_path / "h.png")
    out = ok(capsys, "anomaly", runs["ae"], "--out", tmp_path / "ae.csv")
    assert "-log p(x|z)" in out
    ae_scores = np.array([float(r["score"]) for r in read(tmp_path / "ae.csv")])
    assert roc_auc_score(truth, ae_scores) > 0.9


def test_anomaly_on_new_rows_in_another_column_order(capsys, mixed_run, tmp_path):
    _, runs, _ = mixed_run
    new = tmp_path / "new.csv"
    new.write_text("grade,size,height,color,width\n3,large,300,blue,30\n1,small,100,red,10\n"
                   "2,small,500,green,20\n")
    ok(capsys, "anomaly", runs["vae"], "--data", new, "--out", tmp_path / "n.csv", "--threshold", "10")
    assert len(read(tmp_path / "n.csv")) == 3


@pytest.mark.parametrize(("args", "words"), [
    (["--contamination", "0.7"], ("contamination=0.7 is not allowed", "(0, 0.5]")),
    (["--score", "elbo", "--ae"], ("score='elbo' is not allowed", "no posterior", "reconstruction")),
    (["--samples", "0"], ("samples",)),
    (["--plot", "h.jpg"], ("unknown file type '.jpg'", ".png")),
    (["--categorical", "nosuch", "--data", "DATA"], ("'nosuch' are not feature columns",)),
    (["--data", "PURPLE"], ("column 'color' has category 'purple', which the model was not trained on",)),
    (["--data", "LACKING"], ("lacks column(s) 'grade'",)),
])
def test_anomaly_errors(capsys, mixed_run, tmp_path, args, words):
    data, runs, _ = mixed_run
    (tmp_path / "purple.csv").write_text("width,color,height,size,grade\n1,purple,2,small,1\n"
                                         "2,red,3,large,2\n")
    (tmp_path / "lacking.csv").write_text("width,color,height,size\n1,red,2,small\n2,red,3,large\n")
    subst = {"DATA": data, "PURPLE": tmp_path / "purple.csv", "LACKING": tmp_path / "lacking.csv"}
    run = runs["ae"] if "--ae" in args else runs["vae"]
    args = [subst.get(a, a) for a in args if a != "--ae"]
    fails(capsys, "anomaly", run, "--out", tmp_path / "s.csv", *args, words=words)
    assert not (tmp_path / "s.csv").exists()


def test_contamination_and_threshold_exclude_each_other(capsys, mixed_run, tmp_path):
    _, runs, _ = mixed_run
    with pytest.raises(SystemExit) as exit_:  # argparse's own check
        ok(capsys, "anomaly", runs["vae"], "--out", tmp_path / "s.csv", "--contamination", "0.1",
           "--threshold", "3")
    assert exit_.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_mixed_train_errors(capsys, mixed_run, tmp_path):
    data, _, _ = mixed_run
    fails(capsys, "train", "--data", data, "--likelihood", "gaussian", "--epochs", "1", *TINY,
          words=("categorical columns (color, size)", "likelihood='mixed'"))
    fails(capsys, "train", "--data", "digits", "--categorical", "a", "--epochs", "1", *TINY,
          words=("categorical_columns", "applies only to CSV files"))
