"""vaelab interpolate, attribute and traverse (vaelab.cli.latent) against the library, and their errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import fails, is_png, ok, train_latent_runs
from PIL import Image

import vaelab
from vaelab import latent

N_TEST = 360  # rows in the digits test split


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=np.float64)


def recon(model: vaelab.Autoencoder, x: np.ndarray) -> np.ndarray:
    return model.reconstruct(torch.from_numpy(x)).numpy()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Tiny runs trained once per module (cli_helpers.train_latent_runs)."""
    return train_latent_runs(tmp_path_factory.mktemp("latent-runs"))


# -- interpolate ---------------------------------------------------------------------------------

def test_interpolate_npy_ends_at_the_reconstructions_of_both_rows(runs, digits, capsys, tmp_path):
    ok(capsys, "interpolate", runs["vae4"], "--from", 3, "--to", 10, "--steps", 5, "--out", "i.npy")
    frames = np.load(tmp_path / "i.npy")
    assert frames.shape == (5, 1, 8, 8)
    expected = recon(vaelab.load(runs["vae4"]), digits.x_test[[3, 10]])
    assert np.allclose(frames[[0, -1]], expected, atol=1e-5)
    assert not np.allclose(frames[1], frames[0], atol=1e-3)  # the middle moves


def test_interpolate_lerp_matches_the_library_and_png_is_written(runs, digits, capsys, tmp_path):
    ok(capsys, "interpolate", runs["vae2"], "--from", 0, "--to", 1, "--method", "lerp",
       "--split", "train", "--out", "i.npy")
    direct = latent.interpolate(vaelab.load(runs["vae2"]), digits.x_train[:1], digits.x_train[1:2],
                                steps=8, method="lerp").decoded.numpy()
    assert np.allclose(np.load(tmp_path / "i.npy"), direct, atol=1e-5)
    out = ok(capsys, "interpolate", runs["vae2"], "--from", 0, "--to", 1, "--out", "i.png")
    assert is_png(tmp_path / "i.png") and "i.png" in out


def test_interpolate_reads_endpoints_from_npy_and_image_files(runs, digits, capsys, tmp_path):
    np.save(tmp_path / "row.npy", digits.x_test[7])  # (1, 8, 8)
    grey = np.random.default_rng(0).integers(0, 256, size=(8, 8), dtype=np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "pic.png")  # RGB, equal channels
    ok(capsys, "interpolate", runs["vae4"], "--from", "row.npy", "--to", "pic.png", "--steps", 3,
       "--out", "i.npy")
    frames = np.load(tmp_path / "i.npy")
    picture = (grey / 255.0 * 16.0).astype(np.float32)[None, None]  # digits are 0..16
    expected = recon(vaelab.load(runs["vae4"]), np.concatenate([digits.x_test[7:8], picture]))
    assert np.allclose(frames[[0, -1]], expected, atol=1e-5)


def test_interpolate_table_csv_has_step_and_the_columns(runs, capsys, tmp_path):
    (tmp_path / "one.csv").write_text("c,b,a\n-3.1,55,0.5\n")  # another column order
    ok(capsys, "interpolate", runs["table"], "--from", 2, "--to", "one.csv", "--steps", 4,
       "--out", "i.csv")
    header, rows = read_csv(tmp_path / "i.csv")
    assert header == ["step", "a", "b", "c"]
    assert rows.shape == (4, 4) and rows[:, 0].tolist() == [0, 1, 2, 3]
    data = vaelab.load_dataset(runs["csv"], label_column="kind")
    ends = np.stack([data.x_test[2], np.array([0.5, 55.0, -3.1], dtype=np.float32)])
    assert np.allclose(rows[[0, -1], 1:], recon(vaelab.load(runs["table"]), ends), rtol=1e-5)


# -- attribute -----------------------------------------------------------------------------------

def test_attribute_npy_strength_zero_is_the_reconstruction_and_vector_is_saved(
        runs, digits, capsys, tmp_path):
    ok(capsys, "attribute", runs["vae4"], "--label", 0, "--strengths", "-1,0,2", "--out", "a.npy")
    shifted = np.load(tmp_path / "a.npy")
    assert shifted.shape == (4, 3, 1, 8, 8)
    model = vaelab.load(runs["vae4"])
    rows = np.flatnonzero(digits.y_test != 0)[:4]  # default: the first 4 test rows that are no 0
    assert np.allclose(shifted[:, 1], recon(model, digits.x_test[rows]), atol=1e-5)
    vector = np.load(tmp_path / "a.vector.npy")
    direct = latent.label_attribute(model, digits.x_train, digits.y_train, 0).numpy()
    assert vector.shape == (4,) and np.allclose(vector, direct, atol=1e-6)
    assert not np.allclose(shifted[:, 0], shifted[:, 2], atol=1e-3)


def test_attribute_versus_index_and_png(runs, digits, capsys, tmp_path):
    ok(capsys, "attribute", runs["vae4"], "--label", 7, "--vs", 1, "--index", 5, 9,
       "--strengths", "0,1", "--out", "a.png")
    assert is_png(tmp_path / "a.png")
    direct = latent.label_attribute(vaelab.load(runs["vae4"]), digits.x_train, digits.y_train, 7, 1)
    assert np.allclose(np.load(tmp_path / "a.vector.npy"), direct.numpy(), atol=1e-6)


def test_attribute_table_by_class_name_writes_index_strength_and_columns(runs, capsys, tmp_path):
    ok(capsys, "attribute", runs["table"], "--label", "blue", "--vs", "red", "--index", 1, 4,
       "--out", "a.csv")
    header, rows = read_csv(tmp_path / "a.csv")
    assert header == ["index", "strength", "a", "b", "c"]
    assert rows[:, 0].tolist() == [1] * 5 + [4] * 5
    assert rows[:5, 1].tolist() == [-2, -1, 0, 1, 2]
    data = vaelab.load_dataset(runs["csv"], label_column="kind")  # classes ('blue', 'red')
    model = vaelab.load(runs["table"])
    assert np.allclose(rows[[2, 7], 2:], recon(model, data.x_test[[1, 4]]), rtol=1e-5)
    direct = latent.label_attribute(model, data.x_train, data.y_train, 0, 1).numpy()
    assert np.allclose(np.load(tmp_path / "a.vector.npy"), direct, atol=1e-6)


def test_attribute_from_two_lists_of_files(runs, digits, capsys, tmp_path):
    zeros = digits.x_train[digits.y_train == 0][:5]
    others = digits.x_train[digits.y_train == 1][:5]
    with_files = [str(tmp_path / f"with{i}.npy") for i in range(5)]
    without_files = [str(tmp_path / f"without{i}.npy") for i in range(5)]
    for path, row in zip(with_files + without_files, [*zeros, *others], strict=True):
        np.save(path, row)
    ok(capsys, "attribute", runs["vae4"], "--with", *with_files, "--without", *without_files,
       "--index", 2, "--out", "f.npy")
    model = vaelab.load(runs["vae4"])
    direct = latent.attribute_vector(model, zeros, others).numpy()
    assert np.allclose(np.load(tmp_path / "f.vector.npy"), direct, atol=1e-6)
    shifted = np.load(tmp_path / "f.npy")
    assert shifted.shape == (1, 5, 1, 8, 8)
    assert np.allclose(shifted[0, 2], recon(model, digits.x_test[[2]])[0], atol=1e-5)


def test_attribute_needs_one_source_of_examples(runs, capsys, tmp_path):
    np.save(tmp_path / "one.npy", np.zeros((1, 8, 8), dtype=np.float32))
    fails(capsys, "attribute", runs["vae4"], "--out", "x.npy",
          words=("give --label A", "--with FILE... --without FILE..."))
    fails(capsys, "attribute", runs["vae4"], "--with", "one.npy", "--out", "x.npy",
          words=("--with and --without go together",))
    fails(capsys, "attribute", runs["vae4"], "--label", 0, "--with", "one.npy", "--without",
          "one.npy", "--out", "x.npy", words=("--with/--without replace --label/--vs",))
    fails(capsys, "attribute", runs["vae4"], "--with", "nope.npy", "--without", "one.npy",
          "--out", "x.npy", words=("--with nope.npy", "neither a row index nor an existing file"))


# -- traverse ------------------------------------------------------------------------------------

def test_traverse_changes_only_the_traversed_dimension(runs, digits, capsys, tmp_path):
    ok(capsys, "traverse", runs["vae4"], "--index", 6, "--dims", "1,3", "--values", "-1,0,2",
       "--out", "t.npy")
    images = np.load(tmp_path / "t.npy")
    assert images.shape == (2, 3, 1, 8, 8)
    model = vaelab.load(runs["vae4"])
    direct = latent.traverse(model, digits.x_test[6], dims=[1, 3], values=[-1.0, 0.0, 2.0])
    assert np.allclose(images, direct.images.numpy(), atol=1e-5)
    z0 = model.embed(torch.from_numpy(digits.x_test[6:7]))[0]
    changed = (direct.codes != z0).any(dim=1)  # (D, Z): which coordinates differ along each row
    assert changed.tolist() == [[False, True, False, False], [False, False, False, True]]


def test_traverse_default_dims_are_the_most_used_on_the_split(runs, digits, capsys, tmp_path):
    out = ok(capsys, "traverse", runs["vae4"], "--index", 0, "--n-dims", 2, "--range", 2,
             "--steps", 5, "--out", "t.npy")
    model = vaelab.load(runs["vae4"])
    kl = latent.kl_per_dimension(model, digits.x_test)
    top = np.argsort(-kl, kind="stable")[:2].tolist()
    assert f"dims {top[0]},{top[1]} " in out
    direct = latent.traverse(model, digits.x_test[0], dims=top, values=np.linspace(-2, 2, 5))
    assert np.allclose(np.load(tmp_path / "t.npy"), direct.images.numpy(), atol=1e-5)
    ok(capsys, "traverse", runs["vae4"], "--index", 0, "--out", "t.png")
    assert is_png(tmp_path / "t.png")


def test_traverse_table_csv_has_dim_value_and_the_columns(runs, capsys, tmp_path):
    ok(capsys, "traverse", runs["table"], "--index", 0, "--dims", "0,1", "--values", "-1,1",
       "--out", "t.csv")
    header, rows = read_csv(tmp_path / "t.csv")
    assert header == ["dim", "value", "a", "b", "c"]
    assert rows[:, :2].tolist() == [[0, -1], [0, 1], [1, -1], [1, 1]]


# -- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ("interpolate", "--from", 0, "--to", N_TEST),
    ("interpolate", "--from", -1, "--to", 0),
    ("attribute", "--label", 1, "--index", 2, N_TEST + 5),
    ("traverse", "--index", N_TEST)])
def test_row_index_out_of_range_names_the_split_and_its_size(runs, capsys, argv):
    fails(capsys, argv[0], runs["vae4"], *argv[1:], "--out", "x.npy",
          words=("row index out of range", "--split test has 360 rows", "valid: 0..359"))


@pytest.mark.parametrize("command", [("interpolate", "--from", 0, "--to", 1),
                                     ("attribute", "--label", "red"),
                                     ("traverse", "--index", 0)])
def test_png_for_tables_suggests_csv(runs, capsys, command):
    fails(capsys, command[0], runs["table"], *command[1:], "--out", "x.png",
          words=("--out x.png", "PNG output needs image or music data", "table data", "use .csv"))


def test_csv_for_images_and_unknown_suffix_are_refused(runs, capsys):
    fails(capsys, "traverse", runs["vae4"], "--index", 0, "--out", "x.csv",
          words=("CSV output needs table data", "image data", "use .png or .npy"))
    fails(capsys, "interpolate", runs["vae4"], "--from", 0, "--to", 1, "--out", "x.pdf",
          words=("--out x.pdf", "'.pdf'", "allowed: .png, .npy, .csv"))


def test_attribute_unknown_class_lists_the_known_ones(runs, capsys):
    fails(capsys, "attribute", runs["vae4"], "--label", "seven", "--out", "x.npy",
          words=("--label seven", "unknown class", "known classes: 0, 1, 2"))
    fails(capsys, "attribute", runs["table"], "--label", "blue", "--vs", "purple", "--out", "x.csv",
          words=("--vs purple", "unknown class", "known classes: blue, red", "ids 0..1"))


def test_attribute_same_class_twice_is_refused(runs, capsys):
    fails(capsys, "attribute", runs["table"], "--label", "blue", "--vs", 0, "--out", "x.csv",
          words=("--vs 0 is the same class as --label blue", "leave out --vs"))


def test_attribute_needs_labelled_data(runs, capsys):
    fails(capsys, "attribute", runs["table"], "--data", runs["unlabelled"], "--label", "red",
          "--out", "x.csv", words=("--label needs labelled data", "has no labels", "--label-column"))


def test_attribute_class_without_training_rows_is_refused(runs, digits, capsys, tmp_path):
    keep = digits.y_train != 9  # class 9 appears in the test split only
    np.savez(tmp_path / "no9.npz", x_train=digits.x_train[keep], y_train=digits.y_train[keep],
             x_test=digits.x_test, y_test=digits.y_test)
    fails(capsys, "attribute", runs["vae4"], "--data", "no9.npz", "--label", 9, "--out", "x.npy",
          words=("--label 9", "no training rows have this class"))


def test_traverse_dims_and_values_are_checked(runs, capsys):
    argv = ("traverse", runs["vae4"], "--index", 0, "--out", "x.npy")
    fails(capsys, *argv, "--dims", "1,4", words=("--dims 4", "out of range", "0..3"))
    fails(capsys, *argv, "--values", "1,2", "--steps", 3,
          words=("--values lists the values itself", "leave out --range and --steps"))
    fails(capsys, *argv, "--range", 0, words=("--range 0", "range > 0"))
    fails(capsys, *argv, "--n-dims", 0, words=("--n-dims 0", "at least 1 dimension"))


def test_interpolate_steps_and_endpoint_files_are_checked(runs, capsys, tmp_path):
    argv = ("interpolate", runs["vae4"], "--from", 0, "--out", "x.npy")
    fails(capsys, *argv, "--to", 1, "--steps", 1, words=("--steps 1", "at least 2 steps"))
    fails(capsys, *argv, "--to", "missing.npy",
          words=("--to missing.npy", "neither a row index nor an existing file"))
    np.save(tmp_path / "wide.npy", np.zeros((2, 1, 8, 8)))
    fails(capsys, *argv, "--to", "wide.npy", words=("shape (2, 1, 8, 8)", "one input of shape (1, 8, 8)"))
    np.save(tmp_path / "objects.npy", np.array([{}], dtype=object))
    fails(capsys, *argv, "--to", "objects.npy", words=("objects.npy", "not a plain numeric .npy"))
    (tmp_path / "row.csv").write_text("a\n1\n")
    fails(capsys, *argv, "--to", "row.csv",
          words=("file type '.csv' is not allowed for image data", ".npy file or an image file"))
    (tmp_path / "bad.png").write_text("not a picture")
    fails(capsys, *argv, "--to", "bad.png", words=("--to bad.png", "cannot read the image"))


def test_interpolate_table_row_files_are_checked(runs, capsys, tmp_path):
    argv = ("interpolate", runs["table"], "--from", 0, "--out", "x.csv")
    (tmp_path / "two.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    fails(capsys, *argv, "--to", "two.csv", words=("two.csv", "exactly one row", "it has 2 rows"))
    (tmp_path / "ab.csv").write_text("a,b\n1,2\n")
    fails(capsys, *argv, "--to", "ab.csv", words=("lacks column(s) c", "needs a, b, c"))
    (tmp_path / "text.csv").write_text("a,b,c\n1,x,3\n")
    fails(capsys, *argv, "--to", "text.csv", words=("text.csv", "not a number"))


def test_row_indices_count_in_all_rows_of_a_users_file(runs, digits, capsys, tmp_path):
    np.save(tmp_path / "my20.npy", digits.x_test[:20])  # the run's test split of this file has 4 rows
    ok(capsys, "interpolate", runs["vae4"], "--data", "my20.npy", "--from", 15, "--to", 19, "--steps", 3,
       "--out", "i.npy")
    model = vaelab.load(runs["vae4"])
    frames = np.load(tmp_path / "i.npy")
    np.testing.assert_allclose(frames[[0, -1]], recon(model, digits.x_test[[15, 19]]), atol=1e-4)
    np.save(tmp_path / "flat19.npy", digits.x_test[19].reshape(64))  # one image as a flat row
    ok(capsys, "interpolate", runs["vae4"], "--data", "my20.npy", "--from", 15, "--to", "flat19.npy",
       "--steps", 3, "--out", "f.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "f.npy"), frames)
    fails(capsys, "interpolate", runs["vae4"], "--data", "my20.npy", "--split", "test", "--from", 15,
          "--to", 1, "--out", "i.npy", words=("--from 15", "--split test has 4 rows"))
