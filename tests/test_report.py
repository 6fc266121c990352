"""`insight-nb report`: papermill templates end to end, the metrics.json contract, and every way a run can fail
without touching the last good report. Small settings (cv=3, scikit-learn models) keep the file fast."""
import hashlib
import json
import os
from pathlib import Path

import pytest

from insight_nb.cli import main
from insight_nb.cells import TEMPLATES, build_template, new_template, template_path, write_notebook
from insight_nb.report import ReportRunError, resolve_report, run_report

FILES = [".insight-nb.json", "findings.json", "manifest.json", "metrics.json", "model", "reference.json", "report.html", "report.ipynb"]
FAST = dict(cv=3, models=["sk_logreg", "sk_hgb"], n_boot=100)
SEVERITIES = ("high", "medium", "low", "info")
ONE_THREAD = {"OMP_NUM_THREADS": "1"}  # OpenMP spin-waits badly when the cores are shared
PAYLOAD = 'x"; import os; os.system("echo pwned") # \\" \' \n \u00e9 {cv}'

def digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}

def check_contract(m: dict, task: str, n_models: int):
    for k in ("task", "target", "positive_class", "n_rows", "models", "best_model", "test", "timings", "recipe", "data"):
        assert k in m, k
    assert m["task"] == task and m["n_rows"] > 0 and len(m["models"]) == n_models
    for r in m["models"]:
        assert {"name", "status", "cv", "test", "fit_seconds"} <= set(r)
        assert r["status"] == "ok" and r["cv"] and r["test"]
    assert m["best_model"] in [r["name"] for r in m["models"]]
    need = {"accuracy", "f1_macro", "log_loss"} | ({"roc_auc", "pr_auc"} if task == "binary" else set())
    assert need <= set(m["test"]), set(m["test"])
    t = m["timings"]
    assert {"total_s", "load", "compare", "evaluate", "outputs", "execute_s", "html_s"} <= set(t)
    assert t["total_s"] >= t["execute_s"] > t["compare"] > 0

@pytest.fixture(scope="module")
def german(shared_data, tmp_path_factory):
    "A good German credit report (the tabular template), reused as 'the last good report' by the failure tests."
    out = tmp_path_factory.mktemp("reports") / "german"
    res = run_report(shared_data / "german_credit" / "german_credit.csv", "class", params=FAST | dict(sensitive=["personal_status", "age"], value_column="credit_amount"), out=out,
                     kernel_env=ONE_THREAD)
    return res

@pytest.fixture(scope="module")
def crash_template(shared_data, tmp_path_factory):
    "A test-only template: profile, then a cell that kills the kernel (crash) or raises (fail), then the outputs."
    nb = new_template(["profile", "outputs"], name="crash_test",
                      defaults=dict(source=str(shared_data / "german_credit" / "german_credit.csv"), target="class", models=["sk_logreg"]))
    nb.cells[1].source += "\ncrash = False  # kill the kernel\nfail = False  # raise in a cell"
    import nbformat
    nb.cells.insert(5, nbformat.v4.new_code_cell("import os\nif crash: os._exit(1)\nif fail: raise ValueError('deliberate failure')",
                                                 metadata={"tags": ["stage-crash"]}))
    return write_notebook(nb, tmp_path_factory.mktemp("templates") / "crash_test.ipynb")

def test_german_credit_report(german):
    assert sorted(p.name for p in german.out.iterdir()) == FILES
    m = json.loads((german.out / "metrics.json").read_text())
    check_contract(m, "binary", 2)
    assert (m["target"], m["positive_class"], m["n_rows"]) == ("class", "bad", 1000)
    assert 0 < m["threshold"]["threshold"] < 1
    man = json.loads((german.out / "manifest.json").read_text())
    assert man["status"] == "ok" and man["exit_status"] == 0 and man["seed"] == 0 and man["parameters"]["cv"] == 3
    assert man["failed_sections"] == [] and (german.status, german.partial) == ("ok", False)  # no section failed (see test_partial_report.py)
    assert man["data"]["source_sha256"] == m["data"]["source_sha256"] and man["versions"]["papermill"]
    assert man["started"] < man["finished"]
    f = json.loads((german.out / "findings.json").read_text())["findings"]
    assert f[0]["rank"] == 1 and {"best_model", "threshold", "drivers", "action"} <= {x["kind"] for x in f}
    assert all(x["text"] and x["title"] and x["severity"] in SEVERITIES for x in f)
    assert [SEVERITIES.index(x["severity"]) for x in f] == sorted(SEVERITIES.index(x["severity"]) for x in f)
    # the insight cells: drivers with sentences, held-out-checked segments, the targeting plan, fairness for the sensitive columns
    assert m["drivers"]["top"] and m["drivers"]["sentences"] and m["drivers"]["meta"]["n_repeats"] <= 3
    assert m["segments"]["meta"]["n_holdout"] > 0 and all(r["holdout_n"] > 0 for r in m["segments"]["kept"])
    assert m["targeting"]["params"]["contact_cost"] == 10.0 and 0 <= m["targeting"]["k"] <= m["targeting"]["n"]
    assert set(m["fairness"]["columns"]) == {"personal_status", "age band"} and m["fairness"]["params"]["threshold"] == m["threshold"]["threshold"]
    assert m["history"] == {"previous": None, "flagged": [], "meta": {"primary_metric": "roc_auc"}}
    v = m["value_targeting"]             # value_column=credit_amount: the top 10% by P(bad) x amount against the top 10% by P(bad)
    assert v["k"] == 20 and v["used_as_feature"] and [r["list"] for r in v["lists"]] == ["by probability", "by expected value at risk"]
    assert v["lists"][1]["expected_value_at_risk"] >= v["lists"][0]["expected_value_at_risk"] and "value_targeting" in {x["kind"] for x in f}
    assert "MonthlyCharges" not in json.loads((german.out / "reference.json").read_text())["columns"]
    assert {"credit_amount", "purpose"} <= set(json.loads((german.out / "reference.json").read_text())["columns"])
    html = (german.out / "report.html").read_text()
    for heading in ("What drives the prediction", "Who is most and least at risk", "Whom to contact", "Fairness", "Since the previous run",
                    "Whom to contact when cases are worth different amounts"):
        assert heading in html, heading
    assert "data:image/png;base64" in html and "<script src=" not in html and "Recipe.from_params" not in html
    assert not list(german.out.parent.glob(".german*"))  # no staging folders left

def test_banking77_text_report(tmp_path):
    res = run_report("demo:banking77", "category", template="text_report", params=dict(cv=3, n_boot=50), out=tmp_path / "b77",
                     kernel_env=ONE_THREAD)
    assert sorted(p.name for p in res.out.iterdir()) == FILES
    m = json.loads((res.out / "metrics.json").read_text())
    check_contract(m, "multiclass", 1)
    assert m["best_model"] == "sk_tfidf_logreg" and m["test"]["accuracy"] > 0.7 and len(m["classes"]) == 77
    assert m["positive_class"] is None and "threshold" not in m and "history" in m and "drivers" not in m

def test_killed_kernel_keeps_last_good_report(german, crash_template, capsys):
    before = digest(german.out)
    rc = main(["report", "--template", str(crash_template), "-p", "crash=true", "--out", str(german.out)])
    assert rc == 1
    err = capsys.readouterr().err
    assert "kernel died" in err and "german.failed" in err and "Traceback" not in err
    assert digest(german.out) == before
    failed = german.out.with_name("german.failed")
    nb = json.loads((failed / "report.ipynb").read_text())
    assert any("papermill-error-cell-tag" in c["metadata"].get("tags", []) for c in nb["cells"])
    man = json.loads((failed / "manifest.json").read_text())
    assert man["status"] == "failed" and {"check_s", "load", "crash"} <= set(man["timings"])  # where the time went before it stopped
    assert "] crash: " in err  # the stage lines came up to the cell that stopped the run

def test_cell_exception_keeps_last_good_report(german, crash_template, capsys):
    before = digest(german.out)
    with pytest.raises(ReportRunError, match="ValueError: deliberate failure"):
        run_report(template=crash_template, params=dict(fail=True), out=german.out)
    assert digest(german.out) == before
    nb = (german.out.with_name("german.failed") / "report.ipynb").read_text()
    assert "deliberate failure" in nb and "papermill-error-cell" in nb

def test_injection_arrives_as_literal_string(crash_template, tmp_path):
    import papermill as pm
    from papermill.parameterize import parameterize_notebook
    nb = pm.iorw.load_notebook_node(str(template_path("tabular_report")))
    for s in (PAYLOAD, "\\", "'''", '"""', "\\n", "a\rb\x00c"):
        cell = next(c for c in parameterize_notebook(nb, {"title": s}).cells if "injected-parameters" in c.metadata.get("tags", []))
        ns = {}
        exec(cell.source, ns)
        assert ns["title"] == s
    res = run_report(template=crash_template, params=["title=" + PAYLOAD], out=tmp_path / "inj")
    assert json.loads((res.out / "metrics.json").read_text())["recipe"]["title"] == PAYLOAD
    streams = [o for c in json.loads((res.out / "report.ipynb").read_text())["cells"] for o in c.get("outputs", []) if o["output_type"] == "stream"]
    assert not any("pwned" in "".join(o["text"]) for o in streams)  # the echo never ran

def test_errors_before_any_kernel(tmp_path, capsys, shared_data):
    data = str(shared_data / "german_credit" / "german_credit.csv")
    blocker = tmp_path / "file"; blocker.write_text("x")
    cases = [
        (["report", data, "--target", "clas"], "Did you mean 'class'"),
        (["report", str(tmp_path / "nope.csv"), "--target", "y"], "does not exist"),
        (["report", data, "--target", "class", "-p", "cv=three"], "cv must be an integer"),
        (["report", data, "--target", "class", "-p", "folds=3"], "unknown parameter 'folds'"),
        (["report", data, "--target", "class", "--template", "tabular_reprot"], "Did you mean 'tabular_report'"),
        (["report", data, "--target", "class", "-p", "models=[sk_logrg]"], "Did you mean 'sk_logreg'"),
        (["report", data, "--target", "class", "-p", "sensitive=[agee]"], "Did you mean 'age'"),
        (["report", data, "--target", "class", "--out", str(blocker / "sub" / "out")], "cannot create the output folder"),
    ]
    bad = tmp_path / "bad.yml"; bad.write_text("evaluation:\n  cv: 3\n seed: 1\n")
    cases.append((["report", data, "--target", "class", "--config", str(bad)], "malformed YAML at line 3"))
    cases.append((["report", data, "--target", "class", "--config", str(tmp_path / "none.yml")], "does not exist"))
    for argv, msg in cases:
        assert main(argv + (["--out", str(tmp_path / "o")] if "--out" not in argv else [])) == 2, argv
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yml", "file"]  # nothing written

def test_read_only_output_folder(tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"; ro.mkdir(); ro.chmod(0o555)
    # root may write anywhere (CI runs as root), so the permission answer is what the check must act on
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if str(p).startswith(str(ro)) else real_access(p, mode, *a, **k))
    try: assert main(["report", "demo:telco_churn", "--out", str(ro / "out")]) == 2
    finally: ro.chmod(0o755)
    assert "not writable" in capsys.readouterr().err
    assert list(ro.iterdir()) == []

def test_parameter_precedence(tmp_path):
    cfg = tmp_path / "run.yml"; cfg.write_text("evaluation: {cv: 4, seed: 3}\nbusiness: {contact_cost: 5}\n")
    s = resolve_report("demo:telco_churn", config=cfg, params=["seed=7"])
    assert (s.params["cv"], s.params["seed"], s.params["contact_cost"], s.params["target"]) == (4, 7, 5.0, "Churn")
    assert s.origins["seed"] == "-p seed" and s.origins["cv"].startswith("--config")

def test_shipped_templates_are_in_sync():
    root = Path(__file__).resolve().parents[1]
    for name in TEMPLATES:
        built = json.dumps(build_template(name), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        assert (root / "nbs" / "templates" / f"{name}.ipynb").read_text() == built, "run make export"
        assert template_path(name).read_text() == built, "run make export"


def test_old_names_still_import_from_report():
    "report.py was split into steps.py and cells.py; code and templates that import from insight_nb.report keep working."
    import insight_nb.cells as cells, insight_nb.report as report, insight_nb.steps as steps
    for name in ("best_evaluation", "business_threshold", "Skipped", "report_drivers", "write_outputs", "report_metrics", "ReportContext"):
        assert getattr(report, name) is getattr(steps, name), name
    for name in ("REPORT_CELLS", "new_template", "write_notebook", "TEMPLATES", "sync_templates", "template_path", "parameters_schema"):
        assert getattr(report, name) is getattr(cells, name), name
