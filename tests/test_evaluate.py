"Behavioural tests for insight_nb.evaluate: metrics against sklearn, intervals, thresholds, calibration, HTML."
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from insight_nb.core import InsightError
from insight_nb.evaluate import (BATCH_METRICS, Calibrator, EvaluationError, bootstrap_ci, binary_metrics,
                                 choose_threshold, evaluate, expected_cost, gains_table, multiclass_metrics,
                                 threshold_for)


def _binary(n=600, seed=0, signal=0.35):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(signal * y + rng.random(n) * (1 - signal), 0, 1)
    return y, np.round(p, 3)  # rounding creates ties, which the batch metrics must handle


def _multi(n=500, k=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)); logits[np.arange(n), y] += 1.2
    P = np.exp(logits); P /= P.sum(1, keepdims=True)
    return y, P


# ---------------------------------------------------------------- point metrics
def test_binary_metrics_match_sklearn():
    y, p = _binary()
    m = binary_metrics(y, p, threshold=0.4)
    pred = (p >= 0.4).astype(int)
    expected = {"roc_auc": skm.roc_auc_score(y, p), "pr_auc": skm.average_precision_score(y, p),
                "accuracy": skm.accuracy_score(y, pred), "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
                "f1": skm.f1_score(y, pred), "precision": skm.precision_score(y, pred),
                "recall": skm.recall_score(y, pred), "log_loss": skm.log_loss(y, p), "brier": skm.brier_score_loss(y, p)}
    assert set(m) == set(expected)
    for k, v in expected.items(): assert m[k] == pytest.approx(v, abs=1e-12), k


def test_binary_metrics_single_class_is_not_computed_with_reason():
    with pytest.warns(UserWarning, match="no positive cases"):
        m = binary_metrics([0, 0, 0, 0], [0.1, 0.7, 0.2, 0.4])
    assert m["roc_auc"] is None and m["pr_auc"] is None and m["recall"] is None and m["balanced_accuracy"] is None
    assert m["accuracy"] == 0.75 and math.isfinite(m["log_loss"])


def test_multiclass_metrics_match_sklearn():
    y, P = _multi()
    labels = ["w", "x", "y", "z"]
    yl = np.array(labels)[y]
    m = multiclass_metrics(yl, P, labels=labels)
    pred = P.argmax(1)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, P))
    assert m["roc_auc_ovr"] == pytest.approx(skm.roc_auc_score(y, P, multi_class="ovr"))


def test_multiclass_missing_class_is_not_computed():
    y, P = _multi()
    keep = y != 3
    with pytest.warns(UserWarning, match="no cases of class 3"):
        m = multiclass_metrics(y[keep], P[keep], labels=[0, 1, 2, 3])
    assert m["roc_auc_ovr"] is None and m["balanced_accuracy"] is None and math.isfinite(m["accuracy"])


# ---------------------------------------------------------------- bootstrap
def test_ci_contains_point_and_narrows_with_more_data():
    widths = []
    for n in (200, 5000):
        y, p = _binary(n=n, seed=1)
        lo, hi = bootstrap_ci(y, p, skm.roc_auc_score, n_boot=500)
        assert lo < skm.roc_auc_score(y, p) < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 3  # ~sqrt(25) = 5 times narrower


def test_ci_alpha_widens_interval():
    y, p = _binary()
    lo90, hi90 = bootstrap_ci(y, p, "brier", alpha=0.10)
    lo99, hi99 = bootstrap_ci(y, p, "brier", alpha=0.01)
    assert lo99 < lo90 < hi90 < hi99


@pytest.mark.parametrize("metric,kind", [(skm.roc_auc_score, "score"), (skm.average_precision_score, "score"),
                                         (skm.brier_score_loss, "score"), (skm.log_loss, "score"),
                                         (skm.accuracy_score, "pred"), (skm.balanced_accuracy_score, "pred")])
@pytest.mark.parametrize("stratified", [True, False])
def test_batch_path_equals_per_resample_sklearn(metric, kind, stratified):
    "The vectorized path and calling sklearn on each resample see the same resamples and agree."
    y, p = _binary(n=300, seed=2)
    s = p if kind == "score" else (p >= 0.5).astype(int)
    fast = bootstrap_ci(y, s, metric, n_boot=200, seed=5, stratified=stratified)
    slow = bootstrap_ci(y, s, lambda a, b: metric(a, b), n_boot=200, seed=5, stratified=stratified)
    assert fast == pytest.approx(slow, abs=1e-9)


@pytest.mark.parametrize("name,fn", [("f1_macro", lambda a, b: skm.f1_score(a, b, average="macro")),
                                     ("balanced_accuracy", skm.balanced_accuracy_score),
                                     ("accuracy", skm.accuracy_score)])
def test_batch_multiclass_label_metrics(name, fn):
    y, P = _multi(n=300)
    labels = np.array(["a", "b", "c", "d"])
    yl, pl = labels[y], labels[P.argmax(1)]
    fast = bootstrap_ci(yl, pl, name, n_boot=200, seed=3)
    slow = bootstrap_ci(yl, pl, fn, n_boot=200, seed=3)
    assert fast == pytest.approx(slow, abs=1e-9)


def test_batch_multiclass_log_loss():
    y, P = _multi(n=300)
    fast = bootstrap_ci(y, P, "log_loss", n_boot=200, seed=3)
    slow = bootstrap_ci(y, P, lambda a, b: skm.log_loss(a, b, labels=[0, 1, 2, 3]), n_boot=200, seed=3)
    assert fast == pytest.approx(slow, abs=1e-9)


def test_bootstrap_binary_threshold_metrics():
    y, p = _binary(n=300)
    pred = (p >= 0.5).astype(int)
    for name, fn in [("f1", skm.f1_score), ("precision", skm.precision_score), ("recall", skm.recall_score)]:
        assert bootstrap_ci(y, pred, name, n_boot=100) == pytest.approx(
            bootstrap_ci(y, pred, lambda a, b: fn(a, b, zero_division=0), n_boot=100), abs=1e-9)


def test_stratified_keeps_class_counts():
    "Stratified AUC is defined on every resample even with 3 positives; plain resampling can lose them."
    y = np.r_[np.zeros(97, int), np.ones(3, int)]
    p = np.linspace(0, 1, 100)
    counts = []
    lo, hi = bootstrap_ci(y, p, lambda a, b: counts.append(a.sum()) or skm.roc_auc_score(a, b), n_boot=50)
    assert set(counts) == {3} and math.isfinite(lo)
    # unstratified: resamples without a positive are undefined; that is said, and too many of them means no interval
    y5 = np.r_[np.zeros(95, int), np.ones(5, int)]
    with pytest.warns(UserWarning, match=r"undefined on \d+ of 2000 resamples .* assumes every class is present"):
        plain = bootstrap_ci(y5, p, "roc_auc", n_boot=2000, stratified=False)
    assert all(math.isfinite(v) for v in plain)
    with pytest.warns(UserWarning, match="rather than a biased interval"):
        one = bootstrap_ci(np.r_[np.zeros(99, int), 1], p, "roc_auc", n_boot=300, stratified=False)
    assert all(math.isnan(v) for v in one)


def test_bootstrap_is_reproducible_and_seeded():
    y, p = _binary()
    assert bootstrap_ci(y, p, "roc_auc", seed=4) == bootstrap_ci(y, p, "roc_auc", seed=4)
    assert bootstrap_ci(y, p, "roc_auc", seed=4) != bootstrap_ci(y, p, "roc_auc", seed=5)


def test_bootstrap_bad_inputs():
    y, p = _binary()
    with pytest.raises(EvaluationError, match="unknown metric"): bootstrap_ci(y, p, "auroc")
    with pytest.raises(EvaluationError, match="rows"): bootstrap_ci(y, p[:-1], "roc_auc")
    with pytest.raises(EvaluationError, match="alpha"): bootstrap_ci(y, p, "roc_auc", alpha=1.5)


# ---------------------------------------------------------------- gains
def test_gains_table_sums_and_shape():
    y, p = _binary(n=1003)
    g = gains_table(y, p)
    assert len(g) == 10 and g.n.sum() == 1003 and g.positives.sum() == y.sum()
    assert g.gain.iloc[-1] == pytest.approx(1.0) and g.cum_share.iloc[-1] == pytest.approx(1.0)
    assert (np.diff(g.gain) >= 0).all()
    assert (g.lift * g.n).sum() / g.n.sum() == pytest.approx(1.0)  # weighted mean lift is 1
    assert g.score_min.iloc[0] >= g.score_max.iloc[-1]
    assert g.lift.iloc[0] > 1 > g.lift.iloc[-1]  # an informative model front-loads positives


def test_gains_table_more_bins_than_rows():
    g = gains_table([1, 0, 1], [0.9, 0.1, 0.6], n_bins=10)
    assert len(g) == 3 and list(g.positives) == [1, 1, 0]


# ---------------------------------------------------------------- thresholds
@pytest.mark.parametrize("costs", [dict(cost_fp=1, cost_fn=5), dict(cost_fp=3, cost_fn=1),
                                   dict(cost_fp=1, cost_fn=2, benefit_tp=4, benefit_tn=0.5)])
def test_choose_threshold_beats_brute_force_grid(costs):
    y, p = _binary(n=400, seed=7)
    c = choose_threshold(y, p, **costs)
    grid = np.linspace(0, 1.001, 2002)
    best_grid = min(expected_cost(y, p, t, **costs) for t in grid)
    assert c.expected_cost <= best_grid + 1e-12
    assert c.expected_cost == pytest.approx(expected_cost(y, p, c.threshold, **costs))
    assert c.expected_cost_at_05 == pytest.approx(expected_cost(y, p, 0.5, **costs))
    assert c.total_cost == pytest.approx(c.expected_cost * len(y))
    assert sum(c.confusion.values()) == len(y) and sum(c.confusion_at_05.values()) == len(y)
    json.dumps(c.to_dict())
    assert "<table" in c._repr_html_()


def test_choose_threshold_extremes():
    y = np.array([0, 0, 1, 1]); p = np.array([0.2, 0.4, 0.6, 1.0])
    # false negatives free: never flag anyone (threshold above every probability, including 1.0)
    c = choose_threshold(y, p, cost_fp=1, cost_fn=0)
    assert c.confusion["tp"] + c.confusion["fp"] == 0 and c.expected_cost == 0
    # false positives free: flag everyone
    c = choose_threshold(y, p, cost_fp=0, cost_fn=1)
    assert c.confusion["fn"] == 0 and c.expected_cost == 0


def test_threshold_for_precision_and_recall_brute_force():
    y, p = _binary(n=300, seed=9)
    ts = np.unique(p)
    r = threshold_for(y, p, recall=0.8)
    assert r.recall >= 0.8 and r.recall == pytest.approx(skm.recall_score(y, p >= r.threshold))
    assert all(skm.recall_score(y, p >= t) < 0.8 for t in ts[ts > r.threshold])
    q = threshold_for(y, p, precision=0.8)
    assert q.precision >= 0.8 and q.precision == pytest.approx(skm.precision_score(y, p >= q.threshold))
    lower = [t for t in ts[ts < q.threshold] if skm.recall_score(y, p >= t) < 1]
    assert all(skm.precision_score(y, p >= t) < 0.8 for t in lower)
    json.dumps(q.to_dict())
    with pytest.raises(EvaluationError, match="no threshold reaches"): threshold_for(y, np.full(len(y), 0.5), precision=0.99)


# ---------------------------------------------------------------- calibration
@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibrator_round_trip_and_improves_brier(method):
    rng = np.random.default_rng(0)
    p_true = rng.random(3000)
    y = (rng.random(3000) < p_true).astype(int)
    p_model = p_true ** 3  # badly under-confident on positives
    cal_idx, test_idx = np.arange(1500), np.arange(1500, 3000)
    cal = Calibrator(method).fit(p_model[cal_idx], y[cal_idx])
    out = cal.transform(p_model[test_idx])
    assert ((out >= 0) & (out <= 1)).all()
    assert skm.brier_score_loss(y[test_idx], out) < skm.brier_score_loss(y[test_idx], p_model[test_idx])
    state = json.loads(json.dumps(cal.to_dict()))
    assert np.array_equal(Calibrator.from_dict(state).transform(p_model), cal.transform(p_model))


def test_calibrator_errors():
    with pytest.raises(EvaluationError, match="not fitted"): Calibrator().transform([0.2])
    with pytest.raises(EvaluationError, match="single class"): Calibrator().fit([0.2, 0.3], [1, 1])
    with pytest.raises(EvaluationError, match="unknown method"): Calibrator("beta")


# ---------------------------------------------------------------- evaluate
def test_evaluate_binary_labels_and_two_column_proba():
    y, p = _binary()
    labels = np.where(y == 1, "churn", "stay")
    P2 = np.c_[p, 1 - p]  # columns in classes order: churn, stay
    a = evaluate(labels, P2, classes=["churn", "stay"], positive_class="churn", n_boot=200)
    b = evaluate(labels, p, classes=["churn", "stay"], positive_class="churn", n_boot=200)
    assert a.task == "binary" and a.n == len(y) and a.positive_class == "churn"
    assert a.metrics == pytest.approx(binary_metrics(y, p))
    assert a.metrics == pytest.approx(b.metrics)
    assert all(a.ci[k] == pytest.approx(b.ci[k]) for k in b.ci) and set(a.ci) == set(b.ci)
    for k, (lo, hi) in a.ci.items(): assert lo <= a.metrics[k] <= hi, k
    cm = a.confusion_matrix()
    assert list(cm.index) == ["stay", "churn"] and cm.loc["churn", "churn"] == ((p >= 0.5) & (y == 1)).sum()
    assert a.confusion_matrix(threshold=0.0).loc[:, "churn"].sum() == len(y)
    d = json.loads(json.dumps(a.to_dict()))
    assert d["positive_class"] == "churn" and len(d["gains"]) == 10 and d["metrics"]["roc_auc"] == a.metrics["roc_auc"]
    assert d["ci"]["roc_auc"] == list(a.ci["roc_auc"])


def test_evaluate_default_positive_is_second_class():
    y, p = _binary()
    ev = evaluate(y, np.c_[1 - p, p], classes=[0, 1], n_boot=0)
    assert ev.positive_class == 1 and ev.ci == {}
    assert ev.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))


def test_evaluate_multiclass():
    y, P = _multi()
    labels = np.array(["w", "x", "y", "z"])
    ev = evaluate(labels[y], P, classes=labels, n_boot=200)
    assert ev.task == "multiclass" and ev.metrics == pytest.approx(multiclass_metrics(labels[y], P, labels))
    cm = ev.confusion_matrix()
    assert cm.to_numpy().sum() == len(y) and list(cm.columns) == list(labels)
    top = ev.top_confusions(k=3)
    assert list(top.columns[:3]) == ["true", "predicted", "count"] and len(top) == 3
    assert (top["true"] != top["predicted"]).all() and top["count"].is_monotonic_decreasing
    assert top["count"].iloc[0] == max(cm.loc[t, q] for t in labels for q in labels if t != q)
    rep = ev.per_class_report()
    assert rep.support.sum() == len(y) and rep.loc["x", "recall"] == pytest.approx(
        skm.recall_score(y, P.argmax(1), labels=[1], average=None)[0])
    json.dumps(ev.to_dict())
    with pytest.raises(EvaluationError): ev.plot_gains()


def test_html_escapes_class_labels():
    bad = "<script>alert(1)</script>"
    y = np.array([bad, "ok"] * 30); p = np.tile([0.8, 0.3], 30)
    for ev in (evaluate(y, p, classes=["ok", bad], n_boot=50, name="<b>m</b>"),
               evaluate(np.r_[y, ["third"] * 4], np.r_[np.tile([[.1, .7, .2], [.8, .1, .1]], (30, 1)), [[.2, .2, .6]] * 4],
                        classes=["ok", bad, "third"], n_boot=50)):
        h = ev._repr_html_()
        assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt;" in h and "<b>m</b>" not in h
        assert 'src="data:image/png;base64,' in h


def test_plots_and_figure_leave_no_open_figures():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    y, p = _binary()
    ev = evaluate(y, p, classes=[0, 1], n_boot=0)
    plt.close("all")
    fig = ev.figure()
    assert len(fig.axes) == 4
    for f in (ev.plot_roc, ev.plot_pr, ev.plot_calibration, ev.plot_gains):
        assert f(ax=fig.axes[0]) is fig.axes[0]
    plt.close("all")
    ev._repr_html_()
    assert plt.get_fignums() == []


def test_evaluate_does_not_import_torch():
    import subprocess
    code = "import sys, insight_nb.evaluate as e; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("call,match", [
    (lambda: evaluate(["a", "b"], [[.5, .5, 0], [.2, .8, 0]], classes=["a", "b"]), "shape"),
    (lambda: evaluate(["a", "b", "c"], [[.5, .5], [.2, .8], [.1, .9]], classes=["a", "b", "c"]), "shape"),
    (lambda: evaluate(["a", "b"], [0.5, 1.2], classes=["a", "b"]), "outside"),
    (lambda: evaluate(["a", "b"], [0.5, np.nan], classes=["a", "b"]), "NaN"),
    (lambda: evaluate(["a", "B"], [0.5, 0.4], classes=["a", "b"]), "'B'"),
    (lambda: evaluate([1, 0], [0.5, 0.4], classes=["0", "1"]), "not in classes"),
    (lambda: evaluate(["a", "b"], [0.5, 0.4], classes=["a", "b"], positive_class="c"), "positive_class"),
    (lambda: evaluate(["a", "a"], [0.5, 0.4], classes=["a"]), "at least two"),
    (lambda: evaluate(["a", "b", "c"], [[.5, .6, 0]] * 3, classes=["a", "b", "c"]), "sum"),
    (lambda: binary_metrics([0, 1, 2], [.1, .2, .3]), "0/1"),
    (lambda: binary_metrics([0, 1], [.1, .2, .3]), "rows"),
    (lambda: choose_threshold([0, 1], ["x", "y"]), "numeric"),
])
def test_bad_input_errors(call, match):
    with pytest.raises(EvaluationError, match=match) as e: call()
    assert isinstance(e.value, InsightError) and e.value.where


def test_german_credit_cost_threshold_generalises(shared_data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    df = pd.read_csv(shared_data / "german_credit" / "german_credit.csv")
    X = pd.get_dummies(df.drop(columns="class"), dtype=float); y = (df["class"] == "bad").astype(int).to_numpy()
    X = (X - X.mean()) / X.std().replace(0, 1)
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.5, stratify=y, random_state=1)
    Xc, Xt, yc, yt = train_test_split(Xb, yb, test_size=0.5, stratify=yb, random_state=1)
    clf = LogisticRegression(max_iter=2000).fit(Xa, ya)
    pc, pt = clf.predict_proba(Xc)[:, 1], clf.predict_proba(Xt)[:, 1]
    ch = choose_threshold(yc, pc, cost_fp=1, cost_fn=5)
    assert ch.threshold < 0.5
    assert expected_cost(yt, pt, ch.threshold, 1, 5) < expected_cost(yt, pt, 0.5, 1, 5)
