"""vaelab.nn.scaling: the Scaler standardizes or pools columns and one-hot codes categories."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import TINY, table_data

import vaelab
from vaelab.config import ModelConfig
from vaelab.nn.scaling import Scaler


def test_gaussian_scaler_standardizes_each_column() -> None:
    data = table_data()
    net = vaelab.build_model(ModelConfig(**TINY), data)
    assert net.config.likelihood == "gaussian" and net.config.arch == "mlp"
    u = net.scaler.normalize(torch.from_numpy(data.x_train))
    assert torch.allclose(u.mean(0), torch.zeros(5), atol=1e-4)
    assert torch.allclose(u.std(0, unbiased=False), torch.ones(5), atol=1e-3)
    back = net.scaler.denormalize(u)
    assert torch.allclose(back, torch.from_numpy(data.x_train), rtol=1e-4, atol=1e-2)


def test_scaler_shared_standardization_pools_the_numeric_columns():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(5, 2.0, 500), rng.normal(0, 1.0, 500), np.zeros(500),
                         np.r_[np.zeros(499), 0.5], rng.integers(0, 3, 500)])  # (500, 5), last categorical
    own, shared = Scaler((5,), (0, 0, 0, 0, 3)), Scaler((5,), (0, 0, 0, 0, 3))
    own.fit_standardize(x)
    shared.fit_standardize(x, shared=True)
    pooled = np.sqrt(np.var(x[:, :4], axis=0).mean())
    np.testing.assert_allclose(shared.shift.numpy(), own.shift.numpy())  # centred per column as before
    np.testing.assert_allclose(shared.scale[0, :4].numpy(), pooled, rtol=1e-6)
    assert own.scale[0, 3] < 0.05 and own.scale[0, 2] == 1.0  # per column: near-constant, constant
    assert shared.scale[0, 4] == own.scale[0, 4] == 1.0  # the categorical column keeps its codes


@pytest.mark.usefixtures("one_thread")
def test_network_input_is_standardized_values_and_one_hot_codes(mixed_run):
    model, data, _ = mixed_run
    assert model.config.likelihood == "mixed" and model.config.categories == (0, 3, 0, 2, 3)
    x = torch.tensor([[20.0, 2.0, float("nan"), 0.0, float("nan")]])
    u = model.scaler.network_input(x)
    assert u.shape == (1, 1 + 3 + 1 + 2 + 3)
    torch.testing.assert_close(u[0, 1:4], torch.tensor([0.0, 0.0, 1.0]))  # code 2 of 3
    assert u[0, 4] == 0 and u[0, 5:7].tolist() == [1.0, 0.0] and u[0, 7:].tolist() == [0, 0, 0]
