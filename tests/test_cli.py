"""The `insight-nb` command: output written atomically, clear errors, earlier output kept."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from insight_nb.cli import main

def test_profile_writes_three_files(tmp_path):
    out = tmp_path / "telco"
    assert main(["profile", "demo:telco_churn", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".insight-nb.json", "manifest.json", "profile.html", "profile.json"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "ok" and m["data"]["source_sha256"].startswith("16320c9c")

def test_failure_keeps_the_last_good_output(tmp_path, capsys):
    out = tmp_path / "telco"
    main(["profile", "demo:telco_churn", "--out", str(out)])
    before = (out / "manifest.json").read_text()
    assert main(["profile", "demo:telco_churn", "--target", "Churnn", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 'Churn'" in err and "Traceback" not in err
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["telco"]  # no staging folders left behind

def test_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"; blocker.write_text("x")
    assert main(["profile", "demo:telco_churn", "--out", str(blocker / "sub" / "out")]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err

def test_console_command_runs(tmp_path):
    exe = Path(sys.executable).parent / "insight-nb"
    r = subprocess.run([str(exe), "report", str(tmp_path / "nope.csv"), "--target", "y"], capture_output=True, text=True)
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "insight_nb.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "profile" in r.stdout

def test_report_says_each_stage_as_it_finishes(tmp_path, capsys):
    """`insight-nb report` prints one line per stage on stderr while it runs (plain lines: stderr is not a terminal here),
    in the template's order between the checks and the HTML page; manifest.json records the same stages' seconds."""
    import re
    import nbformat
    from insight_nb.cells import new_template, write_notebook
    from insight_nb.data import load_demo
    from insight_nb.render import template_stages
    load_demo("telco_churn").iloc[:300].to_csv(tmp_path / "t.csv", index=False)
    tpl = write_notebook(new_template(["profile", "compare", "outputs"], name="progress_test"), tmp_path / "progress_test.ipynb")
    stages = ["check"] + template_stages(nbformat.read(str(tpl), as_version=4)) + ["html"]
    assert {"load", "compare", "outputs"} <= set(stages)
    argv = ["report", str(tmp_path / "t.csv"), "--target", "Churn", "--template", str(tpl), "-p", "cv=2", "-p", "models=[sk_logreg]",
            "-p", "n_boot=0", "--threads", "1"]
    assert main(argv + ["--out", str(tmp_path / "out")]) == 0  # (--quiet drops the lines: tests/test_partial_report.py)
    err = capsys.readouterr().err
    lines = [m.groups() for m in re.finditer(r"^\[(\d+)/(\d+)\] (\w+): ([\d.]+) s \(([\d.]+) s elapsed\)$", err, re.M)]
    assert [s for _, _, s, _, _ in lines] == stages, err
    assert [int(i) for i, *_ in lines] == list(range(1, len(stages) + 1)) and {int(n) for _, n, *_ in lines} == {len(stages)}
    elapsed = [float(e) for *_, e in lines]
    assert elapsed == sorted(elapsed) and "Traceback" not in err
    t = json.loads((tmp_path / "out" / "manifest.json").read_text())["timings"]
    assert set(stages[1:-1]) <= set(t) and t["compare"] > 0
