"""vaelab train (vaelab.cli.train): run directories, inputs, resume, overwrite, Ctrl-C, errors."""

from __future__ import annotations

import contextlib
import io
import json
import math
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import TINY, copy_run, fails, is_png, read_csv, run, write_table
from safetensors.torch import load_file

import vaelab
import vaelab.run
import vaelab.training
from vaelab.cli import main
from vaelab.data import write_idx

EPOCH_KEYS = {"epoch", "step", "train_loss", "train_rec", "train_kl", "val_loss", "seconds",
              "samples_per_s"}


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
    fails(capsys, "train", "--resume", "--out", "a", "--data", "other.csv", words=("--data",))
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
    (["--precision", "fp8"], ("--precision 'fp8'", "fp32, bf16, fp16")),
    (["--lr", "-1"], ("--lr -1.0", "> 0")),
    (["--data", "pics", "--image-size", "8,8,8"], ("--image-size (8, 8, 8)", "HEIGHT,WIDTH")),
    (["--data", "digits", "--label-column", "kind"], ("label_column='kind'", "CSV files")),
    (["--data", "table.csv", "--label-column", "colour"],
     ("table.csv", "'colour' not found", "a, b, kind, c")),
    (["--data", "bad.csv"], ("bad.csv", "column 'b' line 3", "'oops'", "not a number")),
    (["--data", "table.csv", "--label-column", "kind", "--val-fraction", "0.999"],
     ("val_fraction=0.999", "no training")),
    pytest.param(["--device", "cuda"], ("device='cuda'", "not available", "auto or cpu"),
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")),
    pytest.param(["--precision", "fp16"], ("--precision 'fp16' needs a CUDA GPU", "use bf16 or fp32"),
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available")),
], ids=["unknown-data", "missing-file", "model", "arch", "conv-on-table", "binarize", "epochs",
        "precision", "lr", "image-size", "label-column-on-builtin", "unknown-label-column",
        "non-numeric-cell", "val-fraction", "device", "fp16-without-cuda"])
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
    real_weight, real_commit = vaelab.losses.KLSchedule.__call__, vaelab.run.RunDir.commit
    saved, steps = [0], [0]

    def commit(run, files, **kwargs):
        real_commit(run, files, **kwargs)
        saved[0] += vaelab.run.RunDir.TRAINER_STATE in files  # an epoch's commit

    def weight_at(schedule, step):
        if saved[0] >= epochs_saved:
            steps[0] += 1
            weight = fault(steps[0])
            if weight is not None:
                return weight
        return real_weight(schedule, step)

    monkeypatch.setattr(vaelab.run.RunDir, "commit", commit)
    monkeypatch.setattr(vaelab.losses.KLSchedule, "__call__", weight_at)


def test_non_finite_loss_keeps_the_last_good_epoch(capsys, tmp_path, monkeypatch):
    after_epochs(monkeypatch, 1, lambda k: math.nan)  # a NaN KL weight makes the VAE's loss NaN
    fails(capsys, "train", *RESUME, "--epochs", 3, "--out", "a",
          words=("non-finite at epoch 2", "last good checkpoint: epoch 1",
                 "continue with: vaelab train --resume --out a --lr 0.0001 --grad-clip 10"))
    assert [r["epoch"] for r in metrics(tmp_path / "a")] == [1]
    assert torch.load(tmp_path / "a" / "trainer_state.pt", weights_only=True)["epoch"] == 1


def test_damaged_trainer_state_on_resume(digits_run, capsys, tmp_path):
    run_dir = copy_run(digits_run("vae", "mlp")[0], tmp_path / "r")
    (run_dir / "trainer_state.pt").write_bytes(b"not a torch file")
    before = snapshot(run_dir)
    fails(capsys, "train", "--resume", "--out", "r", "--epochs", 3,
          words=("r/trainer_state.pt", "damaged, truncated or replaced"))
    assert snapshot(run_dir) == before


def test_train_out_is_an_existing_file(capsys, tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    fails(capsys, "train", *RESUME, "--epochs", 1, "--out", "notes.txt", words=("notes.txt",))
    assert (tmp_path / "notes.txt").read_text() == "keep me"


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
    assert "interrupted; a holds 1 completed epoch. Resume with" in err and "--resume" in err
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
    assert code == 130 and "nothing was written to a; start again with the same command" in err
    assert not (tmp_path / "a").exists()  # not even an empty folder or a lock file
    fails(capsys, "train", "--resume", "--out", "a", words=("run directory a does not exist",))
    code, _, err = run(capsys, "train", *RESUME, "--epochs", 2, "--out", "a")
    assert code == 0, err
    assert [r["epoch"] for r in metrics(tmp_path / "a")] == [1, 2]


def test_overwrite_interrupted_before_its_first_epoch_keeps_the_old_run_whole(capsys, tmp_path, monkeypatch):
    assert train_seeded(*RESUME, "--epochs", 2, "--out", "a") == 0
    assert run(capsys, "evaluate", "a", "--iwae-k", 0, "--no-fidelity")[0] == 0
    before = snapshot(tmp_path / "a")
    with monkeypatch.context() as patch:
        after_epochs(patch, 0, ctrl_c_on_third_step)
        code, _, err = run(capsys, "train", *RESUME, "--model", "ae", "--epochs", 2, "--out", "a",
                           "--overwrite")
    assert code == 130 and "a still holds the run it held before, unchanged" in err
    assert snapshot(tmp_path / "a") == before  # evaluation.json and figures too: nothing was replaced
    # Once the new run commits its first epoch, the old run's derived files go with it.
    assert train_seeded(*RESUME, "--model", "ae", "--epochs", 1, "--out", "a", "--overwrite") == 0
    assert not (tmp_path / "a" / "evaluation.json").exists()
    assert json.loads((tmp_path / "a" / "config.json").read_text())["model"]["model"] == "ae"


def test_data_errors_name_the_flag_not_the_field(capsys):
    fails(capsys, "train", "--data", "digits", "--limit", "0", words=("--limit 0 is not allowed",))
    fails(capsys, "train", "--data", "digits", "--window", "0", words=("--window 0 is not allowed",))
    fails(capsys, "train", "--limit", "5", words=("--limit needs --data SPEC",))



def test_resume_says_where_it_starts_and_refuses_what_makes_no_sense(capsys, tmp_path):
    assert train_seeded(*RESUME, "--epochs", 2, "--out", "a") == 0
    before = snapshot(tmp_path / "a")
    fails(capsys, "train", "--resume", "--out", "a", "--overwrite",
          words=("--resume", "--overwrite", "give one"))
    fails(capsys, "train", "--resume", "--out", "a", "--epochs", 1, words=("already run 2 epochs",))
    out = run(capsys, "train", "--resume", "--out", "a", "--epochs", 2)[1]
    assert "already has its 2 epochs; nothing to resume" in out
    assert snapshot(tmp_path / "a") == before
    (tmp_path / "a" / ".trainer_state.pt.x1.tmp").write_bytes(b"left by a killed run")
    code, out, _ = run(capsys, "train", "--resume", "--out", "a", "--epochs", 3, "--data", "digits",
                       "--quiet")
    assert code == 0 and "resuming from epoch 2 of 3" in out  # --data digits is the run's own data
    assert not list((tmp_path / "a").glob(".*.tmp"))
    fails(capsys, "train", "--resume", "--out", "a", "--epochs", 4, "--data", "iris.csv",
          words=("can change only", "not --data"))


def test_a_run_goes_only_into_an_empty_directory_or_over_a_run(capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    for flags in ((), ("--overwrite",)):
        fails(capsys, "train", *RESUME, "--epochs", 1, "--out", "mine", *flags,
              words=("--out mine holds files that are not a run's (notes.txt)",))
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_a_first_epoch_gone_non_finite_claims_no_checkpoint(capsys, tmp_path, monkeypatch):
    with monkeypatch.context() as patch:
        after_epochs(patch, 0, lambda k: math.nan)
        line = fails(capsys, "train", *RESUME, "--epochs", 2, "--lr", "1e6", "--out", "h",
                     words=("no epoch was completed, so nothing was saved in h",
                            "the same command and --lr 0.001 --grad-clip 10"))
    assert "last good checkpoint" not in line and not (tmp_path / "h").exists()


def test_bf16_trains_and_is_stored_by_its_new_name(capsys, tmp_path):
    code, out, _ = run(capsys, "train", "--epochs", 1, "--precision", "bf16", *TINY, "--no-figures",
                       "--out", "r")
    assert code == 0, out
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["train"]["precision"] == "bf16"
    records = metrics(tmp_path / "r")
    assert records and all(math.isfinite(r["train_loss"]) and math.isfinite(r["val_loss"]) for r in records)
