"""Gauntlet benchmark (issue 13 item 4): the command-line report, untouched and with default settings, on real tables.

`make bench BENCH=gauntlet` runs `insight-nb report DATA --target COL --out DIR` as a subprocess on every table of
/work/shared/data/gauntlet (see its SOURCES.md) plus Telco, German credit and banking77 train.csv, one after the other.
For each table: task and template (from the report's metrics.json / manifest.json), status (ok / partial / failed /
refused, with the exit code), sections that ran, failed or were skipped, the best cross-validated value of the report's
ranking metric, a HistGradientBoosting reference measured in the same run on exactly the rows and folds the report
cross-validated on, and the difference (the issue's bar: within 0.01 of it or better). The reference rebuilds the
report's recipe from its manifest.json `parameters`, calls `prepare` as the template does and runs
`insight_nb.compare.compare` (the report's test split, CV folds, seed and ranking metric) on two candidates:
HistGradientBoosting on `ds.X` by schema role (numeric/boolean as they are, categorical through an OrdinalEncoder into
native categoricals, datetime as days, text not used; one thread) and the report's own sk_logreg. "rows/folds" says
"same" when sk_logreg's CV metrics equal metrics.json's to 1e-6 (and rows, CV rows, metric and positive class agree),
a warning otherwise. "HGB file" is the older reference, for information: 5-fold CV on the whole file as pandas reads it
(all rows, the test split included, nothing dropped). Also: wall time, peak memory of the report's process
tree, the number of high-severity findings and whether any finding mentions a leak. hmda runs with
`-p sensitive=[afam]` and the table says whether the fairness section shows. A regression table is run too: while the
report refuses it (exit 2, "not classes"/"regression"), its row reads "skipped: regression not supported yet".

One table, for debugging: `make bench BENCH=gauntlet GAUNTLET=loanapp` (comma-separated names), or
`python bench/bench_gauntlet.py loanapp titanic`. Environment: GAUNTLET_TIMEOUT (seconds per report, default 1800),
GAUNTLET_DATA (the shared data folder, default /work/shared/data). Each report's folder is kept under
bench/output/gauntlet/<name>/ (a failed run's partial notebook: <name>/report.failed/); the table goes to stdout and
everything, failures with their command, exit code and error tail included, to bench/output/gauntlet.json.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

if __name__ == "__main__":  # `python bench/bench_gauntlet.py NAME...`: the registry lives in run.py beside this file
    sys.path.insert(0, str(Path(__file__).parent))
    import run as _run_mod  # noqa: F401

from run import OUT, bench, table

BIN = Path(sys.executable).parent
DATA = Path(os.environ.get("GAUNTLET_DATA", "/work/shared/data"))
RUNS = OUT / "gauntlet"
REF_THREADS = int(os.environ.get("GAUNTLET_REF_THREADS", 1))

# name, path relative to DATA, target, extra CLI arguments, note. The targets are SOURCES.md's. No table needs
# --positive-class: SOURCES.md names none as required, so the report's own inference is what is measured (the
# positive class it chose is in the table). Cheap tables first, so a debugging run shows problems early.
DATASETS = [
    ("titanic", "gauntlet/titanic.csv", "survived", [], ""),
    ("penguins", "gauntlet/penguins.csv", "species", [], ""),
    ("credit_balance", "gauntlet/credit_balance.csv", "Balance", [], "regression"),
    ("ames", "gauntlet/ames.csv", "Sale_Price", [], "regression"),
    ("german_credit", "german_credit/german_credit.csv", "class", [], ""),
    ("hmda", "gauntlet/hmda.csv", "deny", ["-p", "sensitive=[afam]"], "fairness: afam"),
    ("loanapp", "gauntlet/loanapp.csv", "approve", [], "leak: action"),
    ("spam7", "gauntlet/spam7.csv", "yesno", [], ""),
    ("credit_data", "gauntlet/credit_data.csv", "Status", [], ""),
    ("stackoverflow", "gauntlet/stackoverflow.csv", "Remote", [], ""),
    ("telco", "telco_churn/telco_churn.csv", "Churn", [], ""),
    ("lending_club", "gauntlet/lending_club.csv", "Class", [], ""),
    ("credit_cards", "gauntlet/credit_cards.csv", "LateSept", [], ""),
    ("banking77", "banking77/train.csv", "category", [], "text only"),
]

# the report's metric name -> (scikit-learn scorer, sign that turns the scorer's value into the metric)
SCORERS = {"roc_auc": ("roc_auc", 1), "roc_auc_ovr": ("roc_auc_ovr", 1), "pr_auc": ("average_precision", 1),
           "accuracy": ("accuracy", 1), "balanced_accuracy": ("balanced_accuracy", 1), "f1_macro": ("f1_macro", 1),
           "f1": ("f1", 1), "log_loss": ("neg_log_loss", -1), "brier": ("neg_brier_score", -1), "r2": ("r2", 1)}


def _env() -> dict:
    "This interpreter's bin first on PATH, so the CLI and its kernel are this environment's; nothing else is changed."
    return dict(os.environ) | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


# ---------------------------------------------------------------- the report, as a subprocess
def _tree_rss(pid: int) -> int:
    "Resident bytes of a process and all its descendants (0 when it is gone)."
    try:
        import psutil
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except Exception: return 0
    total = 0
    for q in procs:
        try: total += q.memory_info().rss
        except Exception: pass
    return total


def run_cli(args: list, timeout: float, log: Path) -> dict:
    """Run `insight-nb ARGS`; wall time, exit code, output, and peak memory two ways: the largest single process of the
    tree (wait4's ru_maxrss, which covers reaped descendants such as the kernel) and the sampled sum of the tree."""
    cmd = [str(BIN / "insight-nb"), *args]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        p = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=_env(), start_new_session=True)
        peak, done = [0], threading.Event()
        def sample():
            while not done.wait(0.25): peak[0] = max(peak[0], _tree_rss(p.pid))
        th = threading.Thread(target=sample, daemon=True); th.start()
        timed_out = False
        def kill():
            nonlocal timed_out
            timed_out = True
            try: os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError: pass
        timer = threading.Timer(timeout, kill); timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        timer.cancel(); done.set(); th.join()
        p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    out = log.read_text(errors="replace")
    return dict(command=" ".join(shlex.quote(str(a)) for a in ["insight-nb", *args]), exit_code=p.returncode, wall_s=round(wall, 1),
                maxrss_mb=round(ru.ru_maxrss / 1024), tree_peak_mb=round(peak[0] / 2**20), timed_out=timed_out, output=out)


def _read(path: Path):
    try: return json.loads(path.read_text(encoding="utf-8"))
    except Exception: return None


def _error_tail(run: dict, failed_dir: Path) -> str:
    """The one-paragraph error of the CLI, and when the kernel failed, the failing cell's exception and traceback tail."""
    lines = [l for l in run["output"].splitlines() if l.strip() and not l.startswith("report written")]
    msg = "\n".join(lines[-25:])
    nb = _read(failed_dir / "report.ipynb")
    if nb:
        for c in nb.get("cells", []):
            for o in c.get("outputs", []):
                if o.get("output_type") == "error":
                    tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o.get("traceback", [])))
                    tags = c.get("metadata", {}).get("tags", [])
                    msg += f"\n--- kernel error in cell {tags}: {o.get('ename')}: {o.get('evalue')}\n" + "\n".join(tb.splitlines()[-20:])
    return msg


def report_facts(out: Path, run: dict) -> dict:
    "What the report wrote: task, template, status, sections, best CV metric, findings."
    failed_dir = out.with_name(out.name + ".failed")
    folder = out if (out / "manifest.json").exists() else failed_dir
    man, met, fnd = _read(folder / "manifest.json") or {}, _read(folder / "metrics.json") or {}, _read(folder / "findings.json") or {}
    code = run["exit_code"]
    status = man.get("status") or {0: "ok", 3: "partial", 2: "refused"}.get(code, "failed")
    if run["timed_out"]: status = "timeout"
    elif code not in (0, 3) and status in ("ok", "partial"): status = "failed"  # a stale manifest never hides a failed exit
    timings = met.get("timings", {}) or man.get("timings", {}) or {}
    ran = [k for k in timings if not k.endswith("_s")]
    failed_sections = man.get("failed_sections") or []
    if isinstance(failed_sections, dict): failed_sections = list(failed_sections)
    failed_names = [s if isinstance(s, str) else (s.get("section") or s.get("name") or str(s)) for s in failed_sections]
    skipped = [k for k, v in met.items() if isinstance(v, dict) and v.get("skipped")]
    primary = met.get("primary_metric")
    best = met.get("best_model")
    best_cv = next((r.get("cv", {}).get(primary) for r in met.get("models", []) if r.get("name") == best), None) if best else None
    items = fnd.get("findings", [])
    high = sum(1 for f in items if f.get("severity") == "high") if fnd else None
    leaks = [f.get("title") for f in items if re.search(r"leak", json.dumps(f), re.I)] if fnd else None
    fair = met.get("fairness")
    html = (folder / "report.html").read_text(errors="replace") if (folder / "report.html").exists() else ""
    fairness_shown = bool(isinstance(fair, dict) and not fair.get("skipped") and not fair.get("error") and "insight-fairness" in html)
    res = dict(status=status, task=met.get("task"), template=Path(str(man.get("template", ""))).stem or None,
               positive_class=met.get("positive_class"), n_rows_report=met.get("n_rows"), n_features=met.get("n_features"),
               primary_metric=primary, best_model=best, best_cv=best_cv, test=(met.get("test") or {}).get(primary),
               models={r.get("name"): r.get("status") for r in met.get("models", [])},
               sections_ok=[s for s in ran if s not in failed_names and s not in skipped], sections_failed=failed_names, sections_skipped=skipped,
               manifest_status=man.get("status"), manifest_exit_status=man.get("exit_status"),
               n_findings=len(items) if fnd else None, high_findings=high, leak_flagged=None if leaks is None else bool(leaks), leak_findings=leaks,
               fairness_shown=fairness_shown, fairness=fair if isinstance(fair, dict) and fair.get("skipped") else None)
    if man.get("section_errors"): res["section_errors"] = man["section_errors"]
    if status not in ("ok",):
        res["error"] = _error_tail(run, failed_dir)
        if man.get("section_errors"): res["error"] += "\n--- section errors (manifest.json): " + json.dumps(man["section_errors"], default=str)[:3000]
        if man.get("error"): res["manifest_error"] = man.get("error")
        if man.get("failed_cell") is not None: res["failed_cell"] = man.get("failed_cell")
    return res


# ---------------------------------------------------------------- the HistGradientBoosting reference
def load_table(path: Path, target: str):
    "The table as pandas reads it, rows without a target dropped, text that is really numbers coerced (Telco's ' ')."
    import pandas as pd
    df = pd.read_csv(path)
    df = df[df[target].notna()].reset_index(drop=True)
    for c in df.columns:
        if c != target and (df[c].dtype == object or pd.api.types.is_string_dtype(df[c])):
            num = pd.to_numeric(df[c].str.strip(), errors="coerce")
            if num.notna().sum() >= 0.95 * df[c].notna().sum() and num.notna().any(): df[c] = num
    return df


def detect_task(df, target: str) -> str:
    "regression for a numeric target with many distinct values (SOURCES.md: ames, credit_balance); classification otherwise."
    import pandas as pd
    y = df[target]
    return "regression" if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y) and y.nunique() > 20 else "classification"


def hgb_reference(df, target: str, metric: str, task: str, seed: int = 0, max_categories: int = 250) -> dict:
    """5-fold (stratified for classes) shuffled CV of HistGradientBoosting: numeric columns as they are, the others through
    an OrdinalEncoder into native categoricals. Columns whose values are mostly unique (identifiers, free text) are
    dropped; other columns above `max_categories` keep their most frequent values."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder
    X, y = df.drop(columns=[target]), df[target]
    if task != "regression": y = y.astype(str)
    num = [c for c in X.columns if X[c].dtype.kind in "biuf"]
    cat, dropped = [], []
    for c in X.columns:
        if c in num: continue
        s = X[c].astype("string")
        if s.nunique() > 0.5 * len(s): dropped.append(c); continue
        if s.nunique() > max_categories:
            keep = s.value_counts().index[:max_categories]
            s = s.where(s.isin(keep), "__other__")
        X[c] = s.astype(object).where(s.notna(), np.nan)
        cat.append(c)
    X = X[num + cat].copy()
    for c in num: X[c] = X[c].astype(float)
    if not num + cat: return dict(value=None, note=f"no tabular feature (dropped as identifier/free text: {dropped})")
    ct = ColumnTransformer([("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan), cat),
                            ("num", "passthrough", num)])
    Model = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
    model = make_pipeline(ct, Model(categorical_features=[True] * len(cat) + [False] * len(num), random_state=seed))
    folds = (KFold if task == "regression" else StratifiedKFold)(5, shuffle=True, random_state=seed)
    scorer, sign = SCORERS.get(metric, (None, 1))
    if scorer is None: return dict(value=None, note=f"no scikit-learn scorer for {metric!r}")
    from threadpoolctl import threadpool_limits
    t0 = time.perf_counter()
    with threadpool_limits(REF_THREADS):  # OpenMP spin-waits badly on shared cores: one thread is faster and steadier here
        vals = cross_val_score(model, X, y, cv=folds, scoring=scorer, n_jobs=1)
    return dict(value=float(sign * vals.mean()), std=float(vals.std()), seconds=round(time.perf_counter() - t0, 1), n_rows=len(X),
                metric=metric, n_numeric=len(num), n_categorical=len(cat), dropped=dropped)


def _ref_estimator(schema, seed: int = 0, max_categories: int = 250):
    """The reference on the report's dataset, by schema role: numeric/boolean as they are, categorical through an
    OrdinalEncoder into HistGradientBoosting's native categoricals (the `max_categories` most frequent values of the
    training folds, the rest as one infrequent value), datetime as float days; text, identifier and ignored columns
    are not used. A `make(schema, seed)` for `insight_nb.compare`."""
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
    from insight_nb.estimators import _to_days
    Model = HistGradientBoostingRegressor if schema.target is not None and schema.target.task == "regression" else HistGradientBoostingClassifier
    num, cat, dt = schema.by_role("numeric", "boolean"), schema.by_role("categorical"), schema.by_role("datetime")
    parts = []
    if cat: parts.append(("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan,
                                                max_categories=max_categories), cat))
    if num: parts.append(("num", "passthrough", num))
    if dt: parts.append(("dt", FunctionTransformer(_to_days), dt))
    if not parts: raise ValueError("no numeric, boolean, categorical or datetime feature")
    return make_pipeline(ColumnTransformer(parts), Model(categorical_features=[True] * len(cat) + [False] * (len(num) + len(dt)),
                                                                                   random_state=seed))


def same_rows_reference(folder: Path) -> dict:
    """The HistGradientBoosting reference on exactly the rows and folds the report cross-validated on: the report's
    recipe rebuilt from its manifest.json `parameters`, `prepare` called as the template calls it, and
    `insight_nb.compare.compare` (the report's split, folds and ranking metric) run on two candidates: the reference
    and the report's own sk_logreg entry. sk_logreg's CV metrics must equal metrics.json's (`match`): that proves the
    rows and folds are the same. `n_boot=0`: the test split is scored too (`test`), without bootstrap intervals."""
    import warnings
    import numpy as np
    from threadpoolctl import threadpool_limits
    from insight_nb.compare import compare, resolve_candidates
    from insight_nb.dataset import prepare
    from insight_nb.recipe import Recipe
    man, met = _read(folder / "manifest.json") or {}, _read(folder / "metrics.json") or {}
    if not man.get("parameters"): return dict(value=None, note="no manifest.json parameters")
    recipe = Recipe.from_params(man["parameters"])
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(recipe.source, recipe.target, positive_class=recipe.positive_class, roles=recipe.roles or None, **recipe.data_options())
        t_prep = time.perf_counter() - t0
        check = "sk_ridge" if ds.task == "regression" else "sk_logreg"   # the report's linear model reproduces its rows and folds
        lr_res = next((r for r in met.get("models", []) if r.get("model") == check and r.get("status") == "ok"), None)
        cands = {}
        if lr_res is not None:  # the report's own entry (label, model, parameters), resolved the way compare resolves it
            entry = {lr_res["model"]: lr_res["params"]} if lr_res.get("params") else lr_res["model"]
            (label, cand), = resolve_candidates([entry]).items()
            cands[label] = cand.make
        cands["hgb_reference"] = _ref_estimator
        with threadpool_limits(REF_THREADS):  # OpenMP spin-waits badly on shared cores: one thread is faster and steadier here
            board = compare(ds, cands, cv=recipe.cv, test=recipe.test, seed=recipe.seed, n_boot=0)
    res = {r["name"]: r for r in board.results}
    ref, primary = res["hgb_reference"], board.primary
    out = dict(metric=primary, n_rows=len(ds), n_cv=len(board.cv_rows), n_test=len(board.test_rows), cv=recipe.cv, seed=recipe.seed,
               test_fraction=recipe.test, positive_class=ds.positive_class, prepare_s=round(t_prep, 1),
               seconds=round(time.perf_counter() - t0 - t_prep, 1), roles={r: ds.schema.by_role(r) for r in ("numeric", "boolean", "categorical", "datetime", "text")
                                                                            if ds.schema.by_role(r)})
    if ref["status"] != "ok": return out | dict(value=None, note=f"reference {ref['status']}")
    out.update(value=ref["cv"].get(primary), std=float(np.std([f[primary] for f in ref["folds"]])) if ref["cv"].get(primary) is not None else None,
               test=(ref.get("test") or {}).get(primary))
    # the check that these are the report's rows and folds
    problems = []
    if primary != met.get("primary_metric"): problems.append(f"metric {primary} vs report {met.get('primary_metric')}")
    if len(ds) != met.get("n_rows"): problems.append(f"rows {len(ds)} vs report {met.get('n_rows')}")
    proto = met.get("protocol") or {}
    if proto.get("n_cv") is not None and proto["n_cv"] != len(board.cv_rows): problems.append(f"CV rows {len(board.cv_rows)} vs report {proto['n_cv']}")
    if str(ds.positive_class) != str(met.get("positive_class")): problems.append(f"positive class {ds.positive_class} vs report {met.get('positive_class')}")
    if lr_res is None: problems.append(f"the report has no {check} result to compare with")
    else:
        mine = res[label]
        if mine["status"] != "ok": problems.append(f"{check} here: {mine['status']}")
        else:
            diffs = {k: abs(mine["cv"][k] - v) for k, v in lr_res["cv"].items() if v is not None and mine["cv"].get(k) is not None}
            out.update(logreg_cv=mine["cv"].get(primary), logreg_cv_report=lr_res["cv"].get(primary), logreg_max_abs_diff=max(diffs.values()) if diffs else None)
            if not diffs or max(diffs.values()) > 1e-6: problems.append(f"{check} CV differs by up to {max(diffs.values()) if diffs else 'n/a'}")
    return out | dict(match=not problems, match_note="; ".join(problems) or f"{check} CV metrics equal the report's to 1e-6")


# ---------------------------------------------------------------- one table, all tables
def _fmt(x, nd=3):
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def run_one(name: str, rel: str, target: str, extra: list, note: str, timeout: float) -> dict:
    path = DATA / rel
    res = dict(name=name, data=str(path), target=target, args=extra, note=note)
    if not path.exists(): return res | dict(status="missing", error=f"{path} not found")
    df = load_table(path, target)
    task_guess = detect_task(df, target)
    res.update(n_rows_file=len(df), n_columns=df.shape[1], task_from_table=task_guess)
    folder = RUNS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out = folder / "report"
    run = run_cli(["report", str(path), "--target", target, "--out", str(out), *extra], timeout, folder / "cli.log")
    res.update({k: v for k, v in run.items() if k != "output"})
    res.update(report_facts(out, run))
    out_text = run["output"]
    if task_guess == "regression" and run["exit_code"] == 2 and re.search(r"regression|not classes", out_text):
        res["status"] = "skipped: regression not supported yet"
        res["refusal"] = res.pop("error", out_text.strip())
        res["task"] = "regression"
        return res
    metric = res.get("primary_metric") or ("r2" if task_guess == "regression" else None)
    if metric is None and res["status"] != "ok":  # the report said nothing: measure the metric it would rank by
        k = df[target].nunique()
        metric = "roc_auc" if k == 2 else "roc_auc_ovr"
    # the reference on the report's own CV rows and folds (the comparison the bar is about) ...
    folder_r = out if (out / "manifest.json").exists() else out.with_name(out.name + ".failed")
    if res.get("best_cv") is not None:
        try: ref = same_rows_reference(folder_r)
        except Exception as e: ref = dict(value=None, note=f"reference failed: {type(e).__name__}: {e}")
    else: ref = dict(value=None, note="the report has no CV result")
    res["hgb_reference"] = ref
    if ref.get("match") is False: print(f"   WARNING: the reference's rows/folds may not be the report's: {ref.get('match_note')}", flush=True)
    # ... and, for information, 5-fold CV on the whole file as pandas reads it
    try:
        ref_task = "regression" if res.get("task") == "regression" or (res.get("task") is None and task_guess == "regression") else "classification"
        res["hgb_reference_file"] = hgb_reference(df, target, metric, ref_task)
    except Exception as e:
        res["hgb_reference_file"] = dict(value=None, note=f"reference failed: {type(e).__name__}: {e}")
    if res.get("best_cv") is not None and ref.get("value") is not None:
        res["diff_vs_hgb"] = res["best_cv"] - ref["value"]
    if res.get("best_cv") is not None and res["hgb_reference_file"].get("value") is not None:
        res["diff_vs_hgb_file"] = res["best_cv"] - res["hgb_reference_file"]["value"]
    return res


def _row(r: dict) -> dict:
    st = r.get("status", "?")
    if st not in ("ok",) and r.get("exit_code") is not None and not st.startswith("skipped"): st = f"{st} (exit {r['exit_code']})"
    ref, fil = (r.get("hgb_reference") or {}), (r.get("hgb_reference_file") or {})
    secs = f"{len(r.get('sections_ok', []))}/{len(r.get('sections_failed', []))}"
    return {"data": r["name"] + (" (sensitive=[afam])" if "sensitive=[afam]" in " ".join(r.get("args", [])) else ""),
            "task": r.get("task") or r.get("task_from_table", "-"), "template": r.get("template") or "-",
            "pos": _fmt(r.get("positive_class")), "status": st, "sect ok/fail": secs,
            "rows file/report": f"{r.get('n_rows_file', '-')}/{r.get('n_rows_report') or '-'}",
            "metric": r.get("primary_metric") or "-", "best CV": _fmt(r.get("best_cv")), "best": r.get("best_model") or "-",
            "HGB ref": _fmt(ref.get("value")) if ref.get("value") is not None else ("n/a (no tabular feature)" if "no numeric" in str(ref.get("note")) else "n/a"),
            "diff": _fmt(r.get("diff_vs_hgb"), 3) if r.get("diff_vs_hgb") is None else f"{r['diff_vs_hgb']:+.3f}",
            "rows/folds": "-" if ref.get("match") is None else ("same" if ref["match"] else "WARNING: " + str(ref.get("match_note"))),
            "HGB file": _fmt(fil.get("value")) if fil.get("value") is not None else ("n/a (no tabular feature)" if "no tabular" in str(fil.get("note")) else "n/a"),
            "wall s": _fmt(r.get("wall_s"), 1), "peak MB": f"{r.get('tree_peak_mb', '-')}",
            "high": _fmt(r.get("high_findings")), "leak": "-" if r.get("leak_flagged") is None else ("yes" if r["leak_flagged"] else "no"),
            "fairness": ("shown" if r.get("fairness_shown") else "NOT shown") if "sensitive=" in " ".join(r.get("args", [])) else ""}


@bench("gauntlet")
def bench_gauntlet(names: list | None = None) -> dict:
    "The CLI report with default settings on the gauntlet tables, Telco, German credit and banking77; see the module doc."
    names = names or [n for n in re.split(r"[,\s]+", os.environ.get("GAUNTLET", "")) if n]
    known = [d[0] for d in DATASETS]
    if unknown := [n for n in names if n not in known]: sys.exit(f"unknown gauntlet table(s) {unknown}; available: {known}")
    timeout = float(os.environ.get("GAUNTLET_TIMEOUT", 1800))
    RUNS.mkdir(parents=True, exist_ok=True)
    results = []
    for d in DATASETS:
        if names and d[0] not in names: continue
        print(f"-- {d[0]} ...", flush=True)
        r = run_one(*d, timeout=timeout)
        results.append(r)
        print(f"   {r.get('status')} exit {r.get('exit_code')} in {r.get('wall_s')} s; best CV {_fmt(r.get('best_cv'))} "
              f"vs HGB {_fmt((r.get('hgb_reference') or {}).get('value'))} on the report's CV rows "
              f"({_fmt((r.get('hgb_reference_file') or {}).get('value'))} on the whole file)", flush=True)
        (OUT / "gauntlet.partial.json").write_text(json.dumps(results, indent=2, default=str))
    rows = [_row(r) for r in results]
    print(table(rows))
    bad = [r for r in results if r.get("status") not in ("ok",) and not str(r.get("status")).startswith("skipped")]
    for r in bad:
        print(f"\n[{r['name']}] {r.get('status')}: exit {r.get('exit_code')}\n$ {r.get('command')}\n{(r.get('error') or '').strip()[-3000:]}")
    res = dict(n=len(results), n_ok=sum(r.get("status") == "ok" for r in results), n_partial=sum(r.get("status") == "partial" for r in results),
               n_failed=len(bad), n_skipped=sum(str(r.get("status")).startswith("skipped") for r in results),
               failures=[dict(name=r["name"], command=r.get("command"), exit_code=r.get("exit_code"), status=r.get("status"),
                              error=r.get("error")) for r in bad],
               rows=rows, runs=results, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    res["pass"] = not bad
    return res


if __name__ == "__main__":
    import platform
    RUNS.mkdir(parents=True, exist_ok=True)
    r = bench_gauntlet(sys.argv[1:] or None)
    r["machine"] = dict(python=platform.python_version(), processor=platform.processor() or platform.machine(), cpus=os.cpu_count())
    (OUT / "gauntlet.json").write_text(json.dumps(r, indent=2, default=str))
    print(f"-> {OUT / 'gauntlet.json'}")
    sys.exit(0 if r["pass"] else 1)
