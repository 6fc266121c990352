"""Issue 11: every error a user can cause is one paragraph (what, where, fix), never a traceback, and nothing is lost.

One parametrized table of bad inputs and faults across `insight-nb report`, `profile`, `score`, `sweep`, `new-template`
and the Python API. Each case writes its files into `tmp_path` (the current folder during the case), runs the command
line (`insight_nb.cli.main(argv)`) or a Python callable, and `test_error` asserts generically:

- the exit status (2 for bad input) or, for the Python API, the exception class;
- the message is ONE paragraph (no newline inside it), holds "Fix:" exactly once, no "Traceback", no doubled period
  before "Fix:", and names what is wrong and where (the file, the flag or the key);
- nothing lost: every file under `tmp_path` is byte-identical afterwards, and no file or folder (hidden staging folders
  included) was created, except those a case expects.

No case starts a kernel (the report's and the sweep's executors are replaced by a tripwire); one small model is trained
for the whole module.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from insight_nb.cli import main
from insight_nb.core import DataError, InsightError, SchemaError, TargetError
from insight_nb.publish import MARKER

# ---------------------------------------------------------------------------------------------------- data helpers

def frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    "A small, clean binary-classification table: id, age, plan, income, y (yes/no)."
    rng = np.random.default_rng(seed)
    return pd.DataFrame(dict(id=[f"C{i:04d}" for i in range(n)], age=rng.integers(18, 80, n), plan=rng.choice(["basic", "plus", "pro"], n),
                             income=rng.normal(50, 10, n).round(2), y=rng.choice(["yes", "no"], n)))

def write_good(tmp: Path, name: str = "good.csv", **kw) -> Path:
    p = tmp / name
    frame(**kw).to_csv(p, index=False)
    return p

def png_bytes() -> bytes:
    "A valid 1x1 PNG."
    def chunk(kind, data): return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))

def w(name: str, content):
    "A setup that writes `content` (str: UTF-8 text, bytes: as is) to `name`."
    def setup(tmp, ctx):
        p = tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return setup

def good(name: str = "good.csv"):
    return lambda tmp, ctx: write_good(tmp, name)

def both(*setups):
    def setup(tmp, ctx):
        for s in setups: s(tmp, ctx)
    return setup

def mkdir(name: str):
    return lambda tmp, ctx: (tmp / name).mkdir(parents=True, exist_ok=True)

def user_folder(name: str = "mine"):
    "An existing folder of the user's (no marker) with a file in it."
    return w(f"{name}/notes.txt", "my notes\n")

HEADER_ONLY = "id,age,plan,income,y\n"
RAGGED = "id,age,plan,income,y\n" + "".join(f"C{i},{20 + i},basic,{40 + i},{'yes' if i % 2 else 'no'}\n" for i in range(30)) \
         + "C99,55,plus,61,yes,EXTRA\n" + "".join(f"D{i},{30 + i},pro,{50 + i},{'no' if i % 2 else 'yes'}\n" for i in range(30))

def latin1_csv(tmp, ctx):
    df = frame()
    df["plan"] = np.where(np.arange(len(df)) % 3 == 0, "prémium", df["plan"])
    (tmp / "latin.csv").write_bytes(df.to_csv(index=False).encode("latin-1"))

def gzip_csv(tmp, ctx):
    (tmp / "packed.csv").write_bytes(gzip.compress(frame().to_csv(index=False).encode()))

def variant(name: str, fn):
    "A setup writing `fn(frame())` as CSV."
    return lambda tmp, ctx: fn(frame()).to_csv(tmp / name, index=False)

def constant_target(df): return df.assign(y="yes")
def continuous_target(df): return df.assign(y=np.random.default_rng(1).normal(size=len(df)))
def id_target(df): return df.assign(y=[f"T{i}" for i in range(len(df))])
def single_row_class(df):
    df = df.copy()
    df.loc[0, "y"] = "maybe"
    return df

def yaml_file(name: str, text: str): return w(name, text)

# ---------------------------------------------------------------------------------------------------- model helpers

TELCO_ROWS = 40

def telco_rows() -> pd.DataFrame:
    from insight_nb.data import load_table
    return load_table("demo:telco_churn").iloc[:TELCO_ROWS].drop(columns=["Churn"]).reset_index(drop=True)

def model_copy(name: str = "model"):
    "A setup copying the module's saved model folder to `name`."
    return lambda tmp, ctx: shutil.copytree(ctx["model_dir"](), tmp / name)

def scoring_data(name: str = "new.csv", fn=lambda df: df):
    return lambda tmp, ctx: fn(telco_rows()).to_csv(tmp / name, index=False)

def tamper_pipeline(tmp, ctx):
    p = tmp / "model" / "pipeline.json"
    meta = json.loads(p.read_text())
    meta["classes"] = list(reversed(meta["classes"]))
    p.write_text(json.dumps(meta, indent=2))

def yes_no_to_y_n(df):
    df = df.copy()
    df["Partner"] = df["Partner"].map({"Yes": "Y", "No": "N"})
    return df

MODEL_SETUP = both(model_copy(), scoring_data())

# ---------------------------------------------------------------------------------------------------- the table

@dataclass
class Case:
    id: str
    setup: Callable | None              # setup(tmp_path, ctx): writes the case's files
    call: list | Callable               # argv for `insight-nb`, or f(tmp_path, ctx) for the Python API
    expect: int | type                  # exit status, or the exception class the Python API raises
    needles: tuple = ()                 # substrings the message must contain: what is wrong and where
    creates: tuple = ()                 # paths (relative to tmp_path) the case may create
    chdir: bool = True                  # run with tmp_path as the current folder

def C(id, setup, call, expect, *needles, creates=(), marks=(), chdir=True):
    return pytest.param(Case(id, setup, call, expect, needles, creates, chdir), id=id, marks=marks)

def xfail(reason): return pytest.mark.xfail(strict=True, reason=reason)

RECIPE_FIX = ("20_recipe check_values: the fix only describes the field ('Fix: cv: number of ... folds'); it must say how to set a valid "
              "value from every door, e.g. fix=f'set it to 2 or more, e.g. {set_option_hint(\"cv\", 5)}.'")

R = ["report"]
G = good()
REPORT = [
    C("report-missing-file", None, R + ["nope.csv", "--target", "y"], 2, "does not exist", "nope.csv"),
    C("report-folder-as-data", mkdir("adir"), R + ["adir", "--target", "y"], 2, "folder", "adir"),
    C("report-empty-file", w("empty.csv", ""), R + ["empty.csv", "--target", "y"], 2, "empty", "empty.csv"),
    C("report-png-named-csv", w("picture.csv", png_bytes()), R + ["picture.csv", "--target", "y"], 2, "PNG", "picture.csv"),
    C("report-gzip-named-csv", gzip_csv, R + ["packed.csv", "--target", "y"], 2, "gzip", "packed.csv"),
    C("report-latin1-header", w("latin_head.csv", "id,prénom,y\n1,a,yes\n".encode("latin-1")), R + ["latin_head.csv", "--target", "y"], 2,
      "latin_head.csv", "--encoding"),
    C("report-target-typo", G, R + ["good.csv", "--target", "Y_"], 2, "'Y_'", "Did you mean", "good.csv"),
    C("report-no-target", G, R + ["good.csv"], 2, "no target", "--target"),
    C("report-demo-typo", None, R + ["demo:telco"], 2, "telco", "Did you mean"),
    C("report-sep-two-chars", G, R + ["good.csv", "--target", "y", "--sep", "ab"], 2, "'ab'", "--sep"),
    C("report-p-sep-two-chars", G, R + ["good.csv", "--target", "y", "-p", "sep=ab"], 2, "'ab'", "sep"),
    C("report-p-cv-word", G, R + ["good.csv", "--target", "y", "-p", "cv=three"], 2, "three", "-p cv"),
    C("report-p-cv-one", G, R + ["good.csv", "--target", "y", "-p", "cv=1"], 2, "cv", "-p cv="),
    C("report-p-test-above-one", G, R + ["good.csv", "--target", "y", "-p", "test=1.5"], 2, "1.5", "-p test="),
    C("report-p-unknown-parameter", G, R + ["good.csv", "--target", "y", "-p", "folds=3"], 2, "'folds'", "-p"),
    C("report-p-no-equals", G, R + ["good.csv", "--target", "y", "-p", "cv"], 2, "key=value", "-p"),
    C("report-p-unknown-model", G, R + ["good.csv", "--target", "y", "-p", "models=[nope]"], 2, "'nope'", "models"),
    C("report-p-sensitive-unknown-column", G, R + ["good.csv", "--target", "y", "-p", "sensitive=[nope]"], 2, "'nope'", "sensitive"),
    C("report-p-roles-unknown-role", G, R + ["good.csv", "--target", "y", "-p", "roles={age: nope}"], 2, "nope", "roles"),
    C("report-p-roles-unknown-column", G, R + ["good.csv", "--target", "y", "-p", "roles={nope: numeric}"], 2, "'nope'", "roles"),
    C("report-p-previous-run-missing", G, R + ["good.csv", "--target", "y", "-p", "previous_run=/nonexistent"], 2, "/nonexistent", "previous_run"),
    C("report-p-on-bad-lines", G, R + ["good.csv", "--target", "y", "-p", "on_bad_lines=nope"], 2, "'nope'", "-p on_bad_lines=skip"),
    C("report-encoding-unknown", G, R + ["good.csv", "--target", "y", "--encoding", "klingon"], 2, "klingon", "--encoding"),
    C("report-p-malformed-yaml", G, R + ["good.csv", "--target", "y", "-p", "models=[sk_logreg"], 2, "malformed YAML", "-p models"),
    C("report-timeout-negative", G, R + ["good.csv", "--target", "y", "--timeout", "-5"], 2, "-5", "--timeout"),
    C("report-threads-negative", G, R + ["good.csv", "--target", "y", "--threads", "-1"], 2, "-1", "--threads"),
    C("report-threads-word", G, R + ["good.csv", "--target", "y", "--threads", "abc"], 2, "abc", "--threads"),
    C("report-config-missing", G, R + ["good.csv", "--target", "y", "--config", "nope.yml"], 2, "does not exist", "nope.yml"),
    C("report-config-malformed", both(G, yaml_file("bad.yml", "cv: [3\nseed: 1\n")), R + ["good.csv", "--target", "y", "--config", "bad.yml"], 2,
      "malformed YAML", "bad.yml"),
    C("report-config-duplicate-key", both(G, yaml_file("dup.yml", "cv: 3\nseed: 1\ncv: 5\n")), R + ["good.csv", "--target", "y", "--config", "dup.yml"], 2,
      "twice", "dup.yml"),
    C("report-config-list", both(G, yaml_file("list.yml", "- cv: 3\n- seed: 1\n")), R + ["good.csv", "--target", "y", "--config", "list.yml"], 2,
      "mapping", "list.yml"),
    C("report-config-unknown-key", both(G, yaml_file("keys.yml", "cv: 3\nfolds: 2\n")), R + ["good.csv", "--target", "y", "--config", "keys.yml"], 2,
      "'folds'", "keys.yml"),
    C("report-template-typo", G, R + ["good.csv", "--target", "y", "--template", "tabular_reprot"], 2, "tabular_reprot", "--template", "Did you mean"),
    C("report-template-missing-file", G, R + ["good.csv", "--target", "y", "--template", "mine.ipynb"], 2, "does not exist", "mine.ipynb"),
    C("report-out-existing-file", both(G, w("taken.txt", "mine\n")), R + ["good.csv", "--target", "y", "--out", "taken.txt"], 2, "existing file", "taken.txt"),
    C("report-out-user-folder", both(G, user_folder()), R + ["good.csv", "--target", "y", "--out", "mine"], 2, "not written by insight-nb", "mine", "--force"),
    C("report-out-proc", G, R + ["good.csv", "--target", "y", "--out", "/proc/foo"], 2, "/proc", "--out"),
    C("report-out-dot", G, R + ["good.csv", "--target", "y", "--out", "."], 2, "not written by insight-nb", "--out"),
    C("report-unknown-option", G, R + ["good.csv", "--target", "y", "--bogus"], 2, "--bogus", "--help"),
    # the target's own checks run before a kernel starts (they used to fail a whole report late, with two "Fix:" parts)
    # a continuous number is regression by default (issue 14); read as classes it is refused
    C("report-target-continuous", variant("cont.csv", continuous_target), R + ["cont.csv", "--target", "y", "-p", "task=classification"], 2, "continuous", "target 'y'"),
    C("report-task-regression-on-labels", G, R + ["good.csv", "--target", "y", "-p", "task=regression"], 2, "not a number", "task=auto"),
    C("report-target-constant", variant("const.csv", constant_target), R + ["const.csv", "--target", "y"], 2, "constant", "'y'"),
    C("report-target-identifier", variant("ids.csv", id_target), R + ["ids.csv", "--target", "y"], 2, "'y'", "Fix:"),
    C("report-target-single-row-class", variant("rare.csv", single_row_class), R + ["rare.csv", "--target", "y"], 2, "1 row", "drop_rare_classes"),
]

P = ["profile"]
PROFILE = [
    C("profile-missing-file", None, P + ["nope.csv", "--target", "y"], 2, "does not exist", "nope.csv"),
    C("profile-folder-as-data", mkdir("adir"), P + ["adir", "--target", "y"], 2, "folder", "adir"),
    C("profile-empty-file", w("empty.csv", ""), P + ["empty.csv", "--target", "y"], 2, "empty", "empty.csv"),
    C("profile-header-only", w("head.csv", HEADER_ONLY), P + ["head.csv", "--target", "y"], 2, "no data rows", "head.csv"),
    C("profile-png-named-csv", w("picture.csv", png_bytes()), P + ["picture.csv", "--target", "y"], 2, "PNG", "picture.csv"),
    C("profile-gzip-named-csv", gzip_csv, P + ["packed.csv", "--target", "y"], 2, "gzip", "packed.csv"),
    C("profile-ragged-row", w("ragged.csv", RAGGED), P + ["ragged.csv", "--target", "y"], 2, "ragged.csv", "line 32"),
    C("profile-latin1", latin1_csv, P + ["latin.csv", "--target", "y"], 2, "latin.csv", "--encoding"),
    C("profile-bad-encoding-name", G, P + ["good.csv", "--target", "y", "--encoding", "klingon"], 2, "klingon", "--encoding"),
    C("profile-target-typo", G, P + ["good.csv", "--target", "Y_"], 2, "'Y_'", "Did you mean"),
    C("profile-target-constant", variant("const.csv", constant_target), P + ["const.csv", "--target", "y"], 2, "'y'", "constant"),
    C("profile-target-continuous", variant("cont.csv", continuous_target), P + ["cont.csv", "--target", "y", "-p", "task=classification"], 2, "'y'", "continuous"),
    C("profile-task-regression-on-labels", G, P + ["good.csv", "--target", "y", "-p", "task=regression"], 2, "'y'", "not a number"),
    C("profile-target-id-like", variant("ids.csv", id_target), P + ["ids.csv", "--target", "y"], 2, "'y'", "identifier"),
    C("profile-single-row-class", variant("rare.csv", single_row_class), P + ["rare.csv", "--target", "y"], 2, "'maybe'", "1 row"),
    C("profile-positive-class-typo", G, P + ["good.csv", "--target", "y", "--positive-class", "yess"], 2, "'yess'", "--positive-class"),
    C("profile-sep-two-chars", G, P + ["good.csv", "--target", "y", "--sep", "ab"], 2, "'ab'", "--sep"),
    C("profile-out-existing-file", both(G, w("taken.txt", "mine\n")), P + ["good.csv", "--target", "y", "--out", "taken.txt"], 2, "existing file", "taken.txt"),
    C("profile-out-user-folder", both(G, user_folder()), P + ["good.csv", "--target", "y", "--out", "mine"], 2, "not written by insight-nb", "--force"),
    C("profile-out-proc", G, P + ["good.csv", "--target", "y", "--out", "/proc/foo"], 2, "/proc", "--out"),
    C("profile-ragged-row-skip-option", w("ragged.csv", RAGGED), P + ["ragged.csv", "--target", "y", "-p", "on_bad_lines=nope"], 2, "'nope'", "on_bad_lines"),
    C("profile-p-unknown-parameter", G, P + ["good.csv", "--target", "y", "-p", "folds=3"], 2, "'folds'", "-p"),
    C("profile-missing-positional", None, P, 2, "data", "--help"),
    C("profile-unknown-option", G, P + ["good.csv", "--bogus"], 2, "--bogus", "--help"),
]

S = ["score"]
SCORE = [
    C("score-model-missing", scoring_data(), S + ["nomodel", "new.csv"], 2, "does not exist", "nomodel"),
    C("score-model-plain-folder", both(user_folder("plain"), scoring_data()), S + ["plain", "new.csv"], 2, "no model folder", "plain"),
    C("score-model-is-file", both(w("model.txt", "x"), scoring_data()), S + ["model.txt", "new.csv"], 2, "file, not a folder", "model.txt"),
    C("score-model-tampered-pipeline", both(MODEL_SETUP, tamper_pipeline), S + ["model", "new.csv"], 2, "pipeline.json", "changed"),
    C("score-model-extra-file", both(MODEL_SETUP, w("model/notes.txt", "x")), S + ["model", "new.csv"], 2, "notes.txt", "model"),
    C("score-model-missing-weights", both(MODEL_SETUP, lambda tmp, ctx: (tmp / "model" / "model.safetensors").unlink()), S + ["model", "new.csv"], 2,
      "model.safetensors", "model"),
    C("score-data-missing", model_copy(), S + ["model", "nope.csv"], 2, "does not exist", "nope.csv"),
    C("score-data-png", both(model_copy(), w("picture.csv", png_bytes())), S + ["model", "picture.csv"], 2, "PNG", "picture.csv"),
    C("score-data-missing-column", both(model_copy(), scoring_data("new.csv", lambda df: df.drop(columns=["tenure"]))), S + ["model", "new.csv"], 2,
      "'tenure'", "new.csv"),
    C("score-id-columns-typo", MODEL_SETUP, S + ["model", "new.csv", "--id-columns", "customerId"], 2, "'customerId'", "--id-columns", "Did you mean"),
    C("score-boolean-y-n", both(model_copy(), scoring_data("new.csv", yes_no_to_y_n)), S + ["model", "new.csv"], 2, "'Partner'", "boolean"),
    C("score-out-existing-folder", both(MODEL_SETUP, user_folder()), S + ["model", "new.csv", "--out", "mine"], 2, "is a folder", "mine"),
    C("score-out-proc", MODEL_SETUP, S + ["model", "new.csv", "--out", "/proc/x.csv"], 2, "/proc", "--out"),
    C("score-out-user-file", both(MODEL_SETUP, w("scores.csv", "mine\n")), S + ["model", "new.csv", "--out", "scores.csv"], 2,
      "not written by insight-nb", "scores.csv", "--force"),
    C("score-out-inside-model", MODEL_SETUP, S + ["model", "new.csv", "--out", "model/scores.csv"], 2, "inside the model folder", "--out"),
    C("score-out-is-data", MODEL_SETUP, S + ["model", "new.csv", "--out", "new.csv", "--force"], 2, "data file", "--out"),
    C("score-missing-positional", model_copy(), S + ["model"], 2, "data", "--help"),
]

SW = ["sweep"]
SWEEP_OK = "data: good.csv\ntarget: y\nparams: {cv: 2, models: [sk_logreg]}\n"
SWEEP = [
    C("sweep-file-missing", None, SW + ["nope.yml"], 2, "does not exist", "nope.yml"),
    C("sweep-not-a-mapping", yaml_file("s.yml", "- a\n- b\n"), SW + ["s.yml"], 2, "mapping", "s.yml"),
    C("sweep-malformed-yaml", yaml_file("s.yml", "data: [good.csv\ntarget: y\n"), SW + ["s.yml"], 2, "malformed YAML", "s.yml"),
    C("sweep-unknown-key", both(G, yaml_file("s.yml", SWEEP_OK + "wrokers: 2\n")), SW + ["s.yml"], 2, "'wrokers'", "s.yml"),
    C("sweep-name-dotdot", both(G, yaml_file("s.yml", "datasets: [{name: '..', data: good.csv, target: y}]\n")), SW + ["s.yml"], 2,
      "'..'", "datasets[0]: name"),
    C("sweep-name-dot", both(G, yaml_file("s.yml", "datasets: [{name: '.', data: good.csv, target: y}]\n")), SW + ["s.yml"], 2,
      "'.'", "datasets[0]: name"),
    C("sweep-name-escapes", both(G, yaml_file("s.yml", "datasets: [{name: 'a/../../x', data: good.csv, target: y}]\n")), SW + ["s.yml"], 2,
      "a/../../x", "datasets[0]: name"),
    C("sweep-sweep-name-escapes", both(G, yaml_file("s.yml", "name: ../up\n" + SWEEP_OK)), SW + ["s.yml"], 2, "'../up'", "s.yml: name"),
    C("sweep-duplicate-names", both(G, yaml_file("s.yml", "datasets: [{name: a, data: good.csv, target: y}, {name: a, data: good.csv, target: y}]\n")),
      SW + ["s.yml"], 2, "'a'", "datasets[1]"),
    C("sweep-duplicate-keys", both(G, yaml_file("s.yml", SWEEP_OK + "target: z\n")), SW + ["s.yml"], 2, "twice", "s.yml"),
    C("sweep-split-by-unknown", both(G, yaml_file("s.yml", SWEEP_OK + "split_by: regoin\n")), SW + ["s.yml"], 2, "'regoin'", "split_by"),
    C("sweep-workers-zero", both(G, yaml_file("s.yml", SWEEP_OK + "workers: 0\n")), SW + ["s.yml"], 2, "workers", "s.yml"),
    C("sweep-timeout-negative", both(G, yaml_file("s.yml", SWEEP_OK + "timeout: -1\n")), SW + ["s.yml"], 2, "timeout", "s.yml"),
    C("sweep-cli-workers-zero", both(G, yaml_file("s.yml", SWEEP_OK)), SW + ["s.yml", "--workers", "0"], 2, "'0'", "--workers"),
    C("sweep-data-missing", yaml_file("s.yml", "data: nope.csv\ntarget: y\n"), SW + ["s.yml"], 2, "does not exist", "nope.csv"),
    C("sweep-no-target", both(G, yaml_file("s.yml", "data: good.csv\n")), SW + ["s.yml"], 2, "no target", "s.yml", "`target: COLUMN`"),
    C("sweep-target-typo", both(G, yaml_file("s.yml", "data: good.csv\ntarget: Y_\n")), SW + ["s.yml"], 2, "'Y_'", "`target:`", "Did you mean"),
    C("sweep-out-user-folder", both(G, yaml_file("s.yml", SWEEP_OK), user_folder()), SW + ["s.yml", "--out", "mine"], 2,
      "not written by insight-nb", "mine", "--force"),
    C("sweep-out-existing-file", both(G, yaml_file("s.yml", SWEEP_OK), w("taken.txt", "x")), SW + ["s.yml", "--out", "taken.txt"], 2,
      "existing file", "taken.txt"),
]

NT = ["new-template"]
NEW_TEMPLATE = [
    C("new-template-unknown-cell", None, NT + ["mine", "--cells", "profile,comprae"], 2, "'comprae'", "--cells", "Did you mean"),
    C("new-template-cell-order", None, NT + ["mine", "--cells", "evaluation,profile"], 2, "'evaluation'", "--cells"),
    C("new-template-out-exists", w("mine.ipynb", "{}"), NT + ["mine", "--out", "mine.ipynb"], 2, "exists", "mine.ipynb", "--force"),
    C("new-template-default-out-exists", w("mine.ipynb", "{}"), NT + ["mine"], 2, "exists", "mine.ipynb", "--force"),
    C("new-template-out-folder", mkdir("adir"), NT + ["mine", "--out", "adir"], 2, "folder", "adir"),
    C("new-template-bad-name", None, NT + ["../evil"], 2, "'../evil'", "name"),
    C("new-template-out-proc", None, NT + ["mine", "--out", "/proc/mine.ipynb"], 2, "/proc", "--out"),
    C("new-template-missing-name", None, NT, 2, "name", "--help"),
]

# --- the Python API

def api_prepare_target_typo(tmp, ctx):
    from insight_nb.dataset import prepare
    prepare(tmp / "good.csv", target="Y_")

def api_prepare_constant(tmp, ctx):
    from insight_nb.dataset import prepare
    prepare(tmp / "const.csv", target="y")

def api_load_table_png(tmp, ctx):
    from insight_nb.data import load_table
    load_table(tmp / "picture.csv")

def api_load_table_missing(tmp, ctx):
    from insight_nb.data import load_table
    load_table(tmp / "nope.csv")

def api_load_table_latin1(tmp, ctx):
    from insight_nb.data import load_table
    load_table(tmp / "latin.csv")

def api_run_report_user_folder(tmp, ctx):
    from insight_nb.report import run_report
    run_report(tmp / "good.csv", "y", out=tmp / "mine")

def api_run_report_bad_param(tmp, ctx):
    from insight_nb.report import run_report
    run_report(tmp / "good.csv", "y", params=dict(cv="three"))

def api_save_model_user_folder(tmp, ctx):
    from insight_nb.artifact import save_model
    save_model(ctx["fitted"](), tmp / "mine")

def api_load_model_tampered(tmp, ctx):
    from insight_nb.artifact import load_model
    load_model(tmp / "model")

def api_score_bad_id_columns(tmp, ctx):
    from insight_nb.artifact import score
    score(tmp / "model", tmp / "new.csv", id_columns=["customerId"])

def api_score_frame_missing_column(tmp, ctx):
    from insight_nb.artifact import score
    score(tmp / "model", telco_rows().drop(columns=["tenure"]))

def api_load_sweep_dotdot(tmp, ctx):
    from insight_nb.sweep import load_sweep
    load_sweep(dict(datasets=[dict(name="..", data=str(tmp / "good.csv"), target="y")]))

def api_run_sweep_user_folder(tmp, ctx):
    from insight_nb.sweep import run_sweep
    run_sweep(dict(data=str(tmp / "good.csv"), target="y"), out=tmp / "mine")

def api_new_template_unknown_cell(tmp, ctx):
    from insight_nb.report import new_template
    new_template("profile,comprae", tmp / "t.ipynb")

PYTHON = [
    C("api-prepare-target-typo", G, api_prepare_target_typo, TargetError, "'Y_'", "Did you mean"),
    C("api-prepare-constant-target", variant("const.csv", constant_target), api_prepare_constant, TargetError, "'y'"),
    C("api-load-table-png", w("picture.csv", png_bytes()), api_load_table_png, DataError, "PNG", "picture.csv"),
    C("api-load-table-missing", None, api_load_table_missing, DataError, "does not exist", "nope.csv"),
    C("api-load-table-latin1", latin1_csv, api_load_table_latin1, DataError, "latin.csv", "encoding="),
    C("api-run-report-user-folder", both(G, user_folder()), api_run_report_user_folder, InsightError, "not written by insight-nb", "force=True"),
    C("api-run-report-bad-param", G, api_run_report_bad_param, InsightError, "three", "cv"),
    C("api-save-model-user-folder", user_folder(), api_save_model_user_folder, InsightError, "not written by insight-nb", "force=True"),
    C("api-load-model-tampered", both(model_copy(), tamper_pipeline), api_load_model_tampered, InsightError, "pipeline.json", "changed"),
    C("api-score-bad-id-columns", MODEL_SETUP, api_score_bad_id_columns, SchemaError, "'customerId'", "id_columns"),
    C("api-score-frame-missing-column", model_copy(), api_score_frame_missing_column, SchemaError, "'tenure'"),
    C("api-load-sweep-dotdot", G, api_load_sweep_dotdot, InsightError, "'..'", "name"),
    C("api-run-sweep-user-folder", both(G, user_folder()), api_run_sweep_user_folder, InsightError, "not written by insight-nb", "force=True"),
    C("api-new-template-unknown-cell", None, api_new_template_unknown_cell, InsightError, "'comprae'", "Did you mean"),
]

CASES = REPORT + PROFILE + SCORE + SWEEP + NEW_TEMPLATE + PYTHON

# ---------------------------------------------------------------------------------------------------- the checks

@pytest.fixture(scope="module")
def _model(tmp_path_factory):
    "One small Telco model for the whole module, fitted and saved only when a case needs it."
    cache = {}
    def fitted():
        if "fitted" not in cache:
            from insight_nb.data import load_table
            from insight_nb.dataset import prepare
            from insight_nb.models import TorchTabularClassifier
            ds = prepare(load_table("demo:telco_churn").iloc[:600], target="Churn")
            cache["fitted"] = TorchTabularClassifier(epochs=1, hidden=(16,)).fit(ds.X, ds.y, schema=ds.schema)
        return cache["fitted"]
    def model_dir():
        if "dir" not in cache:
            from insight_nb.artifact import save_model
            cache["dir"] = save_model(fitted(), tmp_path_factory.mktemp("error_table_model") / "model")
        return cache["dir"]
    return dict(fitted=fitted, model_dir=model_dir)


@pytest.fixture
def no_kernels(monkeypatch):
    "A tripwire: a case that gets as far as starting a kernel fails loudly instead of running a report."
    import insight_nb.report as report
    import insight_nb.sweep as sweep
    def tripwire(*a, **kw): raise AssertionError("a kernel would start: this case is not bad input")
    monkeypatch.setattr(report, "execute_template", tripwire)
    monkeypatch.setattr(sweep, "run_local", tripwire)
    monkeypatch.setattr(sweep, "run_dask", tripwire)


def snapshot(root: Path) -> tuple[dict, set]:
    "(relative file path -> sha256, set of relative folder paths) of everything under `root`, hidden entries included."
    files, dirs = {}, set()
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_dir() and not p.is_symlink(): dirs.add(rel)
        else: files[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "link"
    return files, dirs


def _outside_quotes(text: str) -> str:
    "`text` without quoted strings and path-like words (where '..' is a legitimate part of a name)."
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "''", text)
    return " ".join(word for word in text.split() if "/" not in word)


def check_paragraph(msg: str, case: Case) -> None:
    "One paragraph naming what, where and a fix."
    assert "Traceback" not in msg, msg
    assert "\n" not in msg, f"more than one line:\n{msg}"
    assert msg.count("Fix:") == 1, f"'Fix:' must occur exactly once: {msg}"
    what = _outside_quotes(msg.split("Fix:")[0])
    assert not re.search(r"(?<!\.)\.\s*\.(?!\.)", what), f"doubled period before 'Fix:': {msg}"
    for n in case.needles: assert n in msg, f"{n!r} not in: {msg}"


@pytest.mark.parametrize("case", CASES)
def test_error(case: Case, tmp_path, monkeypatch, capsys, _model, no_kernels):
    if case.chdir: monkeypatch.chdir(tmp_path)
    if case.setup: case.setup(tmp_path, _model)
    capsys.readouterr()
    before_files, before_dirs = snapshot(tmp_path)
    if callable(case.call):
        with pytest.raises(case.expect) as e: case.call(tmp_path, _model)
        msg = str(e.value)
        assert isinstance(e.value, InsightError), f"{type(e.value).__name__} is not an InsightError: {msg}"
        check_paragraph(msg, case)
        assert "--force" not in msg and "--out" not in msg, f"the Python API names a command-line flag: {msg}"
    else:
        rc = main(list(case.call))
        out, err = capsys.readouterr()
        assert rc == case.expect, f"exit status {rc} (expected {case.expect}); stderr: {err}; stdout: {out}"
        assert "Traceback" not in out + err, err
        assert err.endswith("\n") and err.startswith(f"insight-nb"), f"stderr: {err!r}"
        if case.expect == 2:
            assert out == "", f"bad input printed to stdout: {out!r}"
            assert err.startswith("insight-nb") and ": error: " in err, err
        check_paragraph(err[:-1], case)
    after_files, after_dirs = snapshot(tmp_path)
    allowed = set(case.creates)
    assert {k: v for k, v in after_files.items() if k not in allowed} == before_files, \
        f"files changed: {sorted(set(after_files.items()) ^ set(before_files.items()))}"
    assert after_dirs - allowed == before_dirs, f"folders created or removed: {sorted(after_dirs ^ before_dirs)}"


def test_table_covers_every_door():
    "Issue 11's acceptance: at least 60 cases, spread over every door."
    ids = [p.values[0].id for p in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 60
    per = {door: sum(i.startswith(door + "-") for i in ids) for door in ("report", "profile", "score", "sweep", "new-template", "api")}
    assert per["report"] >= 20 and per["profile"] >= 10 and per["score"] >= 10 and per["sweep"] >= 8 and per["new-template"] >= 4 and per["api"] >= 8, per
