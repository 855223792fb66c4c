"""vaelab.data.values: label encoding."""

from __future__ import annotations

import numpy as np
import pytest

from vaelab.data.values import encode_labels

pytestmark = pytest.mark.usefixtures("isolated_env")


def test_encode_labels_merges_spellings_of_one_number():
    ids, classes = encode_labels(np.array(["1", "1.0", "0.5", "2"]), "w")
    assert classes == ("0.5", "1", "2") and ids.tolist() == [1, 1, 0, 2]
