"""Sections fail alone: an optional section that raises (here through the test fault injector INSIGHT_NB_FAULT, read by
`insight_nb.steps.section`/`show_section`) shows an error box in its place, adds a high finding, and the report is still
published, marked partial (manifest.json `status: "partial"`, `failed_sections`; `insight-nb report` exits 3). A small
custom template (profile, compare, evaluation, drivers, outputs), 600 Telco rows, logistic regression only and one thread
keep each run to seconds."""
import json

import nbformat
import pytest

from insight_nb.cells import new_template, write_notebook
from insight_nb.cli import main
from insight_nb.data import load_demo
from insight_nb.report import run_report
from insight_nb.steps import FAULT_ENV

FILES = [".insight-nb.json", "findings.json", "manifest.json", "metrics.json", "model", "reference.json", "report.html", "report.ipynb"]
FAST = ["-p", "cv=2", "-p", "models=[sk_logreg]", "-p", "n_boot=20", "--threads", "1", "-q"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    "A 600-row slice of Telco and a template with one optional section computed (drivers) and one only displayed (the evaluation)."
    d = tmp_path_factory.mktemp("partial")
    load_demo("telco_churn").iloc[:600].to_csv(d / "telco600.csv", index=False)
    tpl = write_notebook(new_template(["profile", "compare", "evaluation", "drivers", "outputs"], name="partial_test"), d / "partial_test.ipynb")
    return d, d / "telco600.csv", tpl


@pytest.fixture(scope="module")
def partial(setup):
    "`insight-nb report` with the drivers computation and the evaluation's display made to raise: (exit status, stderr, out)."
    d, data, tpl = setup
    out = d / "out"
    mp = pytest.MonkeyPatch()
    mp.setenv(FAULT_ENV, "drivers,evaluation")  # the kernel inherits this process's environment
    import contextlib, io
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            rc = main(["report", str(data), "--target", "Churn", "--template", str(tpl), "--out", str(out)] + FAST)
    finally:
        mp.undo()
    return rc, err.getvalue(), out


def test_partial_report_is_published_with_exit_status_3(partial):
    rc, err, out = partial
    assert rc == 3, err
    assert sorted(p.name for p in out.iterdir()) == FILES
    assert not out.with_name("out.failed").exists() and not [p for p in out.parent.iterdir() if p.name.startswith(".out")]
    line = [x for x in err.splitlines() if "partial report" in x]
    assert len(line) == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 2, err   # the template line, then the partial line
    assert "partial report written" in line[0] and "report.html" in line[0]
    assert "drivers (RuntimeError: fault injected" in line[0] and "evaluation (RuntimeError" in line[0]


def test_manifest_says_partial_and_names_the_sections(partial):
    _, _, out = partial
    man = json.loads((out / "manifest.json").read_text())
    assert (man["status"], man["exit_status"]) == ("partial", 3)
    assert man["failed_sections"] == ["evaluation", "drivers"]
    assert [e["section"] for e in man["section_errors"]] == ["evaluation", "drivers"]
    assert all(e["error"].startswith("RuntimeError: fault injected into section") for e in man["section_errors"])


def test_error_box_in_html_and_traceback_in_notebook(partial):
    _, _, out = partial
    html = (out / "report.html").read_text()
    assert html.count('class="insight-section-failed"') == 2
    assert "Section drivers failed." in html and "Section evaluation failed." in html
    assert "fault injected into section" in html and "The full traceback is in report.ipynb" in html
    assert "Traceback (most recent call last)" not in html  # the traceback is on the cell's stderr, kept out of the page
    assert "Model comparison" in html and "Findings" in html  # the rest of the report is there
    nb = nbformat.read(str(out / "report.ipynb"), as_version=4)
    drivers_cell = next(c for c in nb.cells if "stage-drivers" in c.metadata.get("tags", []))
    stderr = "".join(o.get("text", "") for o in drivers_cell.outputs if o.get("name") == "stderr")
    assert "Traceback" in stderr and "RuntimeError: fault injected into section 'drivers'" in stderr


def test_high_findings_and_metrics(partial):
    _, _, out = partial
    f = json.loads((out / "findings.json").read_text())
    failed = [x for x in f["findings"] if x["kind"] == "section_failed"]
    assert {x["title"] for x in failed} == {"Section drivers failed", "Section evaluation failed"}
    assert all(x["severity"] == "high" for x in failed) and f["findings"][0]["kind"] == "section_failed"
    assert "Section drivers failed: RuntimeError: fault injected" in next(x["text"] for x in failed if x["evidence"]["section"] == "drivers")
    m = json.loads((out / "metrics.json").read_text())
    assert m["drivers"]["failed"] is True and m["drivers"]["section"] == "drivers"
    assert m["best_model"] == "sk_logreg" and m["test"]["roc_auc"] > 0.5  # the core results are all there


def test_a_good_run_replaces_the_partial_one(partial, setup):
    "The same template without the fault: status ok, nothing failed (and the partial report was replaced like any other)."
    _, _, out = partial
    _, data, tpl = setup
    res = run_report(data, "Churn", template=tpl, params=dict(cv=2, models=["sk_logreg"], n_boot=20), out=out,
                     kernel_env={"OMP_NUM_THREADS": "1"})
    assert (res.status, res.partial, res.failed_sections) == ("ok", False, [])
    man = json.loads((out / "manifest.json").read_text())
    assert (man["status"], man["exit_status"], man["failed_sections"]) == ("ok", 0, [])
    assert "insight-section-failed" not in (out / "report.html").read_text()
    assert not [x for x in json.loads((out / "findings.json").read_text())["findings"] if x["kind"] == "section_failed"]
