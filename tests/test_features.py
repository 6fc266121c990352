"""TabularFeatures: fitted on training rows only, JSON state, unseen categories, clear errors."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from insight_nb.core import InsightError, InsightWarning, SchemaError
from insight_nb.features import TabularFeatures
from insight_nb.schema import infer_schema


@pytest.fixture(scope="module")
def telco():
    from insight_nb.dataset import prepare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare("demo:telco_churn")
    return ds, ds.split(valid=0.15, test=0.2, seed=0)


def toy_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "num": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
        "flag": rng.choice([0.0, 1.0], n),
        "city": rng.choice([f"c{i}" for i in range(30)], n),
        "plan": np.r_[rng.choice(["a", "b", "c"], n - 3), ["rare1", "rare1", "rare2"]],
        "when": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 900, n), unit="D") + pd.to_timedelta(rng.integers(0, 24, n), unit="h"),
        "note": ["a few words of text"] * n,
        "user_id": [f"u{i}" for i in range(n)],
    })


@pytest.fixture(scope="module")
def toy():
    df = toy_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch = infer_schema(df, roles={"note": "text"})
    return df, sch


def test_no_leakage_valid_rows_do_not_change_anything(telco):
    ds, sp = telco
    f1 = TabularFeatures().fit(ds.frame.iloc[sp.train], ds.schema)
    va = ds.frame.iloc[sp.valid]
    base = f1.transform(va, report=False)
    # changing some validation rows changes only those rows
    va2 = va.copy()
    va2.iloc[:100, va2.columns.get_loc("MonthlyCharges")] = 1e5
    va2.iloc[:100, va2.columns.get_loc("InternetService")] = None
    out = f1.transform(va2, report=False)
    np.testing.assert_array_equal(out.numeric[100:], base.numeric[100:])
    assert not np.array_equal(out.numeric[:100], base.numeric[:100])
    # row-wise: a transform of one row equals that row of a batch transform
    np.testing.assert_array_equal(f1.transform(va.iloc[[7]], report=False).numeric[0], base.numeric[7])
    # the fitted state depends on the training rows only
    f2 = TabularFeatures().fit(ds.frame.iloc[sp.train], ds.schema)
    assert f1.to_dict() == f2.to_dict()
    f3 = TabularFeatures().fit(pd.concat([ds.frame.iloc[sp.train], va2]), ds.schema)
    assert f3.to_dict() != f1.to_dict()


def test_training_statistics(telco):
    ds, sp = telco
    tr = ds.frame.iloc[sp.train]
    f = TabularFeatures().fit(tr, ds.schema)
    spec = {c["name"]: c for c in f.columns_}
    assert spec["TotalCharges"]["median"] == pytest.approx(tr["TotalCharges"].median())
    # a missing value is imputed with the training median, then scaled, and flagged
    row = ds.frame.iloc[sp.valid[:1]].copy()
    row["TotalCharges"] = np.nan
    x = f.transform(row, report=False).numeric[0]
    s = spec["TotalCharges"]
    assert x[f.feature_names_.index("TotalCharges")] == pytest.approx((s["median"] - s["mean"]) / s["scale"], rel=1e-5)
    assert x[f.feature_names_.index("TotalCharges__missing")] == 1
    # no indicator for columns without missing values in training; NaN there is still imputed
    assert "tenure__missing" not in f.feature_names_
    row["tenure"] = np.nan
    assert np.isfinite(f.transform(row, report=False).numeric).all()
    assert f.cardinalities_ == [] and f.categorical_names_ == []


def test_kinds_and_shapes(toy):
    df, sch = toy
    f = TabularFeatures(max_onehot=10).fit(df, sch)
    b = f.transform(df, report=False)
    assert b.numeric.dtype == np.float32 and b.categorical.dtype == np.int64
    assert b.numeric.shape == (len(df), f.n_numeric_) and b.categorical.shape == (len(df), 1)
    assert f.categorical_names_ == ["city"] and f.cardinalities_[0] == (df.city.value_counts() >= 5).sum() + 1
    assert b.categorical.min() >= 1 and b.categorical.max() < f.cardinalities_[0] or (b.categorical == 0).any()
    assert {"when.year", "when.month", "when.dayofweek", "when.hour"} <= set(f.feature_names_)
    assert "plan=(other)" in f.feature_names_ and "num__missing" in f.feature_names_ and "flag" in f.feature_names_
    assert "note" in f.skipped_ and "user_id" not in f.input_columns_
    assert np.isfinite(b.numeric).all()
    # one-hot rows sum to one (rare levels go to (other))
    cols = [i for i, n in enumerate(f.feature_names_) if n.startswith("plan=")]
    np.testing.assert_array_equal(b.numeric[:, cols].sum(1), np.ones(len(df)))
    assert TabularFeatures(embed_above=0).fit(df, sch).categorical_names_ == ["city", "plan"]


def test_unseen_categories_counted_and_warned(toy):
    df, sch = toy
    f = TabularFeatures(max_onehot=10).fit(df, sch)
    new = df.iloc[:4].copy()
    new["city"] = ["c1", "atlantis", "atlantis", None]
    new["plan"] = ["a", "rare1", "brand-new", None]
    with pytest.warns(InsightWarning, match="never seen in training"):
        b = f.transform(new)
    assert b.unknown["city"] == {"unseen": 2, "examples": ["atlantis"]}
    assert b.unknown["plan"]["unseen"] == 1   # rare1 was seen (rare), not unseen
    assert b.n_unseen == 3 and f.last_unknown_ == b.unknown
    assert b.categorical[1, 0] == 0 and b.categorical[2, 0] == 0 and b.categorical[3, 0] == 0
    other = f.feature_names_.index("plan=(other)")
    assert b.numeric[1, other] == 1 and b.numeric[2, other] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f.transform(df.iloc[:50]).n_unseen == 0  # known values: no warning


def test_json_round_trip(toy):
    df, sch = toy
    f = TabularFeatures(max_onehot=10, datetime_parts=("year", "month", "hour", "elapsed_days")).fit(df, sch)
    text = json.dumps(f.to_dict())
    g = TabularFeatures.from_dict(json.loads(text))
    a, b = f.transform(df, report=False), g.transform(df, report=False)
    np.testing.assert_array_equal(a.numeric, b.numeric)
    np.testing.assert_array_equal(a.categorical, b.categorical)
    assert (g.feature_names_, g.cardinalities_, g.n_numeric_) == (f.feature_names_, f.cardinalities_, f.n_numeric_)
    assert g.get_params() == f.get_params()
    unfitted = TabularFeatures.from_dict(TabularFeatures(min_frequency=3).to_dict())
    assert unfitted.min_frequency == 3 and not hasattr(unfitted, "columns_")


@pytest.mark.parametrize("bad, msg", [({"format": "nope"}, "not a TabularFeatures state"),
                                      ({"format": "insight_nb.features/1", "params": {"colour": 1}}, "unknown feature parameters"),
                                      ({"format": "insight_nb.features/1", "params": {}, "columns": [{"name": "x", "kind": "numeric"}]}, "malformed")])
def test_from_dict_errors(bad, msg):
    with pytest.raises(InsightError, match=msg): TabularFeatures.from_dict(bad)


def test_no_usable_features():
    df = pd.DataFrame({"id": [f"u{i}" for i in range(40)], "const": [3.0] * 40, "txt": ["many words in this text"] * 40})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch = infer_schema(df, roles={"txt": "text"})
        with pytest.raises(InsightError, match="no usable feature columns"): TabularFeatures().fit(df, sch)
        with pytest.raises(InsightError, match="no usable feature columns"): TabularFeatures().fit(df)
    with pytest.raises(InsightError, match="no training rows"): TabularFeatures().fit(df.iloc[:0], sch)
    with pytest.raises(InsightError, match="DataFrame"): TabularFeatures().fit(df.to_numpy(), sch)


def test_transform_errors(toy):
    df, sch = toy
    with pytest.raises(InsightError, match="not fitted"): TabularFeatures().transform(df)
    f = TabularFeatures().fit(df, sch)
    with pytest.raises(SchemaError, match="missing"): f.transform(df.drop(columns=["num"]))
    with pytest.raises(InsightError, match="datetime part"): TabularFeatures(datetime_parts=("century",)).fit(df, sch)


def test_schema_inferred_when_not_given():
    df = toy_frame(200, seed=1).drop(columns=["note"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = TabularFeatures().fit(df)
    assert "num" in f.input_columns_ and "user_id" not in f.input_columns_


def test_features_module_does_not_import_torch():
    code = "import sys, insight_nb.features; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
