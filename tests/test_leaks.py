"""The leak check (`clean.leak_scan`): a real post-outcome column is flagged, honest strong predictors are not, and exact
relations between two features are redundancy, not leaks."""
import warnings

import numpy as np
import pandas as pd

from insight_nb.clean import leak_scan
from insight_nb.dataset import prepare
from insight_nb.findings import data_findings
from insight_nb.schema import infer_schema


def _prepare(*a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare(*a, **kw)


def test_loanapp_action_is_a_leak(shared_data):
    "wooldridge::loanapp: `action` records the decision itself (SOURCES.md), the target is `approve`."
    ds = _prepare(shared_data / "gauntlet" / "loanapp.csv", "approve")
    assert "action" in ds.leakage and ds.leakage["action"] >= 0.95
    e = ds.leak_evidence["action"]
    assert e["rule"] == "alone" and e["n"] == len(ds)
    f = [f for f in data_findings(ds) if f.title == "Possible leak: action"]
    assert len(f) == 1 and f[0].severity == "high" and "Check when this value is recorded" in f[0].text
    assert f[0].evidence["column"] == "action"


def test_telco_honest_predictors_are_not_leaks(telco_ds):
    "tenure and Contract are Telco's strongest honest predictors of Churn: the other columns together do better."
    scan = leak_scan(telco_ds.frame, telco_ds.schema)
    assert scan.suspects == {} and telco_ds.leakage == {}
    assert "tenure" in telco_ds.features and "Contract" in telco_ds.features


def test_post_outcome_column_with_noise_is_flagged_by_dominance(telco_ds):
    "A column that repeats Churn with 15% of its values wrong (AUC about 0.85, far below 0.95) is flagged; Telco's own columns are not."
    rng = np.random.default_rng(1)
    y = telco_ds.frame.Churn
    flip = rng.random(len(y)) < 0.15
    df = telco_ds.frame.assign(closing_note=np.where(flip, np.where(y == "Yes", "none", "closed"), np.where(y == "Yes", "closed", "none")))
    scan = leak_scan(df, infer_schema(df, "Churn"))
    assert list(scan.suspects) == ["closing_note"]
    e = scan.suspects["closing_note"]
    assert e["rule"] == "dominance" and 0.8 <= e["solo_cv_auc"] < 0.95 and e["solo_cv_auc"] >= e["rest_cv_auc"]


def test_weak_honest_features_plus_noisy_copy_multiclass():
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 4, n)
    df = pd.DataFrame({"a": y * 0.2 + rng.normal(size=n), "b": rng.choice(list("pqr"), n), "c": rng.normal(size=n),
                       "copy": np.where(rng.random(n) < 0.15, rng.integers(0, 4, n), y), "y": [f"k{v}" for v in y]})
    assert list(leak_scan(df, infer_schema(df, "y")).suspects) == ["copy"]
    honest = df.drop(columns="copy")
    assert leak_scan(honest, infer_schema(honest, "y")).suspects == {}


def test_redundancy_is_low_not_a_leak(telco_ds):
    df = telco_ds.frame.assign(years=telco_ds.frame.tenure / 12,
                               contract_code=telco_ds.frame.Contract.map({"Month-to-month": 1, "One year": 12, "Two year": 24}))
    ds = _prepare(df, "Churn")
    assert ds.leakage == {}
    assert [(p["columns"], p["relation"]) for p in ds.redundancy] == [(["tenure", "years"], "affine"), (["Contract", "contract_code"], "one-to-one")]
    red = [f for f in data_findings(ds) if f.title.startswith("Redundant columns")]
    assert [f.severity for f in red] == ["low", "low"] and not any(f.severity == "high" for f in data_findings(ds))


# --- a numeric target (regression): the same check scored by R², and a target that is a product of two features


def test_telco_totalcharges_is_almost_tenure_times_monthlycharges():
    "Issue 14: TotalCharges as a target is about tenure × MonthlyCharges; the user reads why R² is near 1."
    ds = _prepare("demo:telco_churn", "TotalCharges")
    assert ds.task == "regression" and ds.leakage == {}
    [r] = ds.target_relations
    assert (r["relation"], r["columns"], r["expression"]) == ("product", ["tenure", "MonthlyCharges"], "tenure × MonthlyCharges")
    assert r["corr"] > 0.999 and abs(r["slope"] - 1) < 0.01 and r["n"] == len(ds)
    high = [f for f in data_findings(ds) if f.severity == "high"]
    assert [f.title for f in high] == ["The target is almost tenure × MonthlyCharges"]
    assert "R² is near 1" in high[0].text and high[0].evidence["columns"] == ["tenure", "MonthlyCharges"]


def test_regression_noisy_copy_of_the_target_is_flagged():
    rng = np.random.default_rng(2)
    n = 3000
    a, b, c = rng.normal(size=n), rng.normal(size=n), rng.choice(list("pqr"), n)
    y = a + 0.5 * b + 0.8 * (c == "p") + rng.normal(size=n)
    df = pd.DataFrame({"a": a, "b": b, "c": c, "post": y + rng.normal(size=n) * 0.45 * y.std(), "y": y})
    ds = _prepare(df, "y")
    assert ds.task == "regression" and list(ds.leakage) == ["post"] and ds.target_relations == []
    e = ds.leak_evidence["post"]
    assert e["rule"] == "dominance" and e["score"] == "r2" and 0.5 <= e["solo_cv_r2"] < 0.95 and e["solo_cv_r2"] >= e["rest_cv_r2"]
    f = [f for f in data_findings(ds) if f.title == "Possible leak: post"]
    assert len(f) == 1 and f[0].severity == "high" and "Check when this value is recorded" in f[0].text and "R²" in f[0].text
    close = df.assign(post=y + rng.normal(size=n) * 0.1 * y.std())
    e = leak_scan(close, infer_schema(close, "y")).suspects["post"]
    assert e["rule"] == "alone" and e["solo_r2"] >= 0.95
    honest = df.drop(columns="post")
    scan = leak_scan(honest, infer_schema(honest, "y"))
    assert scan.suspects == {} and scan.relations == []


def test_product_and_ratio_targets_and_cost():
    "A target that is a ratio of two columns is found among many; 100,000 rows cost a sample of 20,000 and well under a minute."
    rng = np.random.default_rng(3)
    n = 100_000
    df = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(20)} | {f"k{i}": rng.choice(list("abcdef"), n) for i in range(5)})
    df["amount"], df["months"] = rng.gamma(2.0, 500.0, n), rng.integers(1, 72, n).astype(float)
    df["y"] = df.amount / df.months * (1 + rng.normal(size=n) * 0.01)
    scan = leak_scan(df, infer_schema(df, "y"))
    assert [(r["relation"], r["expression"]) for r in scan.relations] == [("ratio", "amount / months")]
    assert scan.n_rows == 20_000 and scan.seconds < 60 and scan.suspects == {}
    plain = df.drop(columns="y").assign(y=df.x0 + df.x1 + rng.normal(size=n))
    assert leak_scan(plain, infer_schema(plain, "y")).relations == []


def test_ames_and_credit_balance_flag_nothing(shared_data):
    "Honest regression tables: Sale_Price (ames) and Balance (ISLR Credit) have strong but honest predictors, no product."
    for name, target in [("ames.csv", "Sale_Price"), ("credit_balance.csv", "Balance")]:
        ds = _prepare(shared_data / "gauntlet" / name, target)
        assert ds.task == "regression", name
        assert (ds.leakage, ds.target_relations, ds.redundancy) == ({}, [], []), name
        assert not any(f.severity == "high" for f in data_findings(ds)), name
