"""vaelab.export: outputs written a chunk at a time, and the size of an output checked before any work."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from vaelab import export
from vaelab.data import DataInfo

DIGITS = DataInfo("digits", "digits", "image", (1, 8, 8), (0.0, 16.0))
TABLE = DataInfo("t", "t.csv", "table", (3,), (-1.0, 1.0), columns=("a", "b", "c"))


def test_chunks_written_to_npy_and_csv_equal_the_array_written_at_once(tmp_path) -> None:
    x = np.random.default_rng(0).normal(size=(2500, 3)).astype(np.float32)
    parts = [x[i:i + 1000] for i in range(0, len(x), 1000)]
    export.write_chunks(tmp_path / "c.npy", iter(parts), len(x), TABLE)
    export.write_npy(tmp_path / "a.npy", x)
    assert (tmp_path / "c.npy").read_bytes() == (tmp_path / "a.npy").read_bytes()
    export.write_chunks(tmp_path / "c.csv", iter(parts), len(x), TABLE)
    export.write_data(tmp_path / "a.csv", x, TABLE)
    assert (tmp_path / "c.csv").read_text() == (tmp_path / "a.csv").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "a.npy", "c.csv", "c.npy"]  # no temp files


def test_a_large_npy_is_written_with_one_chunk_in_memory(tmp_path) -> None:
    chunk, n_chunks = (1000, 1, 8, 8), 100  # 25.6 MB in all, 256 kB a chunk
    made = []

    def chunks():
        for i in range(n_chunks):
            made.append(i)
            yield np.full(chunk, i, dtype=np.float32)

    tracemalloc.start()
    try:
        export.write_chunks(tmp_path / "big.npy", chunks(), n_chunks * chunk[0], DIGITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(made) == n_chunks
    assert peak < 4 * np.prod(chunk) * 4  # a few chunks at most, not the 25.6 MB of the whole
    x = np.load(tmp_path / "big.npy", mmap_mode="r")
    assert x.shape == (100_000, 1, 8, 8) and x[0, 0, 0, 0] == 0 and x[-1, 0, 0, 0] == 99


def test_chunks_that_fall_short_of_n_leave_no_file(tmp_path) -> None:
    with pytest.raises(ValueError, match="got 4 examples"):
        export.write_chunks(tmp_path / "x.npy", iter([np.zeros((4, 3), np.float32)]), 5, TABLE)
    assert list(tmp_path.iterdir()) == []


def test_sizes_are_read_and_shown_in_1024_based_units() -> None:
    assert export.parse_size("4G") == 4 * 2**30
    assert export.parse_size("1.5m") == 3 * 2**19
    assert export.parse_size("1000") == 1000
    assert export.parse_size("2GiB") == 2 * 2**30
    for bad in ("0", "-1", "lots", "4X", ""):
        with pytest.raises(ValueError, match=f"--max-bytes {bad} is not allowed; give a size in bytes > 0"):
            export.parse_size(bad)
    assert [export.format_size(s) for s in (300, 5000, 10**7 * 256, 3 * 2**40)] == \
        ["300 B", "4.88 KiB", "2.38 GiB", "3 TiB"]


def test_an_output_too_large_is_refused_with_its_estimate_and_the_limit() -> None:
    with pytest.raises(ValueError) as err:
        export.check_output_size("x.npy", 10**7, DIGITS, export.MAX_OUTPUT_BYTES, flag="-n", value=10**7)
    assert str(err.value) == (
        "-n 10000000 is not allowed; 10,000,000 examples of 64 values as .npy come to about 2.38 GiB "
        "(10,000,000 x 64 x 4 bytes), above the limit of 1 GiB: give a smaller -n, or raise the limit with "
        "--max-bytes 3G (or $VAELAB_MAX_OUTPUT_BYTES)")
    # CSV text takes about 12 bytes a value: three times a .npy
    export.check_output_size("x.npy", 10**6, DIGITS, 300 * 2**20, flag="-n", value=10**6)
    with pytest.raises(ValueError, match=r"about 732 MiB \(1,000,000 x 64 x 12 bytes\), above the limit "):
        export.check_output_size("x.csv", 10**6, DIGITS, 300 * 2**20, flag="-n", value=10**6)
    export.check_output_size("x.npy", 10**9, DIGITS, None, flag="-n", value=0)  # no limit: bounded by input


def test_a_png_of_more_pictures_than_it_can_show_is_refused() -> None:
    export.check_output_size("x.png", 2500, DIGITS, export.MAX_OUTPUT_BYTES, flag="-n", value=2500)
    with pytest.raises(ValueError, match=r"^-n 2501 is not allowed; a PNG of 2,501 images is more than a "
                                         r"picture can show \(at most 2,500\): give a smaller -n, or --out "
                                         r"FILE.npy for all of them$"):
        export.check_output_size("x.png", 2501, DIGITS, None, flag="-n", value=2501)
    with pytest.raises(ValueError, match="a PNG of 2,600 images"):  # originals above reconstructions
        export.check_output_size("x.png", 1300, DIGITS, None, flag="-n", value=1300, pictures=2600)
    music = DataInfo("folk", "folk", "sequence", (32,), (0.0, 26.0), pitch_range=(60, 84), voices=("melody",),
                     steps_per_quarter=4)
    with pytest.raises(ValueError, match="a PNG of 101 piano rolls .* --out FILE.mid or FILE.npy"):
        export.check_output_size("x.png", 101, music, None, flag="--variations", value=101)
