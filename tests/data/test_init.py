"""vaelab.data (the package): load_dataset's dispatch by source, and what the data layer may import."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from vaelab.data import builtin, load_dataset

pytestmark = pytest.mark.usefixtures("isolated_env")


DATA_PACKAGE = Path(builtin.__file__).parent


def test_dispatch_errors(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=(
            r"nope.csv: is neither an existing file or folder nor a built-in dataset; built-ins: chorales, "
            r"digits, fashion-mnist, folk, mnist"
        ),
    ):
        load_dataset(tmp_path / "nope.csv")
    (tmp_path / "a.txt").write_text("1")
    with pytest.raises(
        ValueError,
        match=(
            r"a.txt: file type '.txt' is not supported; allowed: .npy, .npz, .csv, IDX .*built-in name "
            r"\(chorales, digits"
        ),
    ):
        load_dataset(tmp_path / "a.txt")
    for fraction in (0, 1, 1.5):
        with pytest.raises(
            ValueError,
            match=r"digits: test_fraction=.* is not allowed; allowed: a number strictly between 0 and 1",
        ):
            load_dataset("digits", test_fraction=fraction)
    with pytest.raises(ValueError, match=r"digits: image_size=8 applies only to image folders"):
        load_dataset("digits", image_size=8)
    np.save(tmp_path / "t.npy", np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"t.npy: label_column='y' applies only to CSV files"):
        load_dataset(tmp_path / "t.npy", label_column="y")


def test_data_package_imports_only_numpy_sklearn_pillow_stdlib_and_registry():
    # music21 and mido are the optional music extra, imported inside the functions that need them;
    # pandas only when a DataFrame is given (the caller has it then)
    allowed_roots = {"numpy", "sklearn", "PIL", "vaelab", "__future__", "music21", "mido", "pandas"}
    import sys

    for path in DATA_PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module] + (
                    [f"{node.module}.{a.name}" for a in node.names] if node.module == "vaelab" else []
                )
            for name in names:
                root = name.split(".")[0]
                assert root in allowed_roots or root in sys.stdlib_module_names, f"{path.name} imports {name}"
                if root == "vaelab" and name != "vaelab":
                    # torch-free modules only: the data layer sits below the models
                    torch_free = ("vaelab.data", "vaelab.registry", "vaelab.config", "vaelab.files")
                    assert name.startswith(torch_free), f"{path.name} imports {name}"
        assert len(path.read_text().splitlines()) < 400, f"{path.name} is over 400 lines"
