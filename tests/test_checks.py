"""vaelab._checks: the one message format for bad arguments, and the checks built on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaelab._checks import (
    check_choice,
    check_int,
    check_labels,
    check_number,
    check_one,
    check_rows,
    check_temperature,
    invalid,
)


def test_the_message_names_the_value_and_what_is_allowed() -> None:
    assert str(invalid("latent_dim", 0, "it must be an integer >= 1")) == \
        "latent_dim=0 is not allowed; it must be an integer >= 1"
    assert str(invalid("seed", -1, "give an int", where="data.csv")) == \
        "data.csv: seed=-1 is not allowed; give an int"


@pytest.mark.parametrize(("value", "ok"), [(3, True), (np.int64(3), True), (0, False), (True, False),
                                           (2.0, False), ("3", False), (11, False)])
def test_check_int(value, ok) -> None:
    if ok:
        assert check_int(value, "k", 1, 10) == 3
    else:
        with pytest.raises(ValueError, match=rf"k={value!r} is not allowed; it must be an integer from 1 to"):
            check_int(value, "k", 1, 10)


def test_check_number_and_temperature() -> None:
    assert check_number(0.5, "x", low=0.0, high=1.0) == 0.5
    for bad in (math.nan, math.inf, True, "1", -0.1):
        with pytest.raises(ValueError, match="x=.* is not allowed; it must be a number in \\[0, 1\\]"):
            check_number(bad, "x", low=0.0, high=1.0)
    with pytest.raises(ValueError, match="temperature=0 is not allowed; it must be a finite number > 0"):
        check_temperature(0)


def test_check_choice_lists_the_choices() -> None:
    assert check_choice("a", "mode", ["a", "b"]) == "a"
    with pytest.raises(ValueError, match="mode='c' is not allowed; choose from: a, b"):
        check_choice("c", "mode", ["a", "b"])


def test_shapes_of_rows_one_example_and_labels() -> None:
    assert check_rows(np.zeros((2, 3)), (3,)).dtype == np.float32
    assert isinstance(check_rows(torch.zeros(2, 3), (3,)), torch.Tensor)
    with pytest.raises(ValueError, match=r"x has shape \(2, 4\); allowed: \(N, 3\)"):
        check_rows(np.zeros((2, 4)), (3,))
    with pytest.raises(ValueError, match=r"x has shape \(3,\); allowed: \(N, 3\)"):
        check_rows(np.zeros(3), (3,))
    assert check_one(np.zeros(3), (3,), "a").shape == (1, 3)
    with pytest.raises(ValueError, match=r"a has shape \(2, 3\); allowed: one input of shape \(3,\)"):
        check_one(np.zeros((2, 3)), (3,), "a")
    with pytest.raises(ValueError, match=r"y has shape \(4,\); allowed: \(3,\) labels or \(3, A\)"):
        check_labels(np.zeros(4), 3)
