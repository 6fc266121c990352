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
