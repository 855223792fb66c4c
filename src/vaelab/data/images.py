"""A folder of image files as a dataset: one subfolder per class, or a flat folder without labels.

Images come back (N, C, H, W) with values 0..255: C = 1 when every image is grayscale, else 3
(RGB; an alpha channel is dropped). Pillow is imported only here, when a folder is loaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaelab.data.arrays import one_line
from vaelab.data.dataset import DataInfo, Dataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# Pillow modes that hold one gray channel in 8 bits (or fewer); "P" is checked by its palette.
GRAY_MODES = frozenset({"1", "L", "LA"})
# Modes whose values do not fit 0..255; converting them would clip silently.
WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


def _is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def list_images(folder: Path) -> tuple[list[Path], list[int] | None, tuple[str, ...] | None]:
    """The image files of ``folder`` in load order, their class ids and the class names.

    With subfolders, each (non-hidden) subfolder is a class, in sorted order, holding the images
    directly inside it; without, the folder's own images are unlabeled (ids and classes ``None``).
    """
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    loose = sorted(p for p in folder.iterdir() if _is_image(p))
    allowed = ", ".join(IMAGE_SUFFIXES)
    if not subfolders:
        if not loose:
            raise ValueError(
                f"{folder}: holds no images and no class subfolders; allowed image files: {allowed}"
            )
        return loose, None, None
    if loose:
        raise ValueError(
            f"{folder}: has class subfolders and also loose images such as {loose[0].name}; put every "
            "image in a class subfolder"
        )
    files, ids = [], []
    for class_id, sub in enumerate(subfolders):
        images = sorted(p for p in sub.iterdir() if _is_image(p))
        if not images:
            raise ValueError(f"{sub}: class folder holds no images; allowed image files: {allowed}")
        files += images
        ids += [class_id] * len(images)
    return files, ids, tuple(p.name for p in subfolders)


def image_size_hw(image_size: int | tuple[int, int] | None, where: str) -> tuple[int, int] | None:
    """``image_size`` as (H, W): an int means a square; ``None`` stays ``None``."""
    if image_size is None:
        return None
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in size):
        raise ValueError(
            f"{where}: image_size={image_size!r} is not allowed; allowed: a positive int or (height, width)"
        )
    return size  # type: ignore[return-value]


def load_image_folder(
    folder: Path,
    *,
    source: str,
    image_size: int | tuple[int, int] | None,
    test_fraction: float,
    seed: int,
) -> Dataset:
    """Load every image in ``folder`` into (N, C, H, W) float32 in 0..255, with a seeded split.

    Without ``image_size`` all images must share one size; with it, each is resized to (H, W)
    with Lanczos filtering. ``split("all")`` follows the sorted file order (by class, then name).

    Examples
    --------
    >>> ds = load_image_folder(Path("faces"), source="faces", image_size=32,
    ...                        test_fraction=0.2, seed=0)  # doctest: +SKIP
    >>> ds.info.shape  # doctest: +SKIP
    (3, 32, 32)
    """
    try:  # Pillow is needed only here, so it is imported only here
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise ValueError(
            f"{folder}: loading an image folder needs Pillow; install it: pip install pillow"
        ) from None

    size = image_size_hw(image_size, str(folder))
    files, ids, classes = list_images(folder)
    images = []
    for path in files:
        try:
            with Image.open(path) as im:
                im.load()
                image = im.copy()
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise ValueError(
                f"{path}: cannot read the image ({one_line(e)}); allowed: PNG, JPEG, BMP or GIF files"
            ) from None
        if image.mode in WIDE_MODES:
            raise ValueError(
                f"{path}: has mode {image.mode} (more than 8 bits per channel); allowed: 8-bit gray or "
                "colour images"
            )
        images.append(image)

    gray = all(_is_gray(im) for im in images)
    mode = "L" if gray else "RGB"
    arrays = []
    first = images[0].size
    for path, image in zip(files, images, strict=True):
        image = image.convert(mode)
        if size is not None:
            # Pillow sizes are (width, height); ours are (height, width).
            image = image.resize((size[1], size[0]), Image.Resampling.LANCZOS)
        elif image.size != first:
            w0, h0 = first
            w, h = image.size
            raise ValueError(
                f"{folder}: images differ in size: {files[0].name} is {h0}x{w0} (HxW) but "
                f"{path.relative_to(folder)} is {h}x{w}; "
                "pass image_size (--image-size) to resize them all"
            )
        arrays.append(np.asarray(image, dtype=np.uint8))
    stack = np.stack(arrays)  # (N, H, W) gray or (N, H, W, 3) colour
    x = stack[:, None] if gray else stack.transpose(0, 3, 1, 2)  # -> (N, C, H, W)
    y = None if ids is None else np.asarray(ids, dtype=np.int64)
    info = DataInfo(folder.resolve().name, source, "image", x.shape[1:], (0.0, 255.0), classes=classes)
    return Dataset.from_arrays(info, x.astype(np.float32), y, test_fraction=test_fraction, seed=seed)


def _is_gray(image) -> bool:
    """Whether a Pillow image holds only gray values (a palette image counts if its colours are gray)."""
    if image.mode in GRAY_MODES:
        return True
    if image.mode == "P":
        rgb = np.asarray(image.convert("RGB"))
        return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())
    return False
