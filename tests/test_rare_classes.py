"Rare classes (issue 11): metrics that cannot be computed honestly are refused with a reason, never shown as NaN."
import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from insight_nb.compare import compare, cv_reasons
from insight_nb.core import InsightError
from insight_nb.evaluate import MIN_CLASS_CASES, BINARY_CI, evaluate, interval_reasons, metric_reasons

NAN = re.compile(r"\bnan\b", re.I)


def _binary(n_pos, n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos, int), np.zeros(n - n_pos, int)]
    return y, np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)


def _rare_frame(n_pos, n=200, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(list("xyz"), n)})
    df["target"] = np.where(np.arange(n) < n_pos, "yes", "no")
    df.loc[: n_pos - 1, "a"] += 1.5
    return df


def _prepare(df, target="target"):
    from insight_nb.dataset import prepare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare(df, target)


def _no_nan(obj):
    "JSON without NaN (allow_nan=False raises on it), and no 'nan' in the text."
    text = json.dumps(obj, allow_nan=False)
    assert not NAN.search(text), NAN.search(text)
    return json.loads(text)


def test_min_class_cases_is_ten():
    assert MIN_CLASS_CASES == 10


# ---------------------------------------------------------------- evaluate
def test_six_positives_no_nan_no_intervals_and_reasons_with_counts():
    ev = evaluate(*_binary(6), classes=[0, 1], n_boot=200)
    assert ev.metrics["roc_auc"] is None and ev.metrics["pr_auc"] is None
    assert ev.ci == {} and set(ev.ci_not_computed) == {m for m in BINARY_CI if ev.metrics[m] is not None}
    for why in (*ev.not_computed.values(), *ev.ci_not_computed.values()):
        assert "only 6 positive cases in the 200 evaluated cases" in why and "at least 10" in why
    d = _no_nan(ev.to_dict())
    assert d["metrics"]["roc_auc"] is None and d["not_computed"]["roc_auc"] == ev.not_computed["roc_auc"]
    assert d["class_counts"] == {"negative": 194, "positive": 6} and d["ci"] == {}
    h = ev._repr_html_(figure_png=False)
    assert not NAN.search(h) and "not computed: only 6 positive cases" in h and "none: only 6 positive cases" in h


@pytest.mark.parametrize("n_pos,has_ci", [(9, False), (10, True), (11, True)])
def test_intervals_absent_below_ten_present_at_ten(n_pos, has_ci):
    ev = evaluate(*_binary(n_pos), classes=[0, 1], n_boot=200)
    assert ("roc_auc" in ev.ci) is has_ci and ("log_loss" in ev.ci) is has_ci
    assert (ev.metrics["roc_auc"] is not None) is has_ci
    if has_ci:
        lo, hi = ev.ci["roc_auc"]
        assert lo <= ev.metrics["roc_auc"] <= hi and ev.ci_not_computed == {} and ev.not_computed == {}
    else:
        assert f"only {n_pos} positive cases" in ev.ci_not_computed["log_loss"]


def test_rare_negative_class_counts_too():
    y, p = _binary(195)
    ev = evaluate(np.where(y == 1, "churn", "stay"), p, classes=["stay", "churn"], n_boot=100)
    assert ev.metrics["roc_auc"] is None and "only 5 negative cases" in ev.not_computed["roc_auc"]


def test_min_class_cases_can_be_lowered_explicitly():
    ev = evaluate(*_binary(6), classes=[0, 1], n_boot=100, min_class_cases=5)
    assert ev.metrics["roc_auc"] is not None and "roc_auc" in ev.ci


def test_multiclass_rare_class_per_class_rule():
    rng = np.random.default_rng(3)
    for n_c, rare in ((9, True), (10, False)):
        y = np.r_[np.zeros(120, int), np.ones(80, int), np.full(n_c, 2)]
        P = rng.dirichlet(np.ones(3), len(y)); P[np.arange(len(y)), y] += 1; P /= P.sum(1, keepdims=True)
        ev = evaluate(np.array(["a", "b", "c"])[y], P, classes=["a", "b", "c"], n_boot=100)
        assert "accuracy" in ev.ci and "log_loss" in ev.ci  # case-weighted metrics keep their intervals
        assert ("f1_macro" in ev.ci) is not rare and ("balanced_accuracy" in ev.ci) is not rare
        assert (ev.metrics["roc_auc_ovr"] is None) is rare
        if rare: assert f"only {n_c} cases of class 'c'" in ev.ci_not_computed["f1_macro"]
        _no_nan(ev.to_dict())
        assert not NAN.search(ev._repr_html_(figure_png=False))


def test_reason_helpers():
    assert metric_reasons({"negative": 50, "positive": 10}, "binary") == {}
    r = metric_reasons({"negative": 50, "positive": 3}, "binary", "the test split")
    assert set(r) == {"roc_auc", "pr_auc"} and r["roc_auc"].startswith("only 3 positive cases in the test split")
    assert interval_reasons({"a": 50, "b": 3}, "multiclass", ["accuracy", "f1_macro"]) == {
        "f1_macro": "only 3 cases of class 'b' in y_true; an interval needs at least 10 cases of each class"}


# ---------------------------------------------------------------- compare (leaderboard)
@pytest.fixture(scope="module")
def rare_board():
    ds = _prepare(_rare_frame(6))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        board = compare(ds, ["sk_logreg", "sk_hgb"], cv=5, n_boot=100)
    return board, [str(x.message) for x in w]


def test_leaderboard_six_positives_no_nan(rare_board):
    board, _ = rare_board
    d = _no_nan(board.to_dict())
    h = board._repr_html_()
    assert not NAN.search(h)
    for m in d["models"]:
        assert m["status"] == "ok" and m["cv"]["roc_auc"] is None and m["test"]["roc_auc"] is None and m["test_ci"] == {}
        assert "positive case" in m["not_computed"]["cv"]["roc_auc"] and "at least 10" in m["not_computed"]["cv"]["roc_auc"]
        assert "only 1 positive case in the 40 evaluated cases" in m["not_computed"]["test"]["roc_auc"]
        assert "only 1 positive case" in m["not_computed"]["test_ci"]["log_loss"]
    t = board.table()
    assert t["cv_log_loss"].notna().all() and t["not_computed"].str.contains("cv roc_auc: ").all()


def test_leaderboard_falls_back_to_log_loss_and_says_why(rare_board):
    board, msgs = rare_board
    assert board.primary == "log_loss" and board.best in ("sk_logreg", "sk_hgb")
    best = min((r for r in board.results), key=lambda r: r["cv"]["log_loss"])["name"]
    assert board.best == best  # lower is better
    note = board.protocol["primary_note"]
    assert note in msgs and "roc_auc is not computed" in note and "positive case" in note
    assert "collect more positive cases (there are 5 in the cross-validation rows" in note
    assert "Note: roc_auc is not computed" in board._repr_html_()


def test_cv_reason_suggests_fewer_folds():
    "35 positives: 5 folds hold 7, 3 folds hold 11-12: the note points to -p cv=3, and cv=3 brings ROC AUC back."
    ds = _prepare(_rare_frame(44, n=400))  # 35 in the CV rows, 9 in the test split
    y_cv = ds.y.iloc[ds.split(valid=0.0, test=0.2, seed=0).train].to_numpy()
    assert (y_cv == "yes").sum() == 35
    assert "roc_auc" in cv_reasons("binary", y_cv, ds.classes, cv=5)
    assert cv_reasons("binary", y_cv, ds.classes, cv=3) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b5 = compare(ds, ["sk_logreg"], cv=5, n_boot=50)
        b3 = compare(ds, ["sk_logreg"], cv=3, test=0.25, n_boot=50)
    assert b5.primary == "log_loss" and "use 3-fold CV (-p cv=3)" in b5.protocol["primary_note"]
    assert b3.primary == "roc_auc" and b3.results[0]["cv"]["roc_auc"] is not None and "primary_note" not in b3.protocol


def test_multiclass_rare_class_keeps_accuracy_primary():
    rng = np.random.default_rng(1)
    df = _rare_frame(0, n=240).drop(columns="target")
    df["t"] = np.r_[["a"] * 130, ["b"] * 100, ["c"] * 10]
    rng.shuffle(df["t"].to_numpy())
    board = compare(_prepare(df, "t"), ["sk_logreg"], cv=5, n_boot=50)
    r = board.results[0]
    assert board.primary == "accuracy" and "primary_note" not in board.protocol
    assert r["cv"]["roc_auc_ovr"] is None and "of class 'c'" in r["not_computed"]["cv"]["roc_auc_ovr"]
    _no_nan(board.to_dict())
    assert not NAN.search(board._repr_html_())


def test_class_too_rare_for_training_folds_is_refused():
    from insight_nb.compare import _check_classes
    with pytest.raises(InsightError, match=r"'c' \(1 case\)") as e: _check_classes({"a": 80, "b": 40, "c": 1}, "multiclass", 121)
    assert "merge" in e.value.fix


def test_telco_path_unchanged(telco_ds):
    board = compare(telco_ds, ["sk_logreg"], cv=3, n_boot=100)
    r = board.results[0]
    assert board.primary == "roc_auc" and "primary_note" not in board.protocol
    assert r["not_computed"] == {"cv": {}, "test": {}, "test_ci": {}}
    assert all(v is not None and math.isfinite(v) for v in (*r["cv"].values(), *r["test"].values()))
    assert 0.83 < r["cv"]["roc_auc"] < 0.87 and set(r["test_ci"]) == set(BINARY_CI)
    assert "not computed" not in board._repr_html_() and "none:" not in board.estimators["sk_logreg"][1]._repr_html_(figure_png=False)
