"""vaelab.evaluation.fidelity: Fréchet distance and improved precision/recall of feature sets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from vaelab.evaluation.fidelity import frechet_distance, precision_recall


def gaussian(n: int, f: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """(n, f) samples of a correlated Gaussian, shifted by ``shift`` in every coordinate."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(f, f))
    return rng.normal(size=(n, f)) @ mix + shift


def direct_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy's general matrix square root (Heusel et al. 2017, eq. 6)."""
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s_a + s_b - 2 * root))


# -- Fréchet distance ---------------------------------------------------------------------------


def test_frechet_of_a_set_with_itself_is_zero():
    a = gaussian(500, 16, seed=0)
    assert abs(frechet_distance(a, a)) < 1e-6


@pytest.mark.parametrize("f", [4, 5, 6])
@pytest.mark.parametrize("seed", [0, 1])
def test_frechet_matches_direct_formula(f, seed):
    a, b = gaussian(40, f, seed), gaussian(60, f, seed + 100, shift=0.5)
    expected = direct_frechet(a, b)
    assert expected > 0.1  # a real difference, not a trivial 0 == 0
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_of_shifted_unit_gaussians_approaches_squared_shift():
    rng = np.random.default_rng(0)
    n, m = 20_000, np.array([1.0, -2.0, 0.5])  # |m|^2 = 5.25
    a, b = rng.normal(size=(n, 3)), rng.normal(size=(n, 3)) + m
    # Sampling error of the means is about 2 * |m| * sqrt(2 / n) ~ 0.05 and of the covariances smaller.
    assert frechet_distance(a, b) == pytest.approx(5.25, abs=0.1)


def test_frechet_is_symmetric_and_works_for_one_feature():
    a, b = gaussian(50, 5, seed=3), gaussian(80, 5, seed=4, shift=1.0)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    x, y = np.arange(10.0)[:, None], 3 + 2 * np.arange(10.0)[:, None]
    # 1-D: (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2, and sigma_y = 2 sigma_x.
    expected = (4.5 - 12.0) ** 2 + np.var(x, ddof=1) * (2 - 1) ** 2
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.zeros((5, 3)), np.zeros((5, 4)), r"a and b have 3 and 4 features"),
        (np.zeros((1, 3)), np.zeros((5, 3)), r"a has 1 row\(s\); at least 2"),
        (np.zeros((5, 3)), np.zeros(5), r"b has shape \(5,\); allowed: a 2-D array"),
        (np.zeros((5, 3)), np.full((5, 3), np.nan), r"b holds NaN or infinite values"),
    ],
)
def test_frechet_rejects_bad_input(a, b, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(a, b)


# -- precision and recall -----------------------------------------------------------------------


def test_identical_sets_have_full_precision_and_recall():
    x = gaussian(300, 8, seed=0)
    assert precision_recall(x, x, k=3) == (1.0, 1.0)
    dup = np.concatenate([x[:50], x[:50]])  # exact duplicates: k-th neighbour radius 0
    assert precision_recall(dup, dup, k=1) == (1.0, 1.0)


def test_far_apart_sets_have_zero_precision_and_recall():
    x = gaussian(200, 4, seed=0)
    assert precision_recall(x, x + 1000.0) == (0.0, 0.0)


def test_fake_covering_half_of_real_has_full_precision_half_recall():
    # Real: two well-separated clusters of 100 points each; fake: the first cluster, slightly jittered.
    rng = np.random.default_rng(0)
    cluster = rng.normal(size=(100, 2))
    real = np.concatenate([cluster, cluster + [100.0, 0.0]])
    fake = cluster + 1e-3 * rng.normal(size=cluster.shape)
    precision, recall = precision_recall(real, fake, k=3, batch_size=17)  # odd size: several blocks
    assert precision == 1.0
    assert recall == 0.5


def test_precision_recall_agrees_with_brute_force():
    real, fake = gaussian(120, 3, seed=1), gaussian(90, 3, seed=2, shift=0.7)

    def coverage(points, centres, k):
        d_cc = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        radius = np.sort(d_cc, axis=1)[:, k]  # column 0 is the point itself
        d_pc = np.linalg.norm(points[:, None] - centres[None], axis=-1)
        return float((d_pc <= radius[None]).any(1).mean())

    precision, recall = precision_recall(real, fake, k=5, batch_size=32)
    assert 0.0 < recall < 1.0 and 0.0 < precision < 1.0
    assert precision == pytest.approx(coverage(fake, real, 5), abs=1e-12)
    assert recall == pytest.approx(coverage(real, fake, 5), abs=1e-12)


@pytest.mark.parametrize(
    "k, match",
    [
        (0, r"k=0 is not allowed; it must be an integer from 1 to 9"),
        (10, r"k=10 is not allowed; it must be an integer from 1 to 9"),
        (2.5, r"k=2.5 is not allowed"),
        (True, r"k=True is not allowed"),
    ],
)
def test_precision_recall_rejects_bad_k(k, match):
    real, fake = np.zeros((20, 2)), np.zeros((10, 2))
    with pytest.raises(ValueError, match=match):
        precision_recall(real, fake, k=k)


def test_precision_recall_rejects_bad_sets():
    with pytest.raises(ValueError, match=r"real and fake have 2 and 3 features"):
        precision_recall(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"fake holds NaN or infinite values"):
        precision_recall(np.zeros((10, 2)), np.full((10, 2), np.inf))
