"""`insight-nb monitor` on Telco through the command line: a report saves its model with a monitoring reference and a model
card; the same rows raise no alert (exit 0), a drifted copy (MonthlyCharges x 1.3 on half the rows) is flagged and exits 4,
realised outcomes give the realised ROC AUC with an interval, and every run adds a line to the monitor folder's history."""
import json
import re

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
    assert "> 0.25, your alert_psi" in f[0]["text"] and "> 0.2 " not in f[0]["text"]   # the threshold applied, not the rule of thumb
    assert not any(re.search(r"\de-\d", x["text"]) for x in f)                    # no scientific notation in the text
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


def test_outcomes_that_match_no_row_are_an_error_and_some_a_warning(telco, tmp_path, capsys):
    root, out, raw, rows = telco
    lower = raw[["customerID", "Churn"]].assign(customerID=raw.customerID.str.lower())
    bad = tmp_path / "outcomes_lower.csv"
    lower.to_csv(bad, index=False)
    assert main(["monitor", str(out), str(rows), "--outcomes", str(bad), "--n-boot", "0", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "none of the 7,043 outcomes matches a scored row" in err and "'customerID'" in err
    assert raw.customerID.iloc[0] in err and raw.customerID.iloc[0].lower() in err   # examples from both sides
    assert not (tmp_path / "m").exists()
    some = tmp_path / "outcomes_some.csv"
    pd.concat([raw[["customerID", "Churn"]].iloc[:3000], lower.iloc[3000:]]).to_csv(some, index=False)
    assert main(["monitor", str(out), str(rows), "--outcomes", str(some), "--n-boot", "0", "--out", str(tmp_path / "m")]) == 0
    err = capsys.readouterr().err
    assert "warning: 4,043 of 7,043 outcomes match no row of the new data" in err
    res = json.loads((tmp_path / "m" / "monitor.json").read_text())
    assert (res["outcomes"]["n"], res["outcomes"]["n_unmatched"]) == (3000, 4043)
    f = [x for x in json.loads((tmp_path / "m" / "findings.json").read_text())["findings"] if "outcomes matched no scored row" in x["title"]]
    assert len(f) == 1 and f[0]["severity"] == "medium" and f[0]["evidence"]["value"] == 4043


def test_flagged_share_is_tested_with_both_sample_sizes(telco, tmp_path):
    _, out, _, rows = telco
    mon = tmp_path / "m"
    assert main(["monitor", str(out), str(rows), "--n-boot", "0", "--out", str(mon)]) == 0
    f = [x for x in json.loads((mon / "findings.json").read_text())["findings"] if x["kind"] == "positive rate"]
    assert len(f) == 1 and f[0]["evidence"]["test"] == "two-proportion z-test"
    assert f[0]["evidence"]["n"] == 7043 and f[0]["evidence"]["n_reference"] == 1409 and f[0]["evidence"]["p_value"] is not None
    assert ("larger than chance" in f[0]["text"]) == (f[0]["severity"] == "medium") == (f[0]["evidence"]["p_value"] < 0.05)


def test_image_models_are_refused_up_front(tmp_path, telco, capsys):
    _, _, _, rows = telco
    img = tmp_path / "image_model"
    img.mkdir()
    (img / "pipeline.json").write_text(json.dumps(dict(format="insight_nb.image_model/1")))
    assert main(["monitor", str(img), str(rows), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "monitoring image models is not supported yet" in err and "version that saved it" not in err
