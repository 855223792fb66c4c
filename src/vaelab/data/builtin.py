"""Built-in datasets by name: ``digits``, ``mnist``, ``fashion-mnist``.

``digits`` ships with scikit-learn. The MNIST pair are found, in order, in the user's data
directory (``data_dir`` or ``$VAELAB_DATA``, itself or its ``<name>/`` subfolder), a system
directory (Debian's ``dataset-fashion-mnist`` package), the cache (``$VAELAB_CACHE`` or
``~/.cache/vaelab``, then ``<name>/``), and finally downloaded into the cache. Files we rely on
are checked against the SHA-256 of their decompressed bytes, since re-gzipping (as Debian does)
changes the ``.gz`` but not the payload; the user's own files are trusted, as they may be a
deliberately modified dataset.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from vaelab.data.arrays import one_line
from vaelab.data.dataset import DataInfo, Dataset, split_indices
from vaelab.data.idx import SPLIT_FILES, decode_idx, find_split_files, read_idx_bytes, split_dataset
from vaelab.registry import DATASETS, register

DIGIT_CLASSES = tuple(str(i) for i in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CLASSES = {"mnist": DIGIT_CLASSES, "fashion-mnist": FASHION_CLASSES}

# Download sources, tried in order; each holds the four ``<file>.gz``.
URLS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}
# SHA-256 of the decompressed IDX files.
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
# Where a distribution package installs a dataset: name -> (package, directory).
SYSTEM_DIRS: dict[str, tuple[str, Path]] = {
    "fashion-mnist": ("dataset-fashion-mnist", Path("/usr/share/datasets/fashion-mnist")),
}
DOWNLOAD_TIMEOUT_S = 30.0


def cache_dir() -> Path:
    """The download cache: ``$VAELAB_CACHE``, else ``~/.cache/vaelab``."""
    return Path(os.environ.get("VAELAB_CACHE") or Path.home() / ".cache" / "vaelab")


@register(DATASETS, "digits")
def load_digits(source: str = "digits", *, data_dir: Path | None = None, download: bool = True) -> Dataset:
    """scikit-learn's 8x8 digits: images (1797, 1, 8, 8) in 0..16, a fixed stratified 80/20 split.

    The split uses seed 0 always: it is a benchmark split, the same for every run.
    """
    # Imported here: scikit-learn is slow to import and most runs never ask for digits.
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    x = bunch.images[:, None].astype(np.float32)  # (N, 8, 8) -> (N, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    info = DataInfo("digits", source, "image", (1, 8, 8), (0.0, 16.0), classes=DIGIT_CLASSES)
    train, test = split_indices(len(x), y, 0.2, 0, "digits")
    return Dataset.from_indices(info, x, y, train, test, keep_order=False)


@register(DATASETS, "mnist")
def load_mnist(source: str = "mnist", *, data_dir: Path | None = None, download: bool = True) -> Dataset:
    """MNIST (LeCun et al. 1998): images (N, 1, 28, 28) in 0..255, official 60000/10000 split."""
    return load_idx_builtin("mnist", source, data_dir=data_dir, download=download)


@register(DATASETS, "fashion-mnist")
def load_fashion_mnist(
    source: str = "fashion-mnist", *, data_dir: Path | None = None, download: bool = True
) -> Dataset:
    """Fashion-MNIST (Xiao et al. 2017): images (N, 1, 28, 28) in 0..255, official 60000/10000 split."""
    return load_idx_builtin("fashion-mnist", source, data_dir=data_dir, download=download)


def load_idx_builtin(
    name: str, source: str, *, data_dir: str | os.PathLike | None, download: bool
) -> Dataset:
    """Find (or download) the four IDX files of built-in ``name`` and load them."""
    # (directory, how to repair a damaged file there, or None for the user's own unchecked files)
    candidates: list[tuple[Path, str | None]] = []
    user_dir = data_dir if data_dir is not None else os.environ.get("VAELAB_DATA") or None
    if user_dir is not None:
        if not Path(user_dir).is_dir():
            origin = "data_dir" if data_dir is not None else "$VAELAB_DATA"
            raise FileNotFoundError(
                f"{name}: {origin} {user_dir} is not a directory; give a folder holding the IDX files"
            )
        candidates += [(Path(user_dir), None), (Path(user_dir) / name, None)]
    if name in SYSTEM_DIRS:
        package, system_dir = SYSTEM_DIRS[name]
        candidates.append((system_dir, f"reinstall the package {package}"))
    cache = cache_dir() / name
    candidates.append((cache, "delete it and retry"))

    for directory, repair in candidates:
        files = find_split_files(directory)
        if len(files) == len(SPLIT_FILES):
            return _read_split(name, source, files, repair)
        if files and repair is None:
            missing = ", ".join(SPLIT_FILES[r] for r in SPLIT_FILES if r not in files)
            raise FileNotFoundError(
                f"{directory}: has some {name} IDX files but not {missing} (plain or .gz); all four are "
                "needed"
            )

    problem = "downloads are off"
    if download:
        try:
            _download_missing(name, cache)
        except _DownloadFailed as e:
            problem = f"download failed: {e}"
        else:
            return _read_split(name, source, find_split_files(cache), "delete it and retry")
    ways = [
        "put the four IDX files ("
        + ", ".join(SPLIT_FILES.values())
        + ", optionally .gz) in --data-dir or $VAELAB_DATA"
    ]
    if name in SYSTEM_DIRS:
        ways.append(f"install them with `apt-get install {SYSTEM_DIRS[name][0]}`")
    ways.append(f"connect to the internet to download them into {cache}")
    looked = ", ".join(str(d) for d, _ in candidates)
    raise FileNotFoundError(
        f"{name}: dataset files not found (looked in {looked}; {problem}); either {', or '.join(ways)}"
    )


def _read_split(name: str, source: str, files: dict[str, Path], repair: str | None) -> Dataset:
    """Decode the four files, checking their SHA-256 unless they are the user's (``repair`` None)."""
    arrays = {}
    for role, path in files.items():
        raw = read_idx_bytes(path)
        if repair is not None:
            _check_sha256(raw, SHA256[name][SPLIT_FILES[role]], f"{path} is damaged", repair)
        arrays[role] = decode_idx(raw, str(path))
    return split_dataset(arrays, files, name=name, source=source, classes=CLASSES[name])


def _check_sha256(raw: bytes, expected: str, what: str, repair: str) -> None:
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise ValueError(f"{what} (sha256 {actual}, expected {expected}); {repair}")


class _DownloadFailed(Exception):
    """Every mirror failed for one file (network errors only; a bad checksum raises ValueError)."""


def _download_missing(name: str, cache: Path) -> None:
    """Download the files of ``name`` that the cache lacks, trying each mirror in turn.

    Each file goes to a temp file beside its target, is checked, then renamed into place, so a
    failed download or check leaves nothing behind and the cache only ever holds good files.
    """
    cache.mkdir(parents=True, exist_ok=True)
    present = find_split_files(cache)
    for role, file in SPLIT_FILES.items():
        if role in present:
            continue
        errors = []
        for base in URLS[name]:
            url = f"{base}{file}.gz"
            fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{file}.", suffix=".part")
            tmp = Path(tmp_name)
            try:
                try:
                    with (
                        os.fdopen(fd, "wb") as out,
                        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response,
                    ):
                        shutil.copyfileobj(response, out)
                except (OSError, http.client.HTTPException, ValueError) as e:
                    errors.append(f"{url}: {one_line(e)}")
                    continue  # a network problem: try the next mirror
                _check_download(tmp, url, SHA256[name][file])
                os.replace(tmp, cache / f"{file}.gz")
                break
            finally:
                tmp.unlink(missing_ok=True)
        else:
            raise _DownloadFailed("; ".join(errors))


def _check_download(tmp: Path, url: str, sha256: str) -> None:
    """Raise ``ValueError`` unless the gzip file ``tmp`` decompresses to bytes with ``sha256``."""
    what, repair = f"download of {url} is damaged", "nothing was saved; retry later"
    try:
        raw = gzip.decompress(tmp.read_bytes())
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{what} (not valid gzip: {one_line(e)}); {repair}") from None
    _check_sha256(raw, sha256, what, repair)
