"""A number as the target: `insight-nb report` routes it to the regression report and runs it end to end in a fresh shell
(a synthetic linear table, ridge only, 3 folds, no bootstrap); a whole-number target with 3 values stays classification."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

CLI = str(Path(sys.executable).parent / "insight-nb")


@pytest.fixture(scope="module")
def linear_csv(tmp_path_factory):
    "600 rows: y is a linear function of two numbers and a category, plus noise (R² about 0.95)."
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"x1": rng.normal(size=n).round(3), "x2": rng.uniform(0, 10, n).round(3), "grade": rng.choice(list("ABC"), n),
                       "noise_col": rng.normal(size=n).round(3)})
    df["y"] = (50 + 8 * df.x1 - 3 * df.x2 + df.grade.map({"A": 0.0, "B": 5.0, "C": 10.0}) + rng.normal(0, 3, n)).round(2)
    df["y3"] = rng.integers(0, 3, n) + (df.x1 > 0.5)      # whole numbers 0..3 -> classes
    df["y3"] = df["y3"].clip(0, 2)
    p = tmp_path_factory.mktemp("data") / "linear.csv"
    df.to_csv(p, index=False)
    return p


def test_regression_report_end_to_end(linear_csv, tmp_path):
    out = tmp_path / "report"
    r = subprocess.run([CLI, "report", str(linear_csv), "--target", "y", "--out", str(out), "--threads", "1",
                        "-p", "models=[sk_ridge]", "-p", "cv=3", "-p", "n_boot=0"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "regression_report" in r.stderr
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "ok" and man["template"].endswith("regression_report.ipynb"), man.get("section_errors")
    assert (man["route"]["template"], man["route"]["task"]) == ("regression_report", "regression")
    m = json.loads((out / "metrics.json").read_text())
    assert (m["task"], m["primary_metric"], m["best_model"], m["classes"], m["positive_class"]) == ("regression", "r2", "sk_ridge", [], None)
    assert m["models"][0]["cv"]["r2"] > 0.8 and m["test"]["r2"] > 0.8, m["test"]
    iv = m["interval"]
    assert iv["level"] == 0.9 and iv["halfwidth"] > 0 and 0.8 <= iv["coverage"] <= 1.0, iv
    assert {"drivers", "segments"} <= set(m) and m["drivers"]["top"][0]["column"] in ("x1", "x2", "grade")
    top = {d["column"]: d for d in m["drivers"]["top"]}                     # the linear signal is recovered: its three columns rank first,
    ranked = list(top)                                                       # the pure-noise column adds nothing to the error when shuffled
    assert set(ranked[:3]) == {"x1", "x2", "grade"} and top["noise_col"]["importance"] < 0.05 * top[ranked[0]]["importance"], top
    rk = m["ranking"]["summary"]                                             # the top 10% of the test rows by predicted value
    assert rk["k"] == round(0.1 * m["protocol"]["n_test"]) == len(m["ranking"]["rows"]) and rk["mean_actual"] > rk["mean_actual_all"], rk
    fs = json.loads((out / "findings.json").read_text())["findings"]
    kinds = {f["kind"] for f in fs}
    assert "best_model" in kinds and "ranked_list" in kinds and "section_failed" not in kinds and "class_balance" not in kinds, kinds
    assert any(f["evidence"].get("metric") == "coverage" for f in fs)          # the interval's coverage is a finding
    html = (out / "report.html").read_text()
    assert "Regression report" in html and "CV R²" in html and "The top cases by predicted value" in html and "When to act" not in html and "Whom to contact" not in html


def test_a_three_value_whole_number_target_is_classification(linear_csv):
    from insight_nb.report import resolve_report
    s = resolve_report(str(linear_csv), "y3", params=["models=[sk_logreg]"])
    assert (s.template.stem, s.route["template"], s.route["task"]) == ("tabular_report", "tabular_report", "multiclass")
    s = resolve_report(str(linear_csv), "y")
    assert (s.template.stem, s.route["task"], s.params["models"]) == ("regression_report", "regression", ["sk_ridge", "sk_hgb", "torch_mlp", "sk_blend"])
