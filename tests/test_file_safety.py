"""Issue 11: insight-nb never deletes, moves or overwrites a file it did not write. Each case was reproduced on the
old code (the user's folder emptied, a file moved aside, a sweep writing outside its folder, staging folders left by
killed runs) and is checked here as a new user would hit it: through the command line, comparing every byte of the
user's files before and after. A tiny template (profile + outputs) keeps each report run to a few seconds."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml


from insight_nb.cli import main
from insight_nb.data import load_demo
from insight_nb.publish import MARKER, read_marker
from insight_nb.report import new_template, write_notebook

EXE = str(Path(sys.executable).parent / "insight-nb")


def snapshot(folder: Path) -> dict:
    "Every file below `folder` (hidden ones too) -> its SHA-256."
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    "A test-only template: profile, an optional sleep (to be killed in), outputs."
    import nbformat
    nb = new_template(["profile", "outputs"], name="quick_test", defaults=dict(models=["sk_logreg"]))
    nb.cells[1].source += ("\nsleep = 0  # seconds to wait before the outputs\nstarted = ''  # a file the sleep cell creates as it starts"
                           "\nprevious_run = None  # set by run_report from the output folder")
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell("import pathlib, time\nif started: pathlib.Path(started).touch()\ntime.sleep(sleep)",
                                                                 metadata={"tags": ["stage-sleep"]}))
    return str(write_notebook(nb, tmp_path_factory.mktemp("templates") / "quick_test.ipynb"))


@pytest.fixture
def project(tmp_path):
    "A user's project folder: code, notes and the input table."
    p = tmp_path / "myproject"
    (p / "notes").mkdir(parents=True)
    (p / "analysis.py").write_text("import pandas as pd\nprint('my analysis')\n")
    (p / "notes" / "todo.md").write_text("- call the churn team\n")
    (p / ".hidden_config").write_text("secret=1\n")
    load_demo("telco_churn").iloc[:300].to_csv(p / "customers.csv", index=False)
    return p


def report(data, out, template, *extra):
    return main(["report", str(data), "--target", "Churn", "--template", template, "--out", str(out), *extra])


def test_report_into_the_project_folder_is_refused(project, quick, capsys):
    before = snapshot(project)
    assert report(project / "customers.csv", project, quick) == 2
    err = capsys.readouterr().err
    assert "was not written by insight-nb" in err and "--force" in err and "Traceback" not in err
    assert snapshot(project) == before
    assert sorted(p.name for p in project.parent.iterdir()) == ["myproject"]  # no staging or set-aside folder


@pytest.mark.parametrize("command", ["report", "profile"])
def test_out_dot_is_refused(project, quick, capsys, monkeypatch, command):
    monkeypatch.chdir(project)
    before = snapshot(project)
    argv = [command, "customers.csv", "--target", "Churn", "--out", "."] + (["--template", quick] if command == "report" else [])
    assert main(argv) == 2
    assert "was not written by insight-nb" in capsys.readouterr().err
    assert snapshot(project) == before


def test_force_adds_the_report_and_touches_nothing_else(project, quick):
    before = snapshot(project)
    assert report(project / "customers.csv", project, quick, "--force") == 0
    after = snapshot(project)
    assert {k: after[k] for k in before} == before  # every user file byte-identical
    added = set(after) - set(before)
    assert {"report.html", "report.ipynb", "metrics.json", "findings.json", "manifest.json", "reference.json", MARKER} == added
    assert read_marker(project)["scope"] == "files"  # a ledger of what insight-nb wrote, not a claim on the folder
    # the next run (a cron job) replaces the report's own files and still nothing else
    assert report(project / "customers.csv", project, quick, "--force") == 0
    again = snapshot(project)
    assert {k: again[k] for k in before} == before and set(again) == set(after)
    assert sorted(p.name for p in project.parent.iterdir()) == ["myproject", "myproject.failed"] or \
        sorted(p.name for p in project.parent.iterdir()) == ["myproject"]


def test_force_never_overwrites_a_user_file_of_the_same_name(project, quick, capsys):
    (project / "report.html").write_text("<p>my own page</p>")
    before = snapshot(project)
    assert report(project / "customers.csv", project, quick, "--force") == 2
    assert "report.html" in capsys.readouterr().err
    assert snapshot(project) == before


def test_out_naming_an_existing_file_is_refused(project, quick, capsys):
    before = snapshot(project)
    for argv in (["report", str(project / "customers.csv"), "--target", "Churn", "--template", quick, "--out", str(project / "analysis.py")],
                 ["profile", str(project / "customers.csv"), "--target", "Churn", "--out", str(project / "analysis.py")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "is an existing file" in err and "Traceback" not in err
    assert snapshot(project) == before
    assert not list(project.glob(".analysis.py*"))


def test_profile_after_report_keeps_the_report(project, quick, monkeypatch):
    "Default output folders are distinct per command: a profile never replaces the report and its reference.json."
    monkeypatch.chdir(project)
    assert main(["report", "customers.csv", "--target", "Churn", "--template", quick]) == 0
    rep = project / "reports" / "output" / "customers" / "report"
    before = snapshot(rep)
    assert "reference.json" in before
    assert main(["profile", "customers.csv", "--target", "Churn"]) == 0
    assert (project / "reports" / "output" / "customers" / "profile" / "profile.html").is_file()
    assert snapshot(rep) == before
    # the report's second run finds its previous run (for drift) in its own folder
    assert main(["report", "customers.csv", "--target", "Churn", "--template", quick]) == 0
    man = json.loads((rep / "manifest.json").read_text())
    assert man["origins"].get("previous_run") == "the output folder's previous run"


@pytest.mark.parametrize("name", [".", "..", "a/../../x", "../outside"])
def test_sweep_names_that_are_not_plain_names_are_refused(project, tmp_path, capsys, name):
    spec = tmp_path / "sweep.yml"
    spec.write_text(yaml.safe_dump(dict(datasets=[dict(name=name, data=str(project / "customers.csv"), target="Churn")],
                                        params=dict(cv=2, models=["sk_logreg"], n_boot=0))))
    before_tmp = sorted(p.name for p in tmp_path.iterdir())
    before = snapshot(project)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sw")]) == 2
    err = capsys.readouterr().err
    assert "cannot be used as a folder name" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before_tmp  # nothing created, nothing deleted
    assert snapshot(project) == before


def test_sweep_into_a_user_folder_is_refused(project, tmp_path, capsys):
    spec = tmp_path / "sweep.yml"
    spec.write_text(yaml.safe_dump(dict(data=str(project / "customers.csv"), target="Churn", params=dict(cv=2, models=["sk_logreg"], n_boot=0))))
    before = snapshot(project)
    assert main(["sweep", str(spec), "--out", str(project)]) == 2
    assert "was not written by insight-nb" in capsys.readouterr().err
    assert snapshot(project) == before


def _staging(out: Path) -> list:
    return sorted(out.parent.glob(f".{out.name}.tmp-*"))


def _start_slow_run(data, out, template) -> subprocess.Popen:
    "`insight-nb report` with a 120 s sleep cell, in its own process group; returns once the kernel is inside the sleep."
    started = out.with_name(out.name + ".sleeping")   # the sleep cell creates it as it starts (the notebook is written at the end only)
    proc = subprocess.Popen([EXE, "report", str(data), "--target", "Churn", "--template", template, "-p", "sleep=120",
                             "-p", f"started={started}", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 90
    while time.time() < deadline:
        if started.exists(): return proc
        if proc.poll() is not None: pytest.fail(f"the run ended early: {proc.communicate()}")
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("the slow run never reached its sleep cell")


def _reap(proc: subprocess.Popen) -> None:
    "Kill what is left of the run's process group (a kernel orphaned by SIGKILL)."
    try: os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError: pass


def test_sigterm_keeps_the_previous_report_and_records_the_failure(project, quick, tmp_path):
    out = tmp_path / "out"
    assert report(project / "customers.csv", out, quick) == 0
    before = snapshot(out)
    proc = _start_slow_run(project / "customers.csv", out, quick)
    try:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally: _reap(proc)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err and "out.failed" in err
    assert snapshot(out) == before
    failed = out.with_name("out.failed")
    assert json.loads((failed / "manifest.json").read_text())["status"] == "failed"
    assert "terminated (SIGTERM)" in json.loads((failed / "manifest.json").read_text())["error"]
    assert _staging(out) == []


def test_sigkill_leaves_staging_that_the_next_run_removes(project, quick, tmp_path):
    out = tmp_path / "out"
    assert report(project / "customers.csv", out, quick) == 0
    before = snapshot(out)
    proc = _start_slow_run(project / "customers.csv", out, quick)
    try:
        proc.kill()  # SIGKILL to the command alone: it cannot clean up
        proc.wait(timeout=30)
    finally: _reap(proc)
    assert snapshot(out) == before
    left = _staging(out)
    assert len(left) == 1 and read_marker(left[0])["staging"]
    user_lookalike = out.with_name(".out.tmp-users-own")  # a folder with a staging-like name but no marker is not ours
    user_lookalike.mkdir(); (user_lookalike / "keep.txt").write_text("keep")
    assert report(project / "customers.csv", out, quick) == 0
    assert _staging(out) == [user_lookalike] and (user_lookalike / "keep.txt").read_text() == "keep"


def test_force_never_removes_another_commands_files_or_a_user_edit(project, quick, capsys):
    """Found by a new-user check: a profile --force into the report's folder deleted the report's files, and an edited
    report file was overwritten. Now a second command never replaces the first one's files, and an edit makes a file the user's."""
    assert report(project / "customers.csv", project, quick, "--force") == 0
    capsys.readouterr()
    before = snapshot(project)
    assert main(["profile", str(project / "customers.csv"), "--target", "Churn", "--out", str(project), "--force"]) == 2
    assert "manifest.json" in capsys.readouterr().err  # the report's manifest: the profile may not replace it
    assert snapshot(project) == before
    with open(project / "findings.json", "a") as f: f.write("\n")  # the user annotates a report file: it is theirs now
    edited = snapshot(project)
    assert report(project / "customers.csv", project, quick, "--force") == 2
    assert "findings.json" in capsys.readouterr().err
    assert snapshot(project) == edited


def test_one_command_never_replaces_anothers_output(project, quick, tmp_path, capsys):
    "Found by a new-user check: a report into a profile's folder (or a model's, or a sweep's) replaced it without a word."
    prof = tmp_path / "prof"
    assert main(["profile", str(project / "customers.csv"), "--target", "Churn", "--out", str(prof)]) == 0
    before = snapshot(prof)
    capsys.readouterr()
    assert report(project / "customers.csv", prof, quick) == 2
    assert "holds the output of `insight-nb profile`" in capsys.readouterr().err
    assert snapshot(prof) == before
    assert main(["profile", str(project / "customers.csv"), "--target", "Churn", "--out", str(prof)]) == 0  # its own command may


def test_published_folders_and_files_get_the_usual_permissions(tmp_path):
    "mkdtemp/mkstemp make private folders and files; what insight_nb publishes gets the umask's permissions (readable by the group)."
    import os, stat
    from insight_nb.publish import publish_dir, publish_file, staging_dir
    old = os.umask(0o022)
    try:
        tmp = staging_dir(tmp_path / "out")
        (tmp / "a.txt").write_text("x")
        out = publish_dir(tmp, tmp_path / "out")
        assert stat.S_IMODE(out.stat().st_mode) == 0o755
        f = publish_file(lambda p: p.write_text("y"), tmp_path / "files" / "b.csv") if (tmp_path / "files").mkdir() is None else None
        assert stat.S_IMODE(f.stat().st_mode) == 0o644
    finally: os.umask(old)
