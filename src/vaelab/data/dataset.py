"""The in-memory dataset every loader returns: :class:`DataInfo`, :class:`Dataset` and the seeded split.

A dataset is two numpy arrays (train, test) in the data's own units plus a small description
(:class:`DataInfo`) that travels into the run directory, so a trained model knows the shape, the
value range, the column names and the class names of what it was trained on.

Nothing here reads files; the loaders in the sibling modules build arrays and hand them to
:meth:`Dataset.from_arrays` (seeded split) or :meth:`Dataset.from_indices` (a split they chose).
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

import numpy as np

from vaelab.data.columns import check_categories
from vaelab.data.tokens import check_sequence_fields
from vaelab.data.values import check_test_fraction

KINDS = ("image", "table", "sequence")
SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about its data; stored as JSON next to the weights.

    Parameters
    ----------
    name : str
        ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, or the stem of the file or folder.
    source : str
        The spec as the user gave it (built-in name or path string).
    kind : str
        ``"image"``, ``"table"`` or ``"sequence"`` (note tokens, :mod:`vaelab.data.tokens`).
    shape : tuple of int
        Shape of one example: ``(C, H, W)`` for images, ``(D,)`` for tables, ``(T,)`` for one
        voice of T steps or ``(V, T)`` for V voices.
    value_range : tuple of float
        ``(lo, hi)`` in the data's own units, e.g. ``(0, 255)`` for 8-bit images.
    columns : tuple of str or None
        Table column names (label column excluded); ``None`` for images.
    classes : tuple of str or None
        Class names; label id ``i`` means ``classes[i]``. ``None`` when unlabeled.
    label_column : str or None
        The CSV column the labels came from, if any.
    condition_columns : tuple of str or None
        CSV columns split off the features as conditions (attributes) of a conditional model; the
        dataset's ``y`` then holds them, float32 (N, len(condition_columns)), instead of labels.
    pitch_range : (int, int) or None
        Sequences only: the lowest and highest MIDI pitch of the token vocabulary; the value range
        is then ``(0, n_tokens - 1)``.
    voices : tuple of str or None
        Sequences only: the name of each voice, one per row of a ``(V, T)`` example (one name for
        ``(T,)``), e.g. ``("soprano", "alto", "tenor", "bass")``.
    steps_per_quarter : int or None
        Sequences only: time steps per quarter note (4: sixteenth notes).
    categories : tuple of tuple of str, or None
        Tables only: per column, its category names (its values are codes 0..K-1), ``()`` for a
        numeric column (:mod:`vaelab.data.columns`); ``None`` when every column is numeric.

    Examples
    --------
    >>> info = DataInfo("toy", "toy.csv", "table", (2,), (0.0, 1.0), columns=("a", "b"))
    >>> DataInfo.from_dict(info.to_dict()) == info
    True
    """

    name: str
    source: str
    kind: str
    shape: tuple[int, ...]
    value_range: tuple[float, float]
    columns: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    label_column: str | None = None
    condition_columns: tuple[str, ...] | None = None
    pitch_range: tuple[int, int] | None = None
    voices: tuple[str, ...] | None = None
    steps_per_quarter: int | None = None
    categories: tuple[tuple[str, ...], ...] | None = None

    def __post_init__(self) -> None:
        # JSON round trips hand back lists; normalise to tuples so equality and hashing work.
        for name in ("shape", "value_range", "columns", "classes", "condition_columns", "pitch_range",
                     "voices"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        where = f"DataInfo {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"DataInfo: name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.source, str):
            raise ValueError(f"{where}: source must be a string, got {type(self.source).__name__}")
        if self.label_column is not None and not isinstance(self.label_column, str):
            raise ValueError(f"{where}: label_column must be a string or None, got {self.label_column!r}")
        if self.kind not in KINDS:
            raise ValueError(f"{where}: kind {self.kind!r} is not allowed; allowed: {', '.join(KINDS)}")
        want_ndim = {"image": (3,), "table": (1,), "sequence": (1, 2)}[self.kind]
        shape = self.shape
        if (
            not isinstance(shape, tuple)
            or len(shape) not in want_ndim
            or not all(isinstance(s, int | np.integer) and s > 0 for s in shape)
        ):
            layout = {"image": "(C, H, W)", "table": "(D,)", "sequence": "(T,) or (V, T)"}[self.kind]
            raise ValueError(
                f"{where}: shape {shape!r} is not allowed for {self.kind} data; allowed: {layout} of "
                "positive ints"
            )
        object.__setattr__(self, "shape", tuple(int(s) for s in shape))
        vr = self.value_range
        if (
            not isinstance(vr, tuple)
            or len(vr) != 2
            or not all(isinstance(v, int | float | np.number) and math.isfinite(v) for v in vr)
            or vr[0] > vr[1]
        ):
            raise ValueError(
                f"{where}: value_range {vr!r} is not allowed; allowed: (lo, hi) finite numbers with lo <= hi"
            )
        object.__setattr__(self, "value_range", (float(vr[0]), float(vr[1])))
        if self.columns is not None:
            if self.kind != "table":
                raise ValueError(f"{where}: columns are only allowed for table data, got kind {self.kind!r}")
            if len(self.columns) != self.shape[0] or not all(isinstance(c, str) for c in self.columns):
                raise ValueError(
                    f"{where}: columns must be {self.shape[0]} strings (one per feature), got "
                    f"{len(self.columns)}"
                )
        if self.classes is not None:
            if not self.classes or not all(isinstance(c, str) for c in self.classes):
                raise ValueError(
                    f"{where}: classes must be a non-empty sequence of strings, got {self.classes!r}"
                )
            if len(set(self.classes)) != len(self.classes):
                raise ValueError(f"{where}: class names must be unique, got {self.classes!r}")
        if self.condition_columns is not None:
            names = self.condition_columns
            if not names or not all(isinstance(c, str) and c for c in names) or len(set(names)) != len(names):
                raise ValueError(f"{where}: condition_columns must be unique non-empty names, got {names!r}")
            if self.classes is not None:
                raise ValueError(f"{where}: a dataset holds class labels or condition columns in y, not both")
        pitches = check_sequence_fields(self.kind, self.shape, self.value_range, self.pitch_range,
                                        self.voices, self.steps_per_quarter, where)
        object.__setattr__(self, "pitch_range", pitches)
        if self.categories is not None:
            cats = check_categories(self.categories, self.kind, self.columns, where)
            object.__setattr__(self, "categories", cats)

    def to_dict(self) -> dict[str, Any]:
        """Return a plain JSON-able dict (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataInfo:
        """Inverse of :meth:`to_dict`; unknown or missing keys raise ``ValueError``."""
        if not isinstance(d, dict):
            raise ValueError(f"DataInfo.from_dict: expected a dict, got {type(d).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(
                f"DataInfo: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(names)}"
            )
        required = [f.name for f in fields(cls) if f.default is MISSING]
        missing = [n for n in required if n not in d]
        if missing:
            raise ValueError(
                f"DataInfo: missing key(s) {', '.join(map(repr, missing))}; required: {', '.join(required)}"
            )
        return cls(**d)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test arrays in the data's own units, plus their :class:`DataInfo`.

    Parameters
    ----------
    info : DataInfo
        Description of the data.
    x_train, x_test : np.ndarray
        float32, shape ``(N_train, *info.shape)`` and ``(N_test, *info.shape)``; not rescaled.
    y_train, y_test : np.ndarray or None
        int64 label ids, shape ``(N_train,)`` and ``(N_test,)``; both ``None`` when unlabeled. With
        ``info.condition_columns`` they hold the conditions instead: float32 ``(N, A)``.
    all_order : np.ndarray or None
        int64, shape ``(N_train + N_test,)``: row ``k`` of ``split("all")`` is row ``all_order[k]``
        of ``concat(train, test)``. It restores a file's original row order; ``None`` means
        train then test.

    Examples
    --------
    >>> info = DataInfo("toy", "toy", "table", (1,), (0.0, 3.0), columns=("a",))
    >>> ds = Dataset.from_arrays(info, np.arange(4.0).reshape(4, 1), test_fraction=0.5)
    >>> ds.split("all")[0].ravel().tolist()
    [0.0, 1.0, 2.0, 3.0]
    """

    info: DataInfo
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    all_order: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        name = self.info.name
        for split in ("train", "test"):
            x = getattr(self, f"x_{split}")
            y = getattr(self, f"y_{split}")
            if not isinstance(x, np.ndarray) or x.dtype != np.float32:
                kind = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
                raise ValueError(f"{name}: x_{split} must be a float32 numpy array, got {kind}")
            if x.shape[1:] != self.info.shape:
                raise ValueError(
                    f"{name}: x_{split} has shape {x.shape}; allowed: (N, "
                    f"{', '.join(map(str, self.info.shape))})"
                )
            if len(x) == 0:
                raise ValueError(f"{name}: the {split} split has no rows; it needs at least 1")
            if y is None:
                continue
            if self.info.condition_columns is not None:
                a = len(self.info.condition_columns)
                if not isinstance(y, np.ndarray) or y.dtype != np.float32 or y.shape != (len(x), a):
                    kind = f"{y.dtype} {y.shape}" if isinstance(y, np.ndarray) else type(y).__name__
                    raise ValueError(f"{name}: y_{split} must hold the {a} condition columns as float32 "
                                     f"({len(x)}, {a}), got {kind}")
                continue
            if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
                kind = f"{y.dtype} {y.shape}" if isinstance(y, np.ndarray) else type(y).__name__
                raise ValueError(f"{name}: y_{split} must be a 1-D int64 numpy array, got {kind}")
            if len(y) != len(x):
                raise ValueError(f"{name}: y_{split} has {len(y)} labels but x_{split} has {len(x)} rows")
            n_classes = len(self.info.classes) if self.info.classes is not None else None
            if n_classes is not None and len(y) and (y.min() < 0 or y.max() >= n_classes):
                bad = int(y[(y < 0) | (y >= n_classes)][0])
                raise ValueError(
                    f"{name}: y_{split} has label id {bad}; allowed: 0..{n_classes - 1} (one per class)"
                )
        if (self.y_train is None) != (self.y_test is None):
            raise ValueError(f"{name}: give labels for both splits or for neither")
        if self.y_train is not None and self.info.classes is None and self.info.condition_columns is None:
            raise ValueError(f"{name}: labels were given but info.classes is None; name the classes")
        if self.all_order is not None:
            n = len(self.x_train) + len(self.x_test)
            order = self.all_order
            if (
                not isinstance(order, np.ndarray)
                or order.shape != (n,)
                or order.dtype.kind not in "iu"
                or not np.array_equal(np.sort(order), np.arange(n))
            ):
                raise ValueError(f"{name}: all_order must be a permutation of 0..{n - 1} (one entry per row)")

    @classmethod
    def from_arrays(
        cls,
        info: DataInfo,
        x: np.ndarray,
        y: np.ndarray | None = None,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> Dataset:
        """Split ``x`` (N, *info.shape) and labels ``y`` (N,) at random, remembering the row order.

        The split is stratified by label when every class has at least two rows, so small classes
        appear on both sides; otherwise it is a plain seeded shuffle. ``split("all")`` returns the
        rows in the order given here.
        """
        train, test = split_indices(len(x), y, test_fraction, seed, info.source)
        return cls.from_indices(info, x, y, train, test)

    @classmethod
    def from_indices(
        cls,
        info: DataInfo,
        x: np.ndarray,
        y: np.ndarray | None,
        train: np.ndarray,
        test: np.ndarray,
        *,
        keep_order: bool = True,
    ) -> Dataset:
        """Build a dataset from rows ``x[train]`` and ``x[test]`` (``x`` is (N, *info.shape)).

        With ``keep_order`` the original order of ``x`` is what ``split("all")`` returns;
        without it, ``split("all")`` is train then test (the convention for fixed benchmark splits).
        """
        x = np.asarray(x, dtype=np.float32)
        y_type = np.float32 if info.condition_columns is not None else np.int64
        y = None if y is None else np.asarray(y, dtype=y_type)
        if y is not None and len(y) != len(x):
            raise ValueError(f"{info.name}: {len(y)} labels for {len(x)} rows; the counts must match")
        order = None
        if keep_order:
            # position in concat(train, test) -> original row; invert it to read rows back in order.
            order = np.argsort(np.concatenate([train, test]), kind="stable").astype(np.int64)
        return cls(
            info=info,
            x_train=np.ascontiguousarray(x[train]),
            y_train=None if y is None else y[train],
            x_test=np.ascontiguousarray(x[test]),
            y_test=None if y is None else y[test],
            all_order=order,
        )

    def head(self, n: int) -> Dataset:
        """The same data with only the first ``n`` training rows (all of them when there are fewer);
        the test rows stay. ``split("all")`` is then train then test."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise ValueError(f"{self.info.name}: limit={n!r} is not allowed; give a positive number of rows")
        return Dataset(self.info, self.x_train[:n], None if self.y_train is None else self.y_train[:n],
                       self.x_test, self.y_test)

    def as_images(self, shape: tuple[int, int, int]) -> Dataset:
        """A table's rows (N, C*H*W) read as images (N, C, H, W) of ``shape`` (C, H, W), the values of
        each row in the order ``reshape`` reads them: a .npy or CSV of flat rows (N, 64) given to a
        model of 8x8 images. Labels, row order and the value range stay.

        >>> flat.as_images((1, 8, 8)).x_train.shape  # doctest: +SKIP
        (1437, 1, 8, 8)
        """
        shape = tuple(int(s) for s in shape)
        if self.info.kind != "table" or self.info.categories or (math.prod(shape),) != self.info.shape:
            raise ValueError(f"{self.info.source}: rows of shape {self.info.shape} ({self.info.kind}) cannot "
                             f"be read as images of shape {shape}; allowed: numeric table rows of "
                             f"{math.prod(shape)} values")
        info = replace(self.info, kind="image", shape=shape, columns=None, categories=None)
        return Dataset(info, self.x_train.reshape(-1, *shape), self.y_train, self.x_test.reshape(-1, *shape),
                       self.y_test, self.all_order)

    @property
    def labels(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(y_train, y_test)`` when ``y`` holds class labels; None when unlabeled or when ``y``
        holds condition columns."""
        if self.info.classes is None or self.y_train is None or self.y_test is None:
            return None
        return self.y_train, self.y_test

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Return ``(x, y)`` for ``"train"``, ``"test"`` or ``"all"``.

        ``x`` is float32 (N, *info.shape); ``y`` is int64 (N,), float32 (N, A) conditions or
        ``None``. For ``"all"`` the rows come in the file's original order for user files, and train
        then test for built-ins.
        """
        if name == "train":
            return self.x_train, self.y_train
        if name == "test":
            return self.x_test, self.y_test
        if name != "all":
            raise ValueError(f"{self.info.name}: unknown split {name!r}; allowed: {', '.join(SPLITS)}")
        x = np.concatenate([self.x_train, self.x_test])
        y = None if self.y_train is None else np.concatenate([self.y_train, self.y_test])
        if self.all_order is not None:
            x = x[self.all_order]
            y = None if y is None else y[self.all_order]
        return x, y


def split_indices(
    n: int, y: np.ndarray | None, test_fraction: float, seed: int, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random (train, test) row indices for ``n`` rows; stratified by ``y`` when possible."""
    check_test_fraction(test_fraction, where)
    if n < 2:
        raise ValueError(f"{where}: has {n} row(s); at least 2 are needed (one to train on, one to test)")
    n_test = math.ceil(test_fraction * n)
    n_train = n - n_test
    if n_train < 1:
        raise ValueError(
            f"{where}: test_fraction={test_fraction} leaves no training rows out of {n}; use a smaller "
            "fraction"
        )
    stratify = None
    if y is not None:
        _, counts = np.unique(y, return_counts=True)
        # sklearn needs each class on both sides; fall back to a plain shuffle when it cannot be.
        if counts.min() >= 2 and min(n_test, n_train) >= len(counts):
            stratify = y
    # Imported here: scikit-learn takes ~0.5 s to import and most callers only read files.
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(np.arange(n), test_size=n_test, random_state=seed, stratify=stratify)
    return train.astype(np.int64), test.astype(np.int64)
