"""vaelab.run: the run directory's files, read back safely when damaged, tampered with or missing."""

from __future__ import annotations

import json
import os
import pickle

import pytest
from helpers import image_data

import vaelab
from vaelab import run as checkpoint
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
    with pytest.raises(ValueError, match="model.safetensors is damaged or truncated"):
        vaelab.load(run)


def test_weights_that_do_not_match_the_config(run) -> None:
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["latent_dim"] = 9
    (run / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="model.safetensors does not match .*config.json"):
        vaelab.load(run)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "config.json is damaged or truncated"),
    ('{"model": {"latent": 2}}', r"config.json: config section 'ModelConfig' has unknown keys"),
    ('{"data": {}}', "config.json has no 'model' section"),
])
def test_tampered_config(run, text: str, message: str) -> None:
    (run / "config.json").write_text(text)
    with pytest.raises(ValueError, match=message):
        vaelab.load(run)


def test_trainer_state_never_unpickles_code(run, tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(run / "trainer_state.pt", "wb") as f:
        pickle.dump({"epoch": 1, "x": Exploit()}, f, protocol=2)
    with pytest.raises(ValueError, match="trainer_state.pt is damaged or truncated") as err:
        RunDir(run).load_trainer_state()
    assert not marker.exists()
    assert "weights_only" not in str(err.value)  # never advise a load that would run the payload
    (run / "trainer_state.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="trainer_state.pt is damaged"):
        RunDir(run).load_trainer_state()


def test_a_failed_write_leaves_the_old_file_intact(run, monkeypatch) -> None:
    before = (run / "model.safetensors").read_bytes()

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "save_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        RunDir(run).save_weights(vaelab.load(run).state_dict())
    assert (run / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_missing_run_directory(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="run directory .*nope does not exist"):
        vaelab.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json is missing.*not a vaelab run"):
        vaelab.load(tmp_path / "empty")


def test_rundir_owns_the_file_names_and_clear_removes_only_its_own(run) -> None:
    rd = RunDir(run)
    assert rd.is_run() and rd.file(RunDir.CONFIG) == run / "config.json"
    assert rd.figure("curves.png") == run / "figures" / "curves.png"
    (run / "notes.txt").write_text("mine")
    rd.write_evaluation({"neg_elbo": 1.0})
    rd.save_gmm({"weights": __import__("numpy").ones(1)})
    rd.clear()
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    assert not rd.is_run() and rd.read_metrics() == [] and rd.read_evaluation() is None


def test_read_config_is_typed(run) -> None:
    config = RunDir(run).read_config()
    assert config.model.latent_dim == 4 and config.train.epochs == 1 and config.data is None
    assert config.data_info.name == "toy-images" and config.vaelab_version == vaelab.__version__


def test_a_gmm_older_than_the_weights_is_stale(run) -> None:
    import numpy as np

    rd = RunDir(run)
    rd.save_gmm({"weights": np.ones(2), "means": np.zeros((2, 4)), "covariances": np.stack([np.eye(4)] * 2)})
    assert rd.load_gmm() is not None
    os.utime(run / "model.safetensors", ns=(0, (run / "gmm.safetensors").stat().st_mtime_ns + 10**9))
    assert rd.load_gmm() is None



def test_leftovers_of_interrupted_writes_are_not_the_users_files(run) -> None:
    rd = RunDir(run)
    (run / ".model.safetensors.abc.tmp").write_bytes(b"half")
    (run / "mine.txt").write_text("the user's")
    assert [p.name for p in rd.leftovers()] == [".model.safetensors.abc.tmp"]
    assert rd.foreign() == ["mine.txt"]
    rd.sweep()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []
