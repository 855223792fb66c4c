"""vaelab.nn.conditioning: the Condition module (one-hot, embedding, columns) and how y is joined."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import cvae

from vaelab.config import ModelConfig
from vaelab.nn.conditioning import Condition, broadcast_channels, concat

pytestmark = pytest.mark.usefixtures("one_thread")


def test_condition_module_dims_and_values() -> None:
    onehot = Condition(ModelConfig(condition="label", n_conditions=4))
    assert onehot.dim == 4 and onehot.embedding is None
    assert onehot(torch.tensor([2, 0])).tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]]
    learned = Condition(ModelConfig(condition="label", n_conditions=4, label_embedding=3))
    assert learned.dim == 3 and learned(torch.tensor([1, 3, 1])).shape == (3, 3)
    assert torch.equal(learned(torch.tensor([1]))[0], learned.embedding.weight[1])
    columns = Condition(ModelConfig(condition="columns", n_conditions=2))
    assert columns.dim == 2
    assert columns(torch.tensor([[1.0, -2.0]])).tolist() == [[1.0, -2.0]]  # unfitted: identity
    with pytest.raises(ValueError, match="Condition needs condition='label' or 'columns', got 'none'"):
        Condition(ModelConfig(condition="none"))


def test_broadcast_channels_and_concat() -> None:
    g = torch.Generator().manual_seed(0)
    x, c = torch.randn(2, 3, 4, 5, generator=g), torch.randn(2, 2, generator=g)
    out = broadcast_channels(x, c)
    assert out.shape == (2, 3 + 2, 4, 5)
    assert torch.equal(out[:, :3], x)
    # Each condition channel is that example's condition value at every pixel.
    assert torch.equal(out[:, 3:], c[:, :, None, None].expand(2, 2, 4, 5))
    assert broadcast_channels(x, None) is x
    h = torch.randn(2, 3, generator=g)
    assert torch.equal(concat(h, c), torch.cat([h, c], dim=1)) and concat(h, c).shape == (2, 5)
    assert concat(h, None) is h
    assert concat(h, torch.ones(2, 1, dtype=torch.float64)).dtype == torch.float32  # follows h


def test_condition_columns_are_standardized_with_the_training_conditions() -> None:
    net, data, _, _ = cvae("mlp", "columns")
    y = data.y_train
    assert np.abs(y.mean(0)).min() > 10  # raw conditions are far from standardized (around 50)
    c = net.condition(torch.from_numpy(y))
    assert torch.allclose(c.mean(0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(c.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    # A constant column keeps scale 1 instead of dividing by zero.
    cond = Condition(ModelConfig(condition="columns", n_conditions=2))
    cond.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert cond.shift.tolist() == [2.0, 5.0] and cond.scale.tolist() == [1.0, 1.0]
    # Labels need no fitting: fit leaves the module as it was.
    labels = Condition(ModelConfig(condition="label", n_conditions=3))
    labels.fit(np.array([0, 1, 2]))
    assert labels(torch.tensor([1])).tolist() == [[0.0, 1.0, 0.0]]
