"""vaelab.distributions.table: the mixed likelihood of numeric and categorical columns."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import COLORS

import vaelab
from vaelab.distributions.table import MixedTable

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mixed_log_prob_is_gaussian_plus_categorical_over_present_cells():
    torch.manual_seed(0)
    categories = (0, 3, 0, 2)
    params = torch.randn(5, 1 + 3 + 1 + 2)
    shift, scale = torch.tensor([[10.0, 0, -2.0, 0]]), torch.tensor([[4.0, 1, 0.5, 1]])
    log_scale = torch.tensor([0.3, 0.0, -0.2, 0.0])
    x = torch.tensor([[12.0, 2, -2.5, 1], [9.0, 0, float("nan"), 0], [float("nan"), float("nan"), -1.0, 1],
                      [10.0, 1, -2.0, float("nan")], [7.0, 2, -3.0, 0]])
    got = MixedTable(params, shift, scale, log_scale, categories=categories).log_prob(x)
    want = torch.zeros(5)
    for i in range(5):
        for j, (start, k) in enumerate([(0, 0), (1, 3), (4, 0), (5, 2)]):
            v = x[i, j]
            if math.isnan(v):
                continue
            if k == 0:  # the density of x in data units: N(x; shift + scale * loc, (scale * sigma)^2)
                normal = torch.distributions.Normal(shift[0, j] + scale[0, j] * params[i, start],
                                                    scale[0, j] * log_scale[j].exp())
                want[i] += normal.log_prob(v)
            else:
                want[i] += torch.log_softmax(params[i, start:start + k], 0)[int(v)]
    torch.testing.assert_close(got, want)
    p = MixedTable(params, shift, scale, log_scale, categories=categories)
    assert p.mean.shape == (5, 4) and p.sample(torch.Generator().manual_seed(0)).shape == (5, 4)
    assert set(p.mean[:, 1].tolist()) <= {0.0, 1.0, 2.0} and set(p.mean[:, 3].tolist()) <= {0.0, 1.0}


def test_mixed_model_learns_the_categories(mixed_run, tmp_path):
    model, data, _ = mixed_run
    x = data.x_test
    recon = model.reconstruct(torch.from_numpy(x)).numpy()
    for j in (1, 3):  # color and size follow from the numeric columns
        present = ~np.isnan(x[:, j])
        assert np.mean(recon[present, j] == x[present, j]) > 0.9
    assert not np.isnan(recon).any()  # missing cells come back filled in
    assert set(np.unique(recon[:, 1])) <= {0.0, 1.0, 2.0}
    model.save(tmp_path)
    again = vaelab.load(tmp_path)
    np.testing.assert_array_equal(again.reconstruct(torch.from_numpy(x)).numpy(), recon)
    assert tuple(again.data_info.categories[1]) == tuple(sorted(COLORS))
