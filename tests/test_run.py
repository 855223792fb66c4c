"""vaelab.run: the run directory's files, read back safely when damaged, tampered with or missing."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers import image_data

import vaelab
import vaelab.commits
import vaelab.run
from vaelab.config import ModelConfig, TrainConfig
from vaelab.run import RunDir

TINY = ModelConfig(latent_dim=4, hidden=(32,), channels=8)


@pytest.fixture()
def run(tmp_path):
    data = image_data()
    model = vaelab.build_model(TINY.replace(arch="mlp"), data)
    vaelab.fit(model, data.x_train, config=TrainConfig(epochs=1), run_dir=tmp_path / "run")
    return tmp_path / "run"


def test_truncated_weights_give_one_clear_error(run) -> None:
    path = run / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="model.safetensors is damaged, truncated or replaced.*manifest"):
        vaelab.load(run)
    (run / "manifest.json").unlink()  # a run written before manifests: the file's own check speaks
    with pytest.raises(ValueError, match="model.safetensors is damaged or truncated"):
        vaelab.load(run)


def test_weights_that_do_not_match_the_config(run) -> None:
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["latent_dim"] = 9
    RunDir(run).commit({RunDir.CONFIG: json.dumps(cfg).encode()})
    with pytest.raises(ValueError, match="model.safetensors does not match .*config.json: .*config builds"):
        vaelab.load(run)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "config.json is damaged or truncated"),
    ('{"model": {"latent": 2}}', r"config.json: config section 'ModelConfig' has unknown keys"),
    ('{"data": {}}', "config.json has no 'model' section"),
])
def test_tampered_config(run, text: str, message: str) -> None:
    (run / "config.json").write_text(text)  # changed by hand: not what the run committed
    with pytest.raises(ValueError, match="config.json is damaged, truncated or replaced"):
        vaelab.load(run)
    RunDir(run).commit({RunDir.CONFIG: text.encode()})  # committed, so read: its contents are checked
    with pytest.raises(ValueError, match=message):
        vaelab.load(run)


def test_trainer_state_never_unpickles_code(run, tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    RunDir(run).commit({RunDir.TRAINER_STATE: pickle.dumps({"epoch": 1, "x": Exploit()}, protocol=2)})
    with pytest.raises(ValueError, match="trainer_state.pt is damaged or truncated") as err:
        RunDir(run).load_trainer_state()
    assert not marker.exists()
    assert "weights_only" not in str(err.value)  # never advise a load that would run the payload
    RunDir(run).commit({RunDir.TRAINER_STATE: b"garbage"})
    with pytest.raises(ValueError, match="trainer_state.pt is damaged"):
        RunDir(run).load_trainer_state()


def contents(run) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def test_a_commit_that_fails_halfway_leaves_the_last_commit_whole(run, monkeypatch) -> None:
    rd = RunDir(run)
    before, real = contents(run), vaelab.commits.write_durable
    written = []

    def disk_full_on_the_second_file(path, data):
        written.append(path)
        if len(written) == 2:
            path.write_bytes(data[: len(data) // 2])
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(vaelab.commits, "write_durable", disk_full_on_the_second_file)
    new = {rd.CONFIG: b"{}", rd.WEIGHTS: b"half", rd.METRICS: b""}
    with pytest.raises(OSError, match="disk full"):
        rd.commit(new)
    assert len(rd.leftovers()) == 2  # the pending files of a commit that never happened
    assert vaelab.load(run) is not None and rd.read_metrics() == [json.loads(before["metrics.jsonl"])]
    monkeypatch.undo()
    with rd.writing():  # the next writer sweeps them
        pass
    assert contents(run) == before


def test_a_commit_killed_after_its_commit_point_is_read_whole_and_finished(run, monkeypatch) -> None:
    rd = RunDir(run)
    model = vaelab.load(run)
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    new_weights = rd.weights_bytes(model.state_dict())
    monkeypatch.setattr(vaelab.commits.Commits, "roll_forward", lambda self: None)  # "killed" here
    rd.commit({rd.WEIGHTS: new_weights, rd.METRICS: b'{"epoch": 7}\n'}, epoch=7)
    monkeypatch.undo()
    assert (run / "model.safetensors").read_bytes() != new_weights  # the renames never happened ...
    assert rd.read_bytes(rd.WEIGHTS) == new_weights  # ... yet readers see the whole new commit
    assert rd.read_metrics() == [{"epoch": 7}] and rd.leftovers() == []
    with rd.writing():  # the next writer finishes the commit
        pass
    assert (run / "model.safetensors").read_bytes() == new_weights and not list(run.glob(".*.next"))


def test_missing_committed_file_is_named(run) -> None:
    (run / "metrics.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="metrics.jsonl is missing, though .*manifest.json names it"):
        RunDir(run).read_metrics()


def test_missing_run_directory(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="run directory .*nope does not exist"):
        vaelab.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json is missing.*not a vaelab run"):
        vaelab.load(tmp_path / "empty")


def test_a_new_run_replaces_only_what_a_run_owns(run) -> None:
    rd = RunDir(run)
    assert rd.is_run() and rd.file(RunDir.CONFIG) == run / "config.json"
    assert rd.figure("curves.png") == run / "figures" / "curves.png"
    model = vaelab.load(run)
    (run / "notes.txt").write_text("mine")
    rd.write_evaluation({"neg_elbo": 1.0, "weights": model.weights_id})
    rd.save_gmm({"weights": np.ones(1)}, model.weights_id)
    rd.figure("x.png").parent.mkdir()
    rd.figure("x.png").write_bytes(b"png")
    assert rd.foreign() == ["notes.txt"]
    model.save(run)  # a fresh commit: the run is replaced, with everything made from the old weights
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "manifest.json", "model.safetensors",
                                                     "notes.txt"]
    assert rd.read_metrics() == [] and rd.read_evaluation() is None and not rd.has(rd.TRAINER_STATE)


def test_read_config_is_typed(run) -> None:
    config = RunDir(run).read_config()
    assert config.model.latent_dim == 4 and config.train.epochs == 1 and config.data is None
    assert config.data_info.name == "toy-images" and config.vaelab_version == vaelab.__version__


GMM = {"weights": np.ones(2), "means": np.zeros((2, 4)), "covariances": np.stack([np.eye(4)] * 2)}


def test_derived_files_name_the_weights_they_came_from(run) -> None:
    rd = RunDir(run)
    model = vaelab.load(run)
    on_disk = hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()
    assert model.weights_id == rd.weights_id() == on_disk
    rd.save_gmm(GMM, model.weights_id)
    rd.write_evaluation({"neg_elbo": 1.0, "weights": model.weights_id})
    assert rd.load_gmm() is not None
    assert rd.read_evaluation() == {"neg_elbo": 1.0, "weights": model.weights_id}
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    rd.commit({rd.WEIGHTS: rd.weights_bytes(model.state_dict())})  # trained on: other weights
    assert rd.load_gmm() is None  # stale: fitted to the codes of the old weights
    assert rd.read_evaluation()["stale"] is True
    with pytest.raises(ValueError, match="names the weights it scored"):
        rd.write_evaluation({"neg_elbo": 1.0})


def test_a_read_only_run_keeps_its_derived_files_in_the_cache(run, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(RunDir, "writable", lambda self: False)  # as on a read-only mount
    rd, before = RunDir(run), contents(run)
    model = vaelab.load(run)
    path = rd.write_evaluation({"neg_elbo": 2.0, "weights": model.weights_id})
    rd.save_gmm(GMM, model.weights_id)
    assert path.parent == rd.cache() and str(rd.cache()).startswith(str(tmp_path / "cache" / "runs" / "run-"))
    assert rd.read_evaluation()["neg_elbo"] == 2.0 and rd.load_gmm() is not None
    assert contents(run) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a user whom permissions bind")
def test_writable_is_false_for_a_folder_without_write_permission(run) -> None:
    run.chmod(0o555)
    try:
        assert not RunDir(run).writable()
    finally:
        run.chmod(0o755)


def test_one_writer_at_a_time(run, tmp_path) -> None:
    code = ("import sys, time; from vaelab.run import RunDir\n"
            "with RunDir(sys.argv[1]).writing():\n    print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(vaelab.run.LockedError, match=rf"run is being written by process {holder.pid} "):
            RunDir(run).commit({RunDir.METRICS: b""})
        data = image_data()
        with pytest.raises(ValueError, match=f"process {holder.pid}"):
            vaelab.fit(vaelab.load(run), data.x_train, config=TrainConfig(epochs=1), run_dir=run)
    finally:
        holder.kill()
        holder.wait()
    # The OS dropped the killed holder's lock: the run can be written again.
    with RunDir(run).writing(), RunDir(run).writing():  # re-entrant within a process
        assert (run / ".lock").read_text().startswith(f"process {os.getpid()} ")
    assert not (run / ".lock").exists()  # a writer removes its lock file when it lets go


def test_leftovers_of_interrupted_writes_are_not_the_users_files(run) -> None:
    rd = RunDir(run)
    (run / ".model.safetensors.abc.tmp").write_bytes(b"half")
    (run / ".metrics.jsonl.99.next").write_bytes(b"of a commit that never happened")
    (run / "mine.txt").write_text("the user's")
    assert [p.name for p in rd.leftovers()] == [".model.safetensors.abc.tmp", ".metrics.jsonl.99.next"]
    assert rd.foreign() == ["mine.txt"]
    rd.sweep()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []
