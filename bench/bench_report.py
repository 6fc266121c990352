"""Report benchmarks (issue "Insight reports with papermill").

report: the Telco tabular report end to end (`insight-nb report`: validation, papermill, HTML), this tree's code against the code of
        git BENCH_BASE (default HEAD) in the same run; goals (issue 17): <= 15 s wall, >= 2x the base, best CV ROC AUC >= 0.845.
sweep:  12 small reports (Telco split by PaymentMethod x InternetService) with `insight-nb sweep --workers 2` against the
        same 12 reports run one by one with the plain `papermill` and `jupyter nbconvert` command-line tools, in the same
        benchmark run; goal: sweep <= 0.6 x plain."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from run import ROOT, bench, table

BIN = Path(sys.executable).parent
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
SWEEP_PARAMS = dict(cv=2, models=["sk_logreg"], n_boot=0)
SPLIT = ["PaymentMethod", "InternetService"]   # 4 x 3 = 12 reports of 300-1,500 rows, each with at least 9 churners


def _env() -> dict:
    "This interpreter's bin first on PATH (the plain tools and their `python3` kernel must be this environment's), one thread."
    return dict(os.environ) | THREADS | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _run(cmd: list, **kw) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(), **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return time.perf_counter() - t0


def _insight_nb(*args) -> list:
    "`insight-nb ARGS` from this environment."
    return [str(BIN / "insight-nb"), *args]


BASE_REF = os.environ.get("BENCH_BASE", "HEAD")          # "today's code": the committed tree, run side by side with the working tree
REPEAT = int(os.environ.get("BENCH_REPEAT", "2"))       # runs of each, alternating (the machine is noisy: medians)


def _compiled(tree: Path) -> Path:
    """`tree` with its modules byte-compiled, as an installed package is (pip compiles a wheel's modules). Both trees of a
    comparison are, so that neither recompiles its modules in every process (this machine sets PYTHONDONTWRITEBYTECODE,
    so Python never caches them itself: about 0.4 s per process for insight_nb)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree)], check=True)
    return tree


def _base_tree(ref: str, into: Path) -> Path:
    "The package `insight_nb` as it is at git `ref`, extracted under `into` (put on PYTHONPATH, with a cwd outside the repository)."
    into.mkdir(parents=True, exist_ok=True)
    arc = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "insight_nb"], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=arc, check=True)
    return _compiled(into)


def _telco(out: Path, base: Path | None = None, extra=()) -> tuple:
    "One Telco report (default recipe, --threads 1) with this tree's code, or with the code under `base`: (wall seconds, metrics.json)."
    args = ["report", "demo:telco_churn", "--target", "Churn", "--out", str(out), "--threads", "1", *extra]
    if base is None: cmd, env = _insight_nb(*args), None
    else: cmd, env = [sys.executable, "-m", "insight_nb.cli", *args], {"PYTHONPATH": str(base)}
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env() | (env or {}), cwd=str(out.parent))
    if p.returncode != 0: raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr[-3000:]}")
    wall = time.perf_counter() - t0
    return wall, json.loads((out / "metrics.json").read_text())


@bench("report")
def bench_report() -> dict:
    """The Telco tabular report end to end (default recipe: 3 models, 5-fold CV, drivers, segments, targeting, history), 1 thread
    per library, with this tree's code and with the code of git BENCH_BASE (default HEAD) side by side in one run, alternating,
    BENCH_REPEAT (2) times each. Goals (issue 17): <= 15 s wall, >= 2x faster than the base, best CV ROC AUC >= 0.845."""
    import statistics
    work = Path(tempfile.mkdtemp(prefix="bench-report-"))
    runs = {"base": [], "now": [], "now_1job": []}   # now_1job: this tree with `-p n_jobs=1` (the models compared one fit at a time)
    try:
        base = _base_tree(BASE_REF, work / "base")
        _compiled(ROOT / "insight_nb")
        for i in range(REPEAT):
            for who in (list(runs) if i % 2 == 0 else list(runs)[::-1]):
                runs[who].append(_telco(work / f"{who}{i}", base if who == "base" else None, ["-p", "n_jobs=1"] if who == "now_1job" else ()))
    finally: shutil.rmtree(work, ignore_errors=True)
    med = {who: statistics.median(w for w, _ in rs) for who, rs in runs.items()}
    pick = {who: min(rs, key=lambda r: abs(r[0] - med[who]))[1] for who, rs in runs.items()}   # the run nearest the median
    best_cv = {who: max(r["cv"]["roc_auc"] for r in m["models"] if r["status"] == "ok") for who, m in pick.items()}
    speedup = med["base"] / med["now"]
    res = dict(base_ref=BASE_REF, repeat=REPEAT, wall_s={who: [round(w, 2) for w, _ in rs] for who, rs in runs.items()}, median_wall_s=med,
               speedup=speedup, timings={who: m["timings"] for who, m in pick.items()}, best_model={who: m["best_model"] for who, m in pick.items()},
               best_cv_roc_auc=best_cv, test_roc_auc={who: m["test"]["roc_auc"] for who, m in pick.items()}, goal_s=15.0, goal_speedup=2.0,
               goal_cv_roc_auc=0.845)
    res["pass"] = med["now"] <= 15.0 and speedup >= 2.0 and best_cv["now"] >= 0.845
    t = res["timings"]
    stages = [k for k in t["now"] if not k.endswith("_s")] + ["check_s", "kernel_overhead_s", "html_s", "total_s"]
    rows = [dict(stage=k, **{f"{who}_s": f"{t[who].get(k, float('nan')):.2f}" for who in runs}) for k in stages]
    rows.append(dict(stage=f"command wall, median of {REPEAT}", **{f"{who}_s": f"{med[who]:.2f}" for who in runs}))
    print(table(rows))
    print(f"Telco report: {med['now']:.1f} s wall (goal <= 15 s), {speedup:.2f}x the {BASE_REF} code's {med['base']:.1f} s (goal >= 2x): "
          f"{'PASS' if res['pass'] else 'FAIL'}; best CV ROC AUC {best_cv['now']:.4f} (base {best_cv['base']:.4f}, goal >= 0.845)")
    return res


def _plain(data: Path, out: Path, template: Path) -> float:
    "One report with the plain tools: `papermill` (its own kernel) then `jupyter nbconvert --to html --no-input`."
    out.mkdir(parents=True, exist_ok=True)
    params = yaml.safe_dump(dict(SWEEP_PARAMS, source=str(data), target="Churn"), default_flow_style=True)
    t = _run([str(BIN / "papermill"), str(template), str(out / "report.ipynb"), "-k", "python3", "--cwd", str(out), "-y", params,
              "--no-progress-bar"])
    t += _run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(out / "report.ipynb")])
    return t


@bench("sweep")
def bench_sweep(workers: int = 2) -> dict:
    "12 reports: `insight-nb sweep --workers 2` (one reused kernel per worker) vs one by one with plain papermill + nbconvert."
    from insight_nb.report import template_path
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        spec = work / "telco_split.yml"
        spec.write_text(yaml.safe_dump(dict(name="telco_split", data="demo:telco_churn", target="Churn", params=SWEEP_PARAMS, split_by=SPLIT)))
        sweep_s = _run(_insight_nb("sweep", str(spec), "--out", str(work / "sweep"), "--workers", str(workers), "--threads", "1"))
        index = json.loads((work / "sweep" / "index.json").read_text())
        data = sorted((work / "sweep" / "_data").glob("*.csv"))
        assert len(data) == 12 and len(index["runs"]) == 12, (len(data), len(index["runs"]))
        template = template_path("tabular_report")
        plain = [_plain(d, work / "plain" / d.stem, template) for d in data]
        plain_ok = sum((work / "plain" / d.stem / "report.html").is_file() for d in data)
    finally: shutil.rmtree(work, ignore_errors=True)
    plain_s = sum(plain)
    ratio = sweep_s / plain_s
    res = dict(n_reports=12, workers=workers, sweep_s=sweep_s, sweep_ok=index["n_ok"], sweep_engine=index["engine"],
               sweep_run_s=[r.get("seconds") for r in index["runs"]], plain_s=plain_s, plain_ok=plain_ok, plain_run_s=plain, ratio=ratio, goal_ratio=0.6)
    res["pass"] = ratio <= 0.6 and index["n_ok"] == 12 and plain_ok == 12
    rows = [dict(way=f"insight-nb sweep --workers {workers}", reports_ok=index["n_ok"], wall_s=f"{sweep_s:.1f}", per_report_s=f"{sweep_s / 12:.1f}"),
            dict(way="papermill + nbconvert, one by one", reports_ok=plain_ok, wall_s=f"{plain_s:.1f}", per_report_s=f"{plain_s / 12:.1f}")]
    print(table(rows))
    print(f"sweep / plain = {ratio:.2f} (goal <= 0.6): {'PASS' if res['pass'] else 'FAIL'}; engine: {index['engine']}")
    return res
