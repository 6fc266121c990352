"""`insight-nb monitor` on Telco through the command line: a report saves its model with a monitoring reference and a model
card; the same rows raise no alert (exit 0), a drifted copy (MonthlyCharges x 1.3 on half the rows) is flagged and exits 4,
realised outcomes give the realised ROC AUC with an interval, and every run adds a line to the monitor folder's history."""
import json

import numpy as np
import pandas as pd
import pytest

from insight_nb.cli import main
from insight_nb.data import load_table
from insight_nb.monitor import CARD, CARD_SECTIONS, MONITOR_FILES, REFERENCE
from insight_nb.publish import MARKER


@pytest.fixture(scope="module")
def telco(shared_data, tmp_path_factory):
    "A fast Telco report (one model, small bootstrap) and the raw rows without the target."
    root = tmp_path_factory.mktemp("monitor")
    csv = shared_data / "telco_churn" / "telco_churn.csv"
    out = root / "telco" / "report"
    rc = main(["report", str(csv), "--target", "Churn", "--out", str(out), "-p", "cv=2", "-p", "n_boot=50", "-p", "models=[sk_logreg]",
               "-p", "sensitive=[gender]"])
    assert rc in (0, 3)
    raw = load_table(csv)
    rows = root / "batch_same.csv"
    raw.drop(columns=["Churn"]).to_csv(rows, index=False)
    return root, out, raw, rows


def test_the_model_folder_carries_its_card_and_reference(telco):
    _, out, _, _ = telco
    model = out / "model"
    assert {CARD, REFERENCE} <= {p.name for p in model.iterdir()}
    assert {f"model/{CARD}", f"model/{REFERENCE}"} <= set(json.loads((out / MARKER).read_text())["files"])   # sealed twice
    card = (model / CARD).read_text()
    for head in CARD_SECTIONS: assert f"## {head}" in card, head
    m = json.loads((out / "metrics.json").read_text())
    assert f"{m['data']['source_sha256'][:16]}" in card and "7,043 after cleaning" in card
    assert "ROC AUC" in card and "95% interval" in card and "gender:" in card
    assert f"Act when P(Yes) ≥ {m['threshold']['threshold']:.3f}" in card
    assert "Model card: sk_logreg for Churn" in (out / "report.html").read_text()   # shown in the report too
    ref = json.loads((model / REFERENCE).read_text())
    assert ref["promised"]["metrics"]["roc_auc"] == m["test"]["roc_auc"] and ref["alerts"]["alert_psi"] == 0.25


def test_same_rows_no_alert_then_drift_alerts_with_exit_4(telco, capsys):
    root, out, raw, rows = telco
    mon = root / "telco" / "monitor"
    assert main(["monitor", str(out), str(rows), "--n-boot", "0"]) == 0   # default folder: monitor/ beside the report
    assert sorted(p.name for p in mon.iterdir()) == sorted([MARKER, *MONITOR_FILES])
    res = json.loads((mon / "monitor.json").read_text())
    assert res["alerts"] == [] and max(d["psi"] for d in res["drift"]) < 1e-9
    capsys.readouterr()

    drifted = raw.drop(columns=["Churn"]).copy()
    half = np.random.default_rng(0).random(len(drifted)) < 0.5
    drifted.loc[half, "MonthlyCharges"] = (drifted.loc[half, "MonthlyCharges"].astype(float) * 1.3).round(2).astype(str)
    path = root / "batch_drifted.csv"
    drifted.to_csv(path, index=False)
    outcomes = root / "outcomes.csv"
    raw[["customerID", "Churn"]].iloc[::2].to_csv(outcomes, index=False)
    assert main(["monitor", str(out / "model"), str(path), "--outcomes", str(outcomes), "--n-boot", "200"]) == 4
    cap = capsys.readouterr()
    assert "alert" in cap.err and "MonthlyCharges drifted" in cap.err
    res = json.loads((mon / "monitor.json").read_text())
    assert [a["column"] for a in res["alerts"]] == ["MonthlyCharges"] and res["alerts"][0]["name"] == "alert_psi"
    f = json.loads((mon / "findings.json").read_text())["findings"]
    assert f[0]["severity"] == "high" and f[0]["evidence"]["column"] == "MonthlyCharges" and f[0]["rank"] == 1
    o = res["outcomes"]
    auc, (lo, hi) = o["metrics"]["roc_auc"], o["ci"]["roc_auc"]
    assert o["n"] == len(raw[::2]) and lo < auc < hi and hi - lo < 0.05 and 0.75 < auc
    assert o["promised"]["metrics"]["roc_auc"] and o["promised"]["ci"]["roc_auc"]
    assert "cost_per_case" in o["metrics"] and o["ci"]["cost_per_case"][0] is not None
    h = pd.read_csv(mon / "history.csv")
    assert len(h) == 2 and h.n_alerts.tolist() == [0, 1] and h.worst_column.iloc[-1] == "MonthlyCharges"
    assert h.realised_auc_lo.iloc[-1] < h.realised_auc.iloc[-1] < h.realised_auc_hi.iloc[-1]
    html = (mon / "monitor.html").read_text()
    assert "ALERT" in html and html.count("<img") >= 2 and "<script" not in html
    # a looser threshold from the command line: no alert, exit 0, and a third history line
    assert main(["monitor", str(out), str(path), "--alert-psi", "0.5", "--n-boot", "0"]) == 0
    assert len(pd.read_csv(mon / "history.csv")) == 3


def test_monitor_errors_are_one_paragraph(telco, tmp_path, capsys):
    root, out, raw, rows = telco
    bad = tmp_path / "no_tenure.csv"
    raw.drop(columns=["Churn", "tenure"]).to_csv(bad, index=False)
    assert main(["monitor", str(out), str(bad), "--out", str(tmp_path / "m")]) == 2
    assert "tenure" in capsys.readouterr().err and not (tmp_path / "m").exists()
    assert main(["monitor", str(out), str(rows), "--out", str(out / "model" / "m")]) == 2
    assert "inside the model folder" in capsys.readouterr().err
    assert main(["monitor", str(out), str(rows), "--alert-psi", "-1", "--out", str(tmp_path / "m")]) == 2
    assert "alert_psi" in capsys.readouterr().err
