"""Run history: a report run again into the same folder compares itself with the previous completed run.

Three small Telco reports into one folder, in one reused kernel: the first has no previous run, the second (same data)
shows the comparison with zero drift, the third (MonthlyCharges x 1.5, Contract labels permuted) flags exactly those
two columns in the report, in metrics.json (`history`) and in findings.json. A previous run published partial (an
optional section failed) is compared with too, and the history says it was partial."""
import json

import pandas as pd
import pytest

from insight_nb.data import load_demo
from insight_nb.report import run_report
from insight_nb.kernels import shutdown_kernels, worker_kernel

PARAMS = dict(cv=2, models=["sk_logreg"], n_boot=0)
ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("history")
    raw = load_demo("telco_churn").iloc[:1200]
    raw.to_csv(d / "telco.csv", index=False)
    mod = raw.copy()
    mod["MonthlyCharges"] = (pd.to_numeric(mod["MonthlyCharges"]) * 1.5).round(2)
    # a row shuffle would keep the column's distribution (no per-column test can see it); permuting the labels changes it
    mod["Contract"] = mod["Contract"].map({"Month-to-month": "Two year", "One year": "Month-to-month", "Two year": "One year"})
    mod.to_csv(d / "telco_changed.csv", index=False)
    out, km = d / "report", worker_kernel(ENV)
    try:
        res = [run_report(d / src, "Churn", params=PARAMS, out=out, km=km, kernel_env=ENV)
               for src in ("telco.csv", "telco.csv", "telco_changed.csv")]
        snaps = []
        for r in res:  # each run replaces the folder: keep what each one wrote
            snaps.append(dict(metrics=r.metrics, manifest=r.manifest, findings=json.loads((out / "findings.json").read_text()),
                              html=(out / "report.html").read_text(), reference=json.loads((out / "reference.json").read_text()))
                         if r is res[-1] else dict(metrics=r.metrics, manifest=r.manifest))
    finally: shutdown_kernels()
    return snaps, out


def test_first_run_has_no_previous(runs):
    first = runs[0][0]
    assert first["metrics"]["history"]["previous"] is None
    assert first["manifest"]["parameters"]["previous_run"] is None


def test_identical_rerun_shows_zero_drift(runs):
    (_, second, _), out = runs
    h = second["metrics"]["history"]
    assert h["previous"]["folder"] == str(out) and second["manifest"]["parameters"]["previous_run"] == str(out)
    assert h["flagged"] == [] and h["drift"] and all(r["psi"] == 0 and not r["flagged"] for r in h["drift"])
    assert all(r["p_value"] > 0.99 for r in h["drift"])
    deltas = {r["metric"]: r["delta"] for r in h["metrics"]}
    assert deltas["test roc_auc"] == 0 and deltas["rows"] == 0


def test_changed_data_flags_exactly_the_changed_columns(runs):
    (_, second, third), out = runs
    h = third["metrics"]["history"]
    assert sorted(h["flagged"]) == ["Contract", "MonthlyCharges"]
    drift = {r["column"]: r for r in h["drift"]}
    assert drift["MonthlyCharges"]["test"] == "KS" and drift["Contract"]["test"] == "chi-square"
    assert all(drift[c]["psi"] > 0.2 for c in h["flagged"])
    assert h["previous"]["finished"] == second["manifest"]["finished"]  # compared with the run before it, the last good one
    f = third["findings"]["findings"]
    assert sorted(x["evidence"]["column"] for x in f if x["kind"] == "drift") == ["Contract", "MonthlyCharges"]
    assert "Data drift in MonthlyCharges" in third["html"] and "2 of" in third["html"]
    # the stored reference is bins and shares, never rows or pickles
    ref = third["reference"]["columns"]["MonthlyCharges"]
    assert {"edges", "freq", "quantiles"} <= set(ref) and len(ref["quantiles"]) == 201
    assert not list(out.glob("*.pkl")) and not list(out.glob("*.pickle"))


def test_a_partial_previous_run_is_compared_and_named(tmp_path):
    """A previous run published partial (its drivers section failed, through the test fault injector) still wrote a
    complete reference.json: the next run compares with it, and its history says the previous run was partial."""
    from insight_nb.steps import FAULT_ENV
    load_demo("telco_churn").iloc[:600].to_csv(tmp_path / "telco600.csv", index=False)
    out = tmp_path / "report"
    try:
        first = run_report(tmp_path / "telco600.csv", "Churn", params=PARAMS, out=out, kernel_env=ENV | {FAULT_ENV: "drivers"})
        second = run_report(tmp_path / "telco600.csv", "Churn", params=PARAMS, out=out, kernel_env=ENV)
    finally: shutdown_kernels()
    assert (first.status, [f["section"] for f in first.failed_sections]) == ("partial", ["drivers"])
    assert second.status == "ok" and second.manifest["parameters"]["previous_run"] == str(out)
    h = second.metrics["history"]
    assert h["previous"]["finished"] == first.manifest["finished"]
    assert (h["previous"]["status"], h["previous"]["failed_sections"]) == ("partial", ["drivers"])
    assert h["flagged"] == [] and h["drift"]
    assert "a partial run: drivers failed" in (out / "report.html").read_text()
