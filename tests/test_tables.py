"""Tables with numeric and categorical columns and missing cells: how columns are typed (CSV and
DataFrame alike), how a trained model's columns are read back, the mixed likelihood against a
hand computation, finite gradients with missing cells, a model that learns the categories, and the
anomaly scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vaelab
from vaelab import anomaly
from vaelab.distributions import Gaussian
from vaelab.distributions.table import MixedTable

from helpers import COLORS, mixed_csv, table_data


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def write(tmp_path, text: str):
    path = tmp_path / "t.csv"
    path.write_text(text)
    return path


# -- column types ------------------------------------------------------------------------------


def test_text_columns_become_categories_and_missing_cells_nan(tmp_path):
    path = write(tmp_path, "a,b,c\n1,x,5\nNA,y,?\n3,,7\n4,x,none\n")
    ds = vaelab.load_dataset(path, test_fraction=0.5)
    assert ds.info.columns == ("a", "b", "c")
    assert ds.info.categories == ((), ("x", "y"), ())
    x = ds.split("all")[0]
    np.testing.assert_array_equal(np.isnan(x), [[0, 0, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(x[:, 1], [0, 1, np.nan, 0])
    lo, hi = ds.info.value_range  # of the numeric columns' training cells, codes left out
    assert 1.0 <= lo <= hi <= 7.0


def test_named_numeric_column_is_categorical(tmp_path):
    path = write(tmp_path, "a,grade\n1.5,3\n2.5,1\n3.5,10\n4.5,1.0\n")
    ds = vaelab.load_dataset(path, categorical_columns=["grade"], test_fraction=0.5)
    assert ds.info.categories == ((), ("1", "3", "10"))  # numbers sort as numbers; 1.0 is 1
    np.testing.assert_array_equal(ds.split("all")[0][:, 1], [1, 0, 2, 0])


@pytest.mark.parametrize(("text", "kwargs", "words"), [
    ("a,b\n1,2\n2,3\n3,x\n4,5\n", {}, ("column 'b' line 4 has 'x'", "most of the column is numeric")),
    ("a,b\n1,x\n2,\n", {}, ()),  # fine: x is a category, the other cell missing
    ("a,b\n1,\n2,NA\n", {"categorical_columns": ["b"]}, ("column 'b' has no values",)),
    ("a,b\n1,2\n3,4\n", {"categorical_columns": ["c"]}, ("column(s) 'c' are not feature columns",)),
    ("a,b\n1,2\n3,inf\n", {}, ("line 3 column 'b' has inf",)),
])
def test_column_errors(tmp_path, text, kwargs, words):
    path = write(tmp_path, text)
    if not words:
        vaelab.load_dataset(path, test_fraction=0.5, **kwargs)
        return
    with pytest.raises(ValueError) as err:
        vaelab.load_dataset(path, test_fraction=0.5, **kwargs)
    assert "\n" not in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_identifier_column_is_refused(tmp_path):
    rows = "\n".join(f"{i},id{i}" for i in range(250))
    path = write(tmp_path, "a,name\n" + rows + "\n")
    with pytest.raises(ValueError, match="column 'name' has 250 distinct text values in 250 rows"):
        vaelab.load_dataset(path)


def test_dataframe_reads_like_its_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "m.csv"
    mixed_csv(path, n=60)
    from_csv = vaelab.load_dataset(path, categorical_columns=["grade"])
    frame = pd.read_csv(path, keep_default_na=True, na_values=["?"])
    from_frame = vaelab.load_dataset(frame, categorical_columns=["grade"])
    assert from_frame.info.categories == from_csv.info.categories
    np.testing.assert_array_equal(from_frame.split("all")[0], from_csv.split("all")[0])
    frame["flag"] = frame["width"] > 20  # bools are categories
    frame["color"] = frame["color"].astype("category")
    ds = vaelab.load_dataset(frame)
    assert ds.info.categories[-1] == ("False", "True")


def test_a_run_reads_new_data_by_its_columns_and_categories(tmp_path):
    path = tmp_path / "m.csv"
    mixed_csv(path, n=60)
    schema = vaelab.load_dataset(path).info
    # the new file: other column order, an extra column, only some categories
    new = write(tmp_path, "size,extra,height,color,width,grade\n"
                          "large,9,500,blue,30,3\nsmall,9,100,green,20,2\n")
    ds = vaelab.load_dataset(new, schema=schema, test_fraction=0.5)
    assert ds.info.columns == schema.columns and ds.info.categories == schema.categories
    row = ds.split("all")[0][0]
    assert row[1] == schema.categories[1].index("blue") and row[3] == schema.categories[3].index("large")
    assert row[0] == 30 and row[2] == 500
    bad = write(tmp_path, "size,height,color,width,grade\nlarge,500,purple,30,3\nsmall,100,red,20,2\n")
    with pytest.raises(ValueError, match="column 'color' has category 'purple', which the model was not"):
        vaelab.load_dataset(bad, schema=schema, test_fraction=0.5)
    lacking = write(tmp_path, "size,height,width\nlarge,500,30\nsmall,100,20\n")
    with pytest.raises(ValueError, match="lacks column\\(s\\) 'color', 'grade' that the model was"):
        vaelab.load_dataset(lacking, schema=schema, test_fraction=0.5)


# -- the likelihood ----------------------------------------------------------------------------


def test_mixed_log_prob_is_gaussian_plus_categorical_over_present_cells():
    torch.manual_seed(0)
    categories = (0, 3, 0, 2)
    params = torch.randn(5, 1 + 3 + 1 + 2)
    shift, scale = torch.tensor([[10.0, 0, -2.0, 0]]), torch.tensor([[4.0, 1, 0.5, 1]])
    log_scale = torch.tensor([0.3, 0.0, -0.2, 0.0])
    x = torch.tensor([[12.0, 2, -2.5, 1], [9.0, 0, float("nan"), 0], [float("nan"), float("nan"), -1.0, 1],
                      [10.0, 1, -2.0, float("nan")], [7.0, 2, -3.0, 0]])
    got = MixedTable(params, shift, scale, log_scale, categories=categories).log_prob(x)
    want = torch.zeros(5)
    for i in range(5):
        for j, (start, k) in enumerate([(0, 0), (1, 3), (4, 0), (5, 2)]):
            v = x[i, j]
            if math.isnan(v):
                continue
            if k == 0:  # the density of x in data units: N(x; shift + scale * loc, (scale * sigma)^2)
                normal = torch.distributions.Normal(shift[0, j] + scale[0, j] * params[i, start],
                                                    scale[0, j] * log_scale[j].exp())
                want[i] += normal.log_prob(v)
            else:
                want[i] += torch.log_softmax(params[i, start:start + k], 0)[int(v)]
    torch.testing.assert_close(got, want)
    p = MixedTable(params, shift, scale, log_scale, categories=categories)
    assert p.mean.shape == (5, 4) and p.sample(torch.Generator().manual_seed(0)).shape == (5, 4)
    assert set(p.mean[:, 1].tolist()) <= {0.0, 1.0, 2.0} and set(p.mean[:, 3].tolist()) <= {0.0, 1.0}


def test_missing_cells_keep_gradients_finite():
    data = table_data(d=4, n=64)
    x = data.x_train.copy()
    x[::3, 1] = np.nan
    x[::5, 0] = np.nan
    model = vaelab.build_model(data=data, latent_dim=2, hidden=(16,), seed=0)
    model.loss(torch.from_numpy(x)).total.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    g = Gaussian(torch.zeros(2, 2), torch.zeros(1, 2), torch.ones(1, 2), log_scale=torch.zeros(2))
    full = g.log_prob(torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    part = g.log_prob(torch.tensor([[0.0, float("nan")], [0.0, 1.0]]))
    assert part[0] > full[0] and part[1] == full[1]  # the missing cell's term is left out


# -- a model on a mixed table -------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("mixed") / "m.csv"
    outliers = mixed_csv(path, n=500, outliers=10)
    data = vaelab.load_dataset(path, categorical_columns=["grade"], test_fraction=0.2, seed=0)
    model = vaelab.build_model(data=data, latent_dim=3, hidden=(32,), seed=0)
    vaelab.fit(model, data.x_train, config=vaelab.TrainConfig(epochs=30, batch_size=32, lr=3e-3,
                                                              val_fraction=0.0, seed=0, device="cpu"))
    return model.eval(), data, outliers


def test_network_input_is_standardized_values_and_one_hot_codes(mixed_run):
    model, data, _ = mixed_run
    assert model.config.likelihood == "mixed" and model.config.categories == (0, 3, 0, 2, 3)
    x = torch.tensor([[20.0, 2.0, float("nan"), 0.0, float("nan")]])
    u = model.scaler.network_input(x)
    assert u.shape == (1, 1 + 3 + 1 + 2 + 3)
    torch.testing.assert_close(u[0, 1:4], torch.tensor([0.0, 0.0, 1.0]))  # code 2 of 3
    assert u[0, 4] == 0 and u[0, 5:7].tolist() == [1.0, 0.0] and u[0, 7:].tolist() == [0, 0, 0]


def test_mixed_model_learns_the_categories(mixed_run, tmp_path):
    model, data, _ = mixed_run
    x = data.x_test
    recon = model.reconstruct(torch.from_numpy(x)).numpy()
    for j in (1, 3):  # color and size follow from the numeric columns
        present = ~np.isnan(x[:, j])
        assert np.mean(recon[present, j] == x[present, j]) > 0.9
    assert not np.isnan(recon).any()  # missing cells come back filled in
    assert set(np.unique(recon[:, 1])) <= {0.0, 1.0, 2.0}
    model.save(tmp_path)
    again = vaelab.load(tmp_path)
    np.testing.assert_array_equal(again.reconstruct(torch.from_numpy(x)).numpy(), recon)
    assert tuple(again.data_info.categories[1]) == tuple(sorted(COLORS))


def test_mixed_data_needs_the_mixed_likelihood(tmp_path):
    path = tmp_path / "m.csv"
    mixed_csv(path, n=40)
    data = vaelab.load_dataset(path)
    with pytest.raises(ValueError, match="columns \\(color, size\\); they need likelihood='mixed'"):
        vaelab.build_model(data=data, likelihood="gaussian")


# -- anomaly scores ----------------------------------------------------------------------------


def test_anomaly_scores_are_row_wise_and_find_the_outliers(mixed_run):
    model, data, outliers = mixed_run
    x = data.split("all")[0]
    for score in anomaly.SCORES:
        s = anomaly.scores(model, x, score=score)
        assert s.shape == (len(x),) and np.isfinite(s).all()
        np.testing.assert_allclose(anomaly.scores(model, x[::-1][:50], score=score), s[::-1][:50], rtol=1e-5)
        labels = np.zeros(len(x))
        labels[outliers] = 1
        from sklearn.metrics import roc_auc_score

        assert roc_auc_score(labels, s) > 0.9, score
    t = anomaly.threshold(s, 0.05)
    assert np.sum(s > t) == pytest.approx(0.05 * len(x), abs=1)


def test_anomaly_score_errors():
    data = table_data(d=3, n=40)
    ae = vaelab.build_model(data=data, model="ae", hidden=(8,), seed=0)
    with pytest.raises(ValueError, match="score 'elbo' is not allowed \\(this AE has no posterior"):
        anomaly.scores(ae, data.x_test, score="elbo")
    assert anomaly.scores(ae, data.x_test).shape == (len(data.x_test),)  # reconstruction by default
    for bad in (0, 0.7, float("nan"), True):
        with pytest.raises(ValueError, match="contamination=.* is not allowed"):
            anomaly.threshold(np.zeros(3), bad)
