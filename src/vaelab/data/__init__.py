"""Datasets in, numpy arrays out: :func:`load_dataset` turns a name or a path into a :class:`Dataset`.

Accepted specs: a built-in name (``digits``, ``mnist``, ``fashion-mnist``; ``chorales`` and
``folk`` with the ``music`` extra), a ``.npy``, ``.npz`` or ``.csv`` file, an IDX file (``*-ubyte``,
``*.idx``, optionally ``.gz``), a folder holding the four MNIST-style IDX files, a folder of images,
or a MIDI file or a folder of MIDI files. Arrays stay in the data's own units; models
scale them using ``Dataset.info.value_range``. This package never imports torch or the models.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from numbers import Integral
from pathlib import Path

from vaelab import registry
from vaelab.data import builtin as _builtin  # noqa: F401  (fills registry.DATASETS)
from vaelab.data.arrays import load_npy, load_npz
from vaelab.data.dataset import DataInfo, Dataset
from vaelab.data.idx import find_split_files, is_idx_name, load_idx_dir, load_idx_file, read_idx, write_idx
from vaelab.data.images import load_image_folder
from vaelab.data.music import MUSIC_BUILTINS, has_midi_files, is_midi_file, load_music
from vaelab.data.tabular import load_csv, load_frame
from vaelab.data.values import check_test_fraction

__all__ = ["DataInfo", "Dataset", "load_dataset", "read_idx", "write_idx"]

# Suffix -> loader(path, source=, test_fraction=, seed=). CSV (which also takes label_column),
# IDX files and folders are recognised below.
_ARRAY_LOADERS: dict[str, Callable[..., Dataset]] = {".npy": load_npy, ".npz": load_npz}
_ALLOWED = (
    ".npy, .npz, .csv, IDX (*-ubyte, *.idx, optionally .gz), .mid/.midi, a folder of images, of MIDI "
    "files or of MNIST-style IDX files"
)
_MUSIC_OPTIONS = ("window", "stride", "transpose", "voices")


def load_dataset(
    spec: str | os.PathLike,
    *,
    data_dir: str | os.PathLike | None = None,
    label_column: str | None = None,
    condition_columns: Sequence[str] | None = None,
    categorical_columns: Sequence[str] | None = None,
    schema: DataInfo | None = None,
    image_size: int | tuple[int, int] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    download: bool = True,
    window: int | None = None,
    stride: int | None = None,
    transpose: str | None = None,
    voices: str | None = None,
    limit: int | None = None,
) -> Dataset:
    """Load a built-in dataset by name, a file or folder by path, or a pandas DataFrame.

    Parameters
    ----------
    spec : str, path or pandas.DataFrame
        A built-in name (``digits``, ``mnist``, ``fashion-mnist``; a plain string naming one wins
        over a file of that name, write ``./mnist`` for the file), a path, or a DataFrame (a
        table, read like a CSV: :func:`vaelab.data.tabular.load_frame`).
    data_dir : path, optional
        Where to look first for the MNIST IDX files (default ``$VAELAB_DATA``).
    label_column : str, optional
        CSV only: the column holding class labels (text or numbers).
    condition_columns : sequence of str, optional
        CSV only: numeric columns that become the conditions ``y`` (float32 (N, A)) of a
        conditional model instead of features.
    categorical_columns : sequence of str, optional
        CSV and DataFrames: columns to read as categories even though they hold numbers (codes,
        grades); columns with text cells are categorical anyway (:mod:`vaelab.data.columns`).
    schema : DataInfo, optional
        CSV and DataFrames: the data a model was trained on; its feature columns are read by name,
        in its order, with its categories (a category it did not see is an error).
    image_size : int or (int, int), optional
        Image folders only: resize every image to (H, W); an int means a square.
    test_fraction : float
        Fraction of rows held out for testing, in (0, 1). Built-ins use their fixed split.
    seed : int
        Seed of the random split (built-ins ignore it).
    download : bool
        Whether ``mnist``/``fashion-mnist`` may be downloaded into the cache when not found.
    window, stride : int, optional
        Music only: steps per example (default 32, two 4/4 bars of sixteenths) and steps between
        window starts (default 16, one bar).
    transpose : str, optional
        Music only: ``"none"`` (default), ``"common"`` (every piece to C major / A minor) or
        ``"augment:N"`` (N extra randomly transposed copies of every training window).
    voices : str, optional
        Music only: ``"melody"`` (one voice, (T,) examples) or ``"satb"`` (four voices, (4, T));
        default ``satb`` for ``chorales`` and ``melody`` otherwise.
    limit : int, optional
        Keep only the first ``limit`` training rows (windows, for music): a quick try.

    Returns
    -------
    Dataset
        ``x_train`` float32 (N_train, *info.shape), ``y_train`` int64 (N_train,) or ``None``, and
        the same for test; values in the data's own units (digits 0..16, MNIST 0..255).

    Examples
    --------
    >>> ds = load_dataset("digits")
    >>> ds.x_train.shape, ds.info.value_range
    ((1437, 1, 8, 8), (0.0, 16.0))
    """
    music = {"window": window, "stride": stride, "transpose": transpose, "voices": voices}
    table = {"categorical_columns": categorical_columns, "schema": schema}
    if _is_frame(spec):
        data = load_frame(spec, label_column=label_column, condition_columns=condition_columns,
                          test_fraction=test_fraction, seed=seed, **table)
        return data if limit is None else data.head(limit)
    data = _load(spec, data_dir=data_dir, label_column=label_column, condition_columns=condition_columns,
                 image_size=image_size, test_fraction=test_fraction, seed=seed, download=download,
                 music=music, table=table)
    return data if limit is None else data.head(limit)


def _load(spec: str | os.PathLike, *, data_dir: str | os.PathLike | None, label_column: str | None,
          condition_columns: Sequence[str] | None, image_size: int | tuple[int, int] | None,
          test_fraction: float, seed: int, download: bool, music: dict, table: dict) -> Dataset:
    source = os.fspath(spec)
    check_test_fraction(test_fraction, source)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed < 2**32:
        raise ValueError(f"{source}: seed={seed!r} is not allowed; allowed: an int from 0 to 2**32 - 1")
    common = {"source": source, "test_fraction": test_fraction, "seed": seed}
    if Path(spec).suffix.lower() != ".csv":
        _only_for(source, "categorical_columns", table["categorical_columns"], "CSV files and DataFrames")
    is_music = (isinstance(spec, str) and spec in MUSIC_BUILTINS) or is_midi_file(Path(spec)) or (
        Path(spec).is_dir() and has_midi_files(Path(spec)))
    if is_music:
        _only_for(source, "label_column", label_column, "CSV files")
        _only_for(source, "condition_columns", condition_columns, "CSV files")
        _only_for(source, "image_size", image_size, "image folders")
        return load_music(source, **music, test_fraction=test_fraction, seed=seed)
    for option in _MUSIC_OPTIONS:
        _only_for(source, option, music[option], "music (chorales, folk, MIDI files)")
    if isinstance(spec, str) and spec in registry.DATASETS:
        _only_for(source, "label_column", label_column, "CSV files")
        _only_for(source, "condition_columns", condition_columns, "CSV files")
        _only_for(source, "image_size", image_size, "image folders")
        loader = registry.lookup(registry.DATASETS, spec, "dataset")
        return loader(source, data_dir=None if data_dir is None else Path(data_dir), download=download)

    path = Path(spec)
    builtins = ", ".join(sorted([*registry.DATASETS, *MUSIC_BUILTINS]))
    if not path.exists():
        raise FileNotFoundError(
            f"{source}: is neither an existing file or folder nor a built-in dataset; built-ins: {builtins}"
        )
    if path.is_dir():
        _only_for(source, "label_column", label_column, "CSV files")
        _only_for(source, "condition_columns", condition_columns, "CSV files")
        if find_split_files(path):
            _only_for(source, "image_size", image_size, "image folders")
            return load_idx_dir(path, source=source)
        return load_image_folder(
            path, source=source, image_size=image_size, test_fraction=test_fraction, seed=seed
        )

    _only_for(source, "image_size", image_size, "image folders")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_csv(path, label_column=label_column, condition_columns=condition_columns, **common,
                        **table)
    _only_for(source, "label_column", label_column, "CSV files")
    _only_for(source, "condition_columns", condition_columns, "CSV files")
    if suffix in _ARRAY_LOADERS:
        return _ARRAY_LOADERS[suffix](path, **common)
    if is_idx_name(path):
        return load_idx_file(path, **common)
    raise ValueError(
        f"{source}: file type {suffix or '(no suffix)'!r} is not supported; allowed: {_ALLOWED}, or a "
        f"built-in name ({builtins})"
    )


def _only_for(source: str, option: str, value: object, applies_to: str) -> None:
    """Reject an option the chosen loader would silently ignore."""
    if value is not None:
        raise ValueError(
            f"{source}: {option}={value!r} applies only to {applies_to}; leave it unset for this data"
        )


def _is_frame(spec: object) -> bool:
    """Whether ``spec`` is a pandas DataFrame (checked without importing pandas)."""
    return type(spec).__name__ == "DataFrame" and type(spec).__module__.startswith("pandas")
