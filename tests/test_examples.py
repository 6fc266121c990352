"""The example recipes in reports/ run as they are, through the command line, from a fresh process: what a team copies
must work. Each writes into a temporary --out (the default would be reports/output/, ignored by git)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "insight-nb")


def run(*argv, cwd=ROOT):
    return subprocess.run([EXE, *argv], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_reports_folder_lists_its_recipes():
    readme = (ROOT / "reports" / "README.md").read_text()
    for f in sorted((ROOT / "reports").glob("*.yml")): assert f.name in readme, f.name


def test_telco_recipe_runs_as_it_is(tmp_path):
    r = run("report", "--config", "reports/telco_churn.yml", "--out", str(tmp_path / "telco"))
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "telco" / "metrics.json").read_text())
    assert m["recipe"]["title"].startswith("Telco churn") and m["recipe"]["sensitive"] == ["gender", "SeniorCitizen"]
    assert {x["name"] for x in m["models"]} == {"sk_logreg", "sk_hgb", "torch_mlp"} and all(x["status"] == "ok" for x in m["models"])
    assert m["test"]["roc_auc"] > 0.8


def test_weekly_sweep_runs_as_it_is(tmp_path):
    r = run("sweep", "reports/weekly_sweep.yml", "--out", str(tmp_path / "sweep"))
    assert r.returncode == 0, r.stdout + r.stderr
    index = json.loads((tmp_path / "sweep" / "index.json").read_text())
    assert index["n_ok"] == 3 and index["n_failed"] == 0
    assert sorted(x["labels"]["Contract"] for x in index["runs"]) == ["Month-to-month", "One year", "Two year"]
