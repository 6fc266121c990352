"""One recipe, three doors: the business numbers and the MLP defaults are defined once, and the one cost threshold
(`evaluate.CostThreshold`) gives the same threshold in the report, the studio and the credit policy."""
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import insight_nb
from insight_nb.actions import credit_policy, targeting_plan
from insight_nb.business import Business, BusinessError, as_business
from insight_nb.evaluate import CostThreshold, ThresholdChoice, choose_threshold, evaluate, expected_cost
from insight_nb.recipe import Recipe

PKG = Path(insight_nb.__file__).parent
SOURCES = {p.name: p.read_text(encoding="utf-8") for p in PKG.glob("*.py") if p.name != "_modidx.py"}


def definitions(pattern: str) -> list:
    "`file:line` of every line of the package matching `pattern`."
    return [f"{name}:{i}" for name, text in SOURCES.items() for i, line in enumerate(text.splitlines(), 1) if re.search(pattern, line)]


# ------------------------------------------------------------------ defaults defined once
@pytest.mark.parametrize("name", ["contact_cost", "value_per_save", "success_rate"])
def test_each_business_default_is_defined_once(name):
    # a parameter or field default such as `value_per_save: float = 200.0`, `value_per_save=500` or `= Field(200.0, ...)`
    found = definitions(rf"\b{name}\s*(:[^=,)]*)?=\s*([\w.]+\((default\s*=\s*)?)?[0-9]")
    assert len(found) == 1 and found[0].startswith("business.py:"), found


@pytest.mark.parametrize("name", ["cost_fp", "cost_fn"])
def test_no_function_has_its_own_costs(name):
    assert definitions(rf"\b{name}\s*(:[^=,)]*)?=\s*([\w.]+\((default\s*=\s*)?)?[0-9]") == []


def test_mlp_defaults_are_defined_once():
    assert [d.split(":")[0] for d in definitions(r"\bhidden\s*(:[^=,]*)?=\s*\([0-9]")] == ["models.py"]   # TorchTabularClassifier(hidden=(64, 32))
    assert definitions(r"\(256, 128\)") == []
    assert [d.split(":")[0] for d in definitions(r"\bepochs\s*(:\s*int)?\s*=\s*30\b(?!,? \.\.\.)")] == ["models.py"]
    assert len(definitions(r"\b1e-2\b")) == 1                                   # DEFAULT_LR["mlp"], no fallbacks elsewhere
    import inspect
    from insight_nb.models import TabularMLP, TorchTabularClassifier
    sig = inspect.signature(TabularMLP)
    assert all(sig.parameters[k].default is inspect.Parameter.empty for k in ("hidden", "dropout", "norm"))
    assert TorchTabularClassifier().get_params()["hidden"] == (64, 32)


def test_recipe_defaults_come_from_business():
    r = Recipe()
    assert r.business() == Business()
    assert (r.contact_cost, r.value_per_save, r.success_rate) == (Business.contact_cost, Business.value_per_save, Business.success_rate)
    assert r.costs() == Business().costs() == dict(cost_fp=10.0, cost_fn=40.0)
    r2 = Recipe(cost_fn=7, contact_cost=3)
    assert r2.costs() == dict(cost_fp=3.0, cost_fn=7.0) and as_business(r2) == r2.business()
    with pytest.raises(BusinessError): Business(contact_cost=-1)


# ------------------------------------------------------------------ one cost threshold
def test_at_matches_a_hand_count():
    y = np.array([0, 0, 1, 1, 0, 1, 0, 1]); p = np.array([.1, .4, .35, .8, .2, .9, .6, .7])
    ct = CostThreshold(y, p, Business(cost_fp=2, cost_fn=3))
    a = ct.at(0.5)                                 # flags .6 .7 .8 .9: tp 3, fp 1; misses .35: fn 1
    assert a["confusion"] == dict(tn=3, fp=1, fn=1, tp=3) and a["flagged"] == 4 and a["n"] == 8
    assert a["total_cost"] == 2 * 1 + 3 * 1 and a["expected_cost"] == pytest.approx(5 / 8)
    assert (a["precision"], a["recall"]) == (0.75, 0.75)
    assert ct.at(0.0)["confusion"] == dict(tn=0, fp=4, fn=0, tp=4)
    assert ct.at(np.inf)["total_cost"] == 3 * 4
    assert a["expected_cost"] == pytest.approx(expected_cost(y, p, 0.5, 2, 3))
    # the chosen threshold is the cheapest of every `.at`
    assert ct.expected_cost == min(ct.at(t)["expected_cost"] for t in [*p, 0.0, 1.01])
    assert ThresholdChoice is CostThreshold and isinstance(choose_threshold(y, p, cost_fp=2, cost_fn=3), CostThreshold)
    assert choose_threshold(y, p, cost_fp=2, cost_fn=3).threshold == ct.threshold


@pytest.fixture(scope="module")
def small_board():
    from insight_nb.compare import compare
    from insight_nb.data import load_demo
    from insight_nb.dataset import prepare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(load_demo("telco_churn").iloc[:1200], "Churn")
        rec = Recipe(source="demo:telco_churn", target="Churn", models=["sk_logreg"], cv=2, n_boot=0, contact_cost=15, value_per_save=300)
        board = compare(ds, rec.models, cv=rec.cv, test=rec.test, seed=rec.seed, n_boot=0)
    return ds, rec, board


def test_report_studio_and_credit_policy_agree(small_board):
    from insight_nb.report import business_threshold
    from insight_nb.widgets import InsightStudio, StudioResults
    ds, rec, board = small_board
    thr = business_threshold(board, ds, rec)                                  # the report (chosen on out-of-fold rows)
    y_cv = (ds.y.iloc[board.cv_rows].to_numpy() == ds.positive_class).astype(int)
    p_cv = board.oof[board.best]
    assert thr.choice.costs["cost_fp"] == 15 and thr.choice.costs["cost_fn"] == 0.25 * 300 - 15
    # the studio, on the same predictions
    ev = evaluate(ds.y.iloc[board.cv_rows].to_numpy(), p_cv, ds.classes, positive_class=ds.positive_class, n_boot=0)
    res = StudioResults(rec, board.best, None, ev, [], np.array([], int), np.asarray(board.cv_rows))
    assert res.cost_threshold().threshold == thr.threshold
    c = rec.costs()
    studio = SimpleNamespace(results=res, cost_fp=SimpleNamespace(value=c["cost_fp"]), cost_fn=SimpleNamespace(value=c["cost_fn"]),
                             threshold=SimpleNamespace(value=0.5))
    InsightStudio._best_threshold(studio)                                     # the studio's "cost-optimal threshold" button
    assert studio.threshold.value == round(thr.threshold, 2)
    assert res.at_threshold(thr.threshold) == thr.choice.at(thr.threshold)
    # the credit policy, on the same predictions and business
    cp = credit_policy(y_cv, p_cv, rec.business())
    assert cp.threshold == thr.threshold
    assert cp.row("cost-optimal")["cost_per_case"] == pytest.approx(thr.choice.expected_cost)
    # the report's test numbers are `.at` on the test rows
    ev_t = board.estimators[board.best][1]
    assert thr.test_cost == pytest.approx(expected_cost(ev_t.y_true, ev_t.proba, thr.threshold, **c))
    assert thr.to_dict()["test"]["n"] == len(ev_t.y_true)
    # the threshold follows the result protocol: to_dict, findings (through the registry), figure, _repr_html_
    import json
    from matplotlib.figure import Figure
    from insight_nb.findings import Finding
    json.dumps(thr.to_dict())
    assert [f.source for f in thr.findings()] == ["threshold"] and all(isinstance(f, Finding) for f in thr.findings())
    assert isinstance(thr.figure(), Figure) and isinstance(thr._repr_html_(), str)


def test_targeting_plan_reads_the_business():
    p = np.array([0.9, 0.5, 0.5, 0.05, 0.2])
    a = targeting_plan(p, business=Business(value_per_save=500, success_rate=0.3))
    b = targeting_plan(p, value_per_save=500, success_rate=0.3)
    assert a.to_dict() == b.to_dict() and a.params["contact_cost"] == Business.contact_cost
    assert targeting_plan(p, business=Recipe(contact_cost=50)).params["contact_cost"] == 50


# ------------------------------------------------------------------ findings never give advice the numbers do not support
def _threshold(y_cv, p_cv, y_te, p_te, business):
    from insight_nb.steps import BusinessThreshold
    ch = CostThreshold(y_cv, p_cv, business)
    return BusinessThreshold("m", "Yes", ch, ch.on(y_te, p_te))

CV_ROWS = ([1, 1, 0, 0, 0, 0], [0.3, 0.2, 0.25, 0.1, 0.05, 0.6])   # cost_fp=1, cost_fn=5: the cheapest threshold is 0.2


def test_threshold_that_does_not_beat_05_is_not_a_recommendation():
    thr = _threshold(*CV_ROWS, [0, 0, 0, 1], [0.3, 0.25, 0.2, 0.9], Business(cost_fp=1, cost_fn=5))
    (f,) = thr.findings()
    assert thr.verdict == "no_gain" and thr.test_saving_per_case < 0
    assert (f.title, f.severity) == ("The cost-based threshold does not beat 0.5 on the test rows", "low")
    assert "raises the expected cost on the 4 test cases from 0.00 to 0.75 per case" in f.text and "does not lower" not in f.text
    assert f.evidence["test_cost"] == 0.75 and f.evidence["test_cost_at_05"] == 0.0 and "-p cost_fp=1 -p cost_fn=5" in f.evidence["fix"]
    good = _threshold(*CV_ROWS, [1, 1, 0], [0.3, 0.2, 0.1], Business(cost_fp=1, cost_fn=5))
    (g,) = good.findings()                                                 # user-set numbers that pay: today's finding
    assert (g.title, g.severity, g.score) == ("Act at P(Yes) ≥ 0.200", "info", 80) and "default" not in g.text and "fix" not in g.evidence


def test_threshold_that_acts_on_nobody_says_so():
    thr = _threshold(*CV_ROWS, [1, 0, 0], [0.3, 0.2, 0.1], Business(cost_fp=50, cost_fn=1))
    (f,) = thr.findings()
    assert thr.threshold >= 1 and thr.verdict == "nobody" and thr.to_dict()["verdict"] == "nobody"
    assert (f.title, f.severity) == ("At these costs acting on nobody is cheapest", "low") and not f.title.startswith("Act at")
    assert f.text.startswith("At these costs acting on nobody is cheapest") and "Act at" not in f.text


def test_default_business_numbers_are_named_and_rank_last():
    d = Business()
    note = (f"with the default business numbers (contact cost {d.contact_cost:g}, value per save {d.value_per_save:g}, "
            f"success rate {d.success_rate:.0%}); set yours: `-p contact_cost={d.contact_cost:g} -p value_per_save={d.value_per_save:g}")
    (f,) = _threshold(*CV_ROWS, [1, 1, 0], [0.3, 0.2, 0.1], Recipe()).findings()          # a recipe without a business section
    assert f.severity == "info" and f.score < 20 and note in f.text and f.evidence["default_business"] is True
    assert f"business: {{contact_cost: {d.contact_cost:g}" in f.text and "(recipe)" in f.text and "(Python" in f.text
    p, y = np.array([0.9, 0.5, 0.5, 0.05, 0.2]), [1, 0, 1, 0, 0]
    (t,) = targeting_plan(p, y).findings()
    assert t.title.startswith("Contact the top") and t.severity == "info" and t.score < 20 and note in t.text
    (u,) = targeting_plan(p, y, Recipe(contact_cost=10, value_per_save=500, success_rate=0.3)).findings()   # the user's numbers
    assert u.severity == "medium" and "default" not in u.text and not u.evidence["default_business"]
    # ranked after an info model finding (score 100) and a class-balance finding (score 20)
    from insight_nb.findings import Finding, findings
    gens = {"model": (np.ndarray, lambda _: [Finding("Best model", ".", "best_model", "info", 100), Finding("Rare", ".", "class_balance", "info", 20)]),
            "action": (object, lambda r: r.findings().items if hasattr(r, "findings") else [])}
    ranked = findings(np.zeros(1), targeting_plan(p, y), generators=gens)
    assert [x.kind for x in ranked] == ["best_model", "class_balance", "action"]
