"""vaelab.data.images: image folders, with and without class subfolders, and their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vaelab.data import load_dataset

pytestmark = pytest.mark.usefixtures("isolated_env")


def write_png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    written = {}
    for cls in ("zebra", "ant"):
        for i in range(3):
            written[(cls, i)] = rng.integers(0, 256, (6, 5), dtype=np.uint8)
            write_png(tmp_path / "pics" / cls / f"{i}.png", written[(cls, i)])
    (tmp_path / "pics" / "ant" / "notes.txt").write_text("not an image")
    ds = load_dataset(tmp_path / "pics", test_fraction=0.5)
    assert ds.info.classes == ("ant", "zebra") and ds.info.shape == (1, 6, 5) and ds.info.name == "pics"
    assert ds.info.value_range == (0.0, 255.0) and len(ds.x_test) == 3
    assert set(ds.y_test.tolist()) == {0, 1}  # stratified: both classes are tested
    x_all, y_all = ds.split("all")
    np.testing.assert_array_equal(y_all, [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(x_all[3, 0], written[("zebra", 0)])


def test_image_folder_resizes_and_goes_rgb_when_any_image_is_colour(tmp_path):
    write_png(tmp_path / "flat" / "a.png", np.full((10, 8), 200, dtype=np.uint8))
    write_png(tmp_path / "flat" / "b.png", np.full((4, 4, 3), [255, 0, 0], dtype=np.uint8))
    ds = load_dataset(tmp_path / "flat", image_size=(3, 5))
    assert ds.info.shape == (3, 3, 5) and ds.y_train is None and ds.info.classes is None
    x_all, _ = ds.split("all")
    np.testing.assert_allclose(x_all[0], 200)  # gray becomes R = G = B
    np.testing.assert_allclose(x_all[1, :, 1, 2], [255, 0, 0])


def test_image_folder_errors(tmp_path):
    write_png(tmp_path / "mixed" / "a.png", np.zeros((4, 4), dtype=np.uint8))
    write_png(tmp_path / "mixed" / "b.png", np.zeros((5, 4), dtype=np.uint8))
    with pytest.raises(
        ValueError,
        match=r"mixed: images differ in size: a.png is 4x4 \(HxW\) but b.png is 5x4; pass image_size",
    ):
        load_dataset(tmp_path / "mixed")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match=r"broken/x.png: cannot read the image"):
        load_dataset(tmp_path / "broken")
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        ValueError, match=r"empty: holds no images and no class subfolders; allowed image files: .png"
    ):
        load_dataset(tmp_path / "empty")
    with pytest.raises(
        ValueError, match=r"image_size=0 is not allowed; allowed: a positive int or \(height, width\)"
    ):
        load_dataset(tmp_path / "mixed", image_size=0)
    write_png(tmp_path / "both" / "cats" / "a.png", np.zeros((4, 4), dtype=np.uint8))
    write_png(tmp_path / "both" / "stray.png", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(
        ValueError, match=r"both: has class subfolders and also loose images such as stray.png"
    ):
        load_dataset(tmp_path / "both")
