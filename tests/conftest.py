"""Fixtures shared by several test folders: one torch thread, an isolated working folder, the
digits data and a VAE trained on it, models on a mixed table (500 rows) and on a tiny one (30 rows),
and the tiny runs of the report tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from cli_helpers import train_report_runs
from helpers import iris_csv, mixed_csv

import vaelab
from vaelab.config import ModelConfig


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine torch's spinning
    worker threads make every step many times slower. Autouse in tests/cli (see its conftest.py);
    other modules that want it say ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Every test runs in its own empty folder (the CLI's default --out is runs/... there) and never
    sees the user's data folder or cache. Autouse in tests/cli (see its conftest.py)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="session")
def digits() -> vaelab.Dataset:
    """The built-in digits data, loaded once; tests copy arrays before they change them."""
    return vaelab.load_dataset("digits")


@pytest.fixture(scope="session")
def vae(digits):
    """A VAE trained long enough that its latent dimensions differ in use (KL 0.01 .. 0.7 nats)."""
    net = vaelab.build_model(ModelConfig(latent_dim=8, arch="mlp", hidden=(128,)), digits, seed=0)
    vaelab.fit(net, digits.x_train,
               config=vaelab.TrainConfig(epochs=10, batch_size=64, lr=1e-2, device="cpu"))
    return net.eval()


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """A VAE trained once per module on a mixed CSV whose last 10 rows are outliers: (model, data,
    outlier rows). tests/cli/test_anomaly.py has a mixed_run of its own: CLI runs on such a CSV."""
    path = tmp_path_factory.mktemp("mixed") / "m.csv"
    outliers = mixed_csv(path, n=500, outliers=10)
    data = vaelab.load_dataset(path, categorical_columns=["grade"], test_fraction=0.2, seed=0)
    model = vaelab.build_model(data=data, latent_dim=3, hidden=(32,), seed=0)
    vaelab.fit(model, data.x_train, config=vaelab.TrainConfig(epochs=30, batch_size=32, lr=3e-3,
                                                              val_fraction=0.0, seed=0, device="cpu"))
    return model.eval(), data, outliers


@pytest.fixture(scope="module")
def tiny_mixed(tmp_path_factory):
    """A VAE trained once per module (30 steps) on a 30-row mixed table from iris (numeric columns,
    a text column, blank cells; helpers.iris_csv), whose test split has 6 rows: (model, data)."""
    path = iris_csv(tmp_path_factory.mktemp("iris") / "iris.csv")
    data = vaelab.load_dataset(path, test_fraction=0.2, seed=0)
    model = vaelab.build_model(data=data, latent_dim=2, hidden=(16,), seed=0)
    vaelab.fit(model, data.x_train, config=vaelab.TrainConfig(epochs=30, batch_size=32, lr=3e-3,
                                                              val_fraction=0.0, device="cpu"))
    return model.eval(), data


@pytest.fixture(scope="module")
def report_runs(tmp_path_factory) -> Path:
    """The report tests' runs (cli_helpers.train_report_runs), trained once per module. Tests copy
    a run before writing into it (``copy``)."""
    return train_report_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def copy(report_runs, tmp_path):
    """copy(name) -> a private copy of a module run, under the test's folder."""
    return lambda name: Path(shutil.copytree(report_runs / name, tmp_path / name))
