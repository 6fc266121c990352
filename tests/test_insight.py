"""From model to insight: drivers, segments, actions, fairness, privacy and findings."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from insight_nb.privacy import mask_text, mask_frame, find_pii, show
from insight_nb.segments import find_segments, wilson
from insight_nb.clusters import clusters
from insight_nb.fairness import fairness, group_rates, gaps, age_bands
from insight_nb.actions import targeting_plan, credit_policy, what_if
from insight_nb.findings import findings, Finding, Findings

XSS = "<script>alert(1)</script>"


# --- privacy ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,text,masked", [
    ("email", "contact jane.doe@example.com now", "contact [EMAIL] now"),
    ("email", "a_b-c+tag@mail.example.co.uk", "[EMAIL]"),
    ("phone", "call +1 415 555 0132", "call [PHONE]"),
    ("phone", "call (555) 123-4567", "call [PHONE]"),
    ("phone", "Call 914-329-0185.", "Call [PHONE]."),
    ("phone", "+44 20 7946 0958", "[PHONE]"),
    ("card", "card 4111 1111 1111 1111", "card [CARD]"),
    ("card", "5500-0000-0000-0004", "[CARD]"),
    ("card", "378282246310005", "[CARD]"),
    ("iban", "IBAN DE89 3704 0044 0532 0130 00", "IBAN [IBAN]"),
    ("iban", "GB82WEST12345698765432", "[IBAN]"),
    ("ip", "from 10.0.0.1 and 192.168.254.17", "from [IP] and [IP]"),
    ("handle", "@united where is my bag @Jet_Blue", "[HANDLE] where is my bag [HANDLE]"),
    ("name", "Hello, my name is Anna Schmidt.", "Hello, my name is [NAME]."),
    ("name", "Dear Mr", "Dear [NAME]"),
    ("name", "Regards, John", "Regards, [NAME]"),
])
def test_mask_each_pattern(kind, text, masked):
    counts = {}
    assert mask_text(text, counts) == masked
    assert counts.get(kind, 0) >= 1

@pytest.mark.parametrize("text", ["24", "70.35", "1169", "5951", "29.85", "1889.5", "12 345", "1,234,567.89", "-73.97651976",
                                  "2015-02-24 11:35:52 -0800", "tenure <= 6", "6 < tenure <= 29", "0<=X<200", ">=7", "1.2.3",
                                  "4111 1111 1111 1112", "GB00WEST12345698765432", "570306133677760513", "999.1.1.1",
                                  "dear customer", "@ 5pm", "Two year", "Electronic check"])
def test_ordinary_values_not_masked(text):
    assert mask_text(text) == text and find_pii(text) == []

def test_mask_frame_numbers_untouched():
    df = pd.DataFrame({"tenure": [24, 1, 72], "MonthlyCharges": [70.35, 29.85, 118.75], "credit_amount": [1169.0, 5951.0, 18424.0],
                       "email": ["a@b.com", "c@d.org", None], "comment": ["ok", "card 4111111111111111", "ip 8.8.8.8"]})
    m, rep = mask_frame(df)
    pd.testing.assert_frame_equal(m[["tenure", "MonthlyCharges", "credit_amount"]], df[["tenure", "MonthlyCharges", "credit_amount"]])
    assert m.comment.tolist() == ["ok", "card [CARD]", "ip [IP]"]
    assert m.email.iloc[0] == "[EMAIL]"
    got = {(r["column"], r["kind"]): r["count"] for r in rep.rows}
    assert got == {("email", "email"): 2, ("comment", "card"): 1, ("comment", "ip"): 1}
    json.dumps(rep.to_dict())

def test_show_escapes_and_masks():
    assert show(XSS) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert show("<b>a@b.com</b>") == "&lt;b&gt;[EMAIL]&lt;/b&gt;"


# --- segments --------------------------------------------------------------------------------------------
def _planted(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.choice(["x", "y", "z"], n), "b": rng.uniform(0, 1, n), "noise": rng.choice(list("pqrstuvw"), n),
                      "u": rng.normal(size=n)})
    p = np.where((X.a == "x") & (X.b > 0.75), 0.6, 0.1)
    y = (rng.uniform(size=n) < p).astype(int)
    disc, hold = np.arange(n // 2), np.arange(n // 2, n)
    fake = disc[(X.noise.iloc[disc] == "q").to_numpy()]
    y[fake[: len(fake) // 2]] = 1           # looks strong on the discovery half only
    return X, y, disc, hold

def test_planted_segment_found_and_spurious_rejected():
    X, y, disc, hold = _planted()
    seg = find_segments(X, y, discovery=disc, holdout=hold, top=3)
    high = seg.kept[seg.kept.kind == "high"]
    assert high.segment.iloc[0].startswith("a = x and b > 0.7")
    assert 0.5 < high.holdout_value.iloc[0] < 0.7
    spurious = seg.table[seg.table.segment == "noise = q"]
    assert len(spurious) == 1 and not spurious.kept.iloc[0] and "held-out" in spurious.reason.iloc[0]
    assert spurious.value.iloc[0] > 0.4                  # it did look strong on discovery rows
    json.dumps(seg.to_dict())

def test_segment_figure_with_a_point_outside_its_interval():
    "A held-out value outside its own interval once crashed the figure (negative xerr) and with it the whole report."
    X, y, disc, hold = _planted()
    seg = find_segments(X, y, discovery=disc, holdout=hold, top=3)
    assert len(seg.kept)
    first = seg.table.index[seg.table.kept][0]
    seg.table.loc[first, "holdout_lo"] = seg.table.loc[first, "holdout_value"] + 0.05   # the point now lies below its interval
    fig = seg.figure()
    assert any("outside their own interval" in t.get_text() for t in fig.axes[0].texts)
    seg._repr_html_()

def test_wilson_matches_formula():
    lo, hi = wilson(10, 100)
    assert abs(lo - 0.05523) < 1e-4 and abs(hi - 0.17437) < 1e-4

def test_clusters_profile():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"v": np.r_[rng.normal(0, 0.3, 300), rng.normal(5, 0.3, 300)], "c": ["a"] * 300 + ["b"] * 300})
    y = np.r_[np.zeros(300), np.ones(300)]
    cl = clusters(X, y, k_range=range(2, 5))
    assert cl.k == 2 and sorted(cl.profile["size"]) == [300, 300]
    assert cl.profile.rate.tolist() == [1.0, 0.0]
    assert "v high" in cl.profile.description.iloc[0]


# --- fairness --------------------------------------------------------------------------------------------
def test_fairness_against_hand_computation():
    y    = [1, 1, 0, 0, 0,   1, 0, 0, 1, 1]
    p    = [0.9, 0.2, 0.6, 0.1, 0.3,   0.8, 0.7, 0.55, 0.95, 0.4]
    grp  = ["a"] * 5 + ["b"] * 5
    f = fairness(y, p, {"g": grp}, threshold=0.5, min_group=1)
    t = f.tables["g"].set_index("group")
    # a: pred 1,0,1,0,0 -> tp 1, fn 1, fp 1, tn 2 ; b: pred 1,1,1,1,0 -> tp 2, fn 1, fp 2, tn 0
    assert t.loc["a", ["tp", "fn", "fp", "tn"]].tolist() == [1, 1, 1, 2]
    assert t.loc["b", ["tp", "fn", "fp", "tn"]].tolist() == [2, 1, 2, 0]
    np.testing.assert_allclose(t.loc["a", ["selection_rate", "tpr", "fpr", "precision"]].astype(float), [2 / 5, 1 / 2, 1 / 3, 1 / 2])
    np.testing.assert_allclose(t.loc["b", ["selection_rate", "tpr", "fpr", "precision"]].astype(float), [4 / 5, 2 / 3, 1.0, 1 / 2])
    g = f.gaps["g"].set_index("metric")
    np.testing.assert_allclose(g.loc["selection_rate", ["difference", "ratio"]].astype(float), [0.4, 0.5])
    np.testing.assert_allclose(g.loc["tpr", "difference"], 1 / 6)
    np.testing.assert_allclose(g.loc["fpr", "difference"], 2 / 3)
    assert {w["metric"] for w in f.warnings} == {"selection_ratio", "tpr", "fpr"}
    fa = fairness(y, p, {"g": grp}, favorable="negative", min_group=1).tables["g"].set_index("group")
    np.testing.assert_allclose(fa.selection_rate.astype(float), [3 / 5, 1 / 5])

def test_small_groups_left_out_of_gaps():
    t = group_rates([1, 0, 1, 0, 1], [1, 0, 0, 0, 1], ["a", "a", "a", "a", "b"])
    assert gaps(t, min_group=2).empty

def test_age_bands():
    assert age_bands([24, 25, 40, 59, 60]).tolist() == ["<25", "25-40", "40-60", "40-60", "60+"]


# --- actions ---------------------------------------------------------------------------------------------
def test_targeting_plan_by_hand_and_seed():
    p = np.array([0.9, 0.5, 0.5, 0.05, 0.2])
    t = targeting_plan(p, y=[1, 0, 1, 0, 0], contact_cost=10, value_per_save=500, success_rate=0.3, n_bins=5)
    assert t.k == 4 and t.expected_value == pytest.approx(125 + 65 + 65 + 20) and t.captured == 1.0
    assert t.realized_value == pytest.approx(2 * 150 - 40)
    a, b = targeting_plan(p, seed=1), targeting_plan(p, seed=1)
    assert a.contact_list() == b.contact_list() and a.to_dict() == b.to_dict()
    assert {tuple(targeting_plan(p, seed=s).contact_list()[1:3]) for s in range(20)} == {(1, 2), (2, 1)}   # ties broken by seed

def test_credit_policy_costs():
    y = np.array([1, 1, 0, 0, 0, 0]); p = np.array([0.9, 0.3, 0.35, 0.1, 0.2, 0.6])
    cp = credit_policy(y, p, cost_fn=5, cost_fp=1)
    assert cp.threshold == 0.3
    assert cp.row("cost-optimal")["cost_per_case"] == pytest.approx(2 / 6)
    assert cp.row("approve all")["cost_per_case"] == pytest.approx(10 / 6)
    assert cp.row("threshold 0.5")["cost_per_case"] == pytest.approx(6 / 6)
    json.dumps(cp.to_dict())


# --- Telco: drivers, what-if, findings -------------------------------------------------------------------
@pytest.fixture(scope="module")
def telco(telco_ds):
    from insight_nb.estimators import sklearn_reference
    ds = telco_ds
    sp = ds.split(valid=0.0, test=0.3, seed=0)
    est = sklearn_reference("logreg", ds.schema).fit(ds.X.iloc[sp.train], ds.y.iloc[sp.train])
    return ds, sp, est

def test_drivers_telco_top5(telco):
    from insight_nb.drivers import drivers
    ds, sp, est = telco
    d = drivers(est, ds, rows=sp.test, n_repeats=2, max_rows=800, top=2, n_pd_rows=100)
    # tenure and Contract lead (with TotalCharges, about tenure x monthly charges, which the spline model leans on as much);
    # the price of the internet service is next, split by the shuffles between InternetService and MonthlyCharges (fibre
    # optic costs more), and ranks 4-7 are within shuffling noise on 800 rows (their intervals overlap)
    assert {"Contract", "tenure"} <= set(d.top(3)) and {"InternetService", "MonthlyCharges"} & set(d.top(6)), d.top(7)
    assert (d.importance.lo <= d.importance.importance).all()
    assert list(d.sentences) == d.top(2) and any(c in s for s in d.sentences.values() for c in ("tenure", "TotalCharges")), d.sentences
    json.dumps(d.to_dict())
    from insight_nb.findings import findings
    ranked = [f.title.split(": ", 1)[1] for f in findings(d).items if f.kind == "drivers"]
    assert {"Contract", "tenure"} <= set(ranked[:3]) and {"InternetService", "MonthlyCharges"} & set(ranked[:6]), ranked

def test_what_if_is_labelled_a_prediction(telco):
    ds, sp, est = telco
    rows = ds.X.iloc[sp.test]
    w = what_if(est, rows[rows.Contract == "Month-to-month"].head(100), {"Contract": "Two year"}, ds=ds)
    s = w.summary()
    assert s["mean_after"] < s["mean_before"] and s["n"] == 100
    assert "not a causal effect" in w._repr_html_() and "not a causal effect" in w.to_dict()["caveat"]

def test_findings_rank_and_serialize(telco):
    from insight_nb.estimators import positive_proba
    ds, sp, est = telco
    p = positive_proba(est, ds.X.iloc[sp.test], ds.classes)
    y = (ds.y.iloc[sp.test] == "Yes").to_numpy(int)
    f = fairness(y, p, {"SeniorCitizen": ds.frame.SeniorCitizen.iloc[sp.test]})
    F = findings(targeting_plan(p, y), f, ds)
    sev = [f_.severity for f_ in F]
    order = {"high": 3, "medium": 2, "low": 1, "info": 0}
    assert [order[s] for s in sev] == sorted((order[s] for s in sev), reverse=True)
    json.loads(F.to_json())


# --- HTML escaping everywhere ----------------------------------------------------------------------------
def test_html_escaping_of_data_strings():
    from sklearn.linear_model import LogisticRegression
    from insight_nb.drivers import drivers
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame({XSS: rng.choice(["<b>a</b>", "z@x.com"], n), "num": rng.normal(size=n)})
    y01 = ((X[XSS] == "<b>a</b>") & (rng.uniform(size=n) < 0.8)).astype(int).to_numpy()
    labels = np.where(y01 == 1, "<i>yes</i>", "no")
    Xe = pd.get_dummies(X[[XSS]]).astype(float).assign(num=X.num)

    class Model:   # predict_proba on the raw frame
        def __init__(self): self.m = LogisticRegression().fit(Xe, labels); self.classes_ = self.m.classes_
        def predict_proba(self, F): return self.m.predict_proba(pd.get_dummies(F[[XSS]]).astype(float).reindex(columns=Xe.columns[:-1], fill_value=0).assign(num=F.num))
    m = Model()
    p = m.predict_proba(X)[:, list(m.classes_).index("<i>yes</i>")]
    parts = [drivers(m, X, y=labels, classes=["no", "<i>yes</i>"], n_repeats=2, top=2),
             find_segments(X, y01, p, seed=0, min_lift=1.0),
             clusters(X, y01, k_range=[2, 3]),
             fairness(y01, p, {XSS: X[XSS]}),
             what_if(m, X.head(20), {XSS: "<b>a</b>"}, classes=["no", "<i>yes</i>"]),
             targeting_plan(p, y01), credit_policy(y01, p),
             mask_frame(pd.DataFrame({XSS: ["x@y.com"]}))[1]]
    parts.append(findings(parts))
    for obj in parts:
        h = obj._repr_html_()
        assert "<script>" not in h and "<b>a" not in h and "<i>yes" not in h and "z@x.com" not in h and "x@y.com" not in h, type(obj).__name__
    assert any("&lt;script&gt;" in o._repr_html_() for o in parts[:4])
    assert isinstance(parts[-1], Findings) and len(parts[-1]) > 0
    json.dumps(parts[-1].to_dict())


# --- one result protocol ---------------------------------------------------------------------------------
def test_results_follow_one_protocol(telco):
    "Each result: to_dict() is JSON-ready, findings() gives Finding objects through the registry, figure() a Figure or None, _repr_html_() a string."
    from matplotlib.figure import Figure
    from insight_nb.drivers import drivers
    from insight_nb.estimators import positive_proba
    from insight_nb.findings import GENERATORS
    from insight_nb.segments import segments
    ds, sp, est = telco
    p = positive_proba(est, ds.X.iloc[sp.test], ds.classes)
    y = (ds.y.iloc[sp.test] == "Yes").to_numpy(int)
    results = [drivers(est, ds, rows=sp.test, n_repeats=2, max_rows=400, top=1, n_pd_rows=50), segments(ds, top=2),
               targeting_plan(p, y), credit_policy(y, p, cost_fn=5, cost_fp=1),
               what_if(est, ds.X.iloc[sp.test[:100]], {"Contract": "Two year"}, ds=ds),
               fairness(y, p, {"SeniorCitizen": ds.frame.SeniorCitizen.iloc[sp.test]})]
    for r in results:
        json.dumps(r.to_dict())
        own = r.findings()
        assert len(own) and all(isinstance(f, Finding) for f in own), type(r).__name__
        assert {f.source for f in own} <= {n for n, (t, _) in GENERATORS.items() if isinstance(r, t)}
        fig = r.figure()
        assert fig is None or isinstance(fig, Figure)
        assert isinstance(r._repr_html_(), str)


def test_evaluation_public_arrays(telco):
    from insight_nb.evaluate import evaluate
    from insight_nb.estimators import positive_proba
    ds, sp, est = telco
    p = positive_proba(est, ds.X.iloc[sp.test], ds.classes)
    ev = evaluate(ds.y.iloc[sp.test], p, ds.classes, n_boot=0)
    assert ev.y_true.tolist() == (ds.y.iloc[sp.test] == "Yes").astype(int).tolist() and ev.proba is not None and len(ev.proba) == ev.n
    assert not hasattr(ev, "_y") and not hasattr(ev, "_p")
    json.dumps(ev.to_dict()); assert isinstance(ev._repr_html_(), str)


def test_generators_register_by_type_not_by_name():
    from insight_nb.core import InsightError
    from insight_nb.findings import finding_generator
    with pytest.raises(InsightError, match="a class or a tuple of classes"): finding_generator("Drivers")


# --- targeting: recommend contacting only when the plan pays ---------------------------------------------
def test_targeting_plan_that_lost_money_on_held_out_rows_is_not_recommended():
    # the sweep case (Telco, two-year contracts, default numbers): top 3 worth 30 in expectation, none of them churned
    p = np.r_[np.full(3, 0.4), np.full(336, 0.02)]
    y = np.r_[np.zeros(3), np.ones(10), np.zeros(326)]
    t = targeting_plan(p, y)
    (f,) = findings(t, generators={"t": (type(t), lambda r: r.findings().items)})
    assert (t.k, t.expected_value, t.realized_value, t.captured, t.verdict) == (3, 30.0, -30.0, 0.0, "lost")
    assert f.title == "The contact list looked profitable on expected value but lost money on the held-out rows"
    assert f.severity in ("low", "info") and not f.text.startswith("Contact the top")
    assert "realized value -30, reaching 0% of the actual positives (0 of 10)" in f.text and f.evidence["realized_value"] == -30.0
    assert "contact_cost" in f.evidence["fix"] and t.to_dict()["verdict"] == "lost"
    (g,) = targeting_plan(p, y, contact_cost=10, value_per_save=200, success_rate=0.3).findings()   # user-set numbers: low
    assert g.severity == "low" and "if these numbers are not yours, set them: `-p contact_cost=10" in g.text

def test_targeting_plan_where_no_list_pays():
    t = targeting_plan(np.full(50, 0.03), np.r_[np.ones(2), np.zeros(48)], contact_cost=10, value_per_save=500, success_rate=0.3)
    (f,) = t.findings()
    assert (t.k, t.verdict, f.title, f.severity) == (0, "none", "No contact list pays at these business numbers", "info")
    assert "Contact the top" not in f.text and "so the plan contacts nobody" in f.text and "value_per_save=500" in f.evidence["fix"]
    (g,) = targeting_plan(np.array([0.9, 0.5, 0.5, 0.05, 0.2]), [1, 0, 1, 0, 0], contact_cost=10, value_per_save=500, success_rate=0.3).findings()
    assert (g.title, g.severity) == ("Contact the top 80% (4 customers)", "medium")        # a plan that pays, at the user's numbers
