"""Report benchmarks (issue "Insight reports with papermill").

report: the Telco tabular report end to end (`insight-nb report`: validation, papermill, HTML), goal < 60 s wall.
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


@bench("report")
def bench_report() -> dict:
    "The Telco tabular report end to end (default recipe: 3 models, 5-fold CV, drivers, segments, targeting, history), 1 thread."
    out = Path(tempfile.mkdtemp(prefix="bench-report-")) / "telco"
    try:
        wall = _run(_insight_nb("report", "demo:telco_churn", "--target", "Churn", "--out", str(out), "--threads", "1"))
        m = json.loads((out / "metrics.json").read_text())
    finally: shutil.rmtree(out.parent, ignore_errors=True)
    t = m["timings"]
    res = dict(wall_s=wall, timings=t, best_model=m["best_model"], test_roc_auc=m["test"]["roc_auc"], goal_s=60.0)
    res["pass"] = wall < 60.0
    stages = [k for k in t if not k.endswith("_s")]
    rows = [dict(stage=k, seconds=f"{t[k]:.2f}") for k in stages] + [
        dict(stage="check (parameters, data header)", seconds=f"{t['check_s']:.2f}"),
        dict(stage="kernel start + papermill overhead", seconds=f"{t['kernel_overhead_s']:.2f}"),
        dict(stage="HTML", seconds=f"{t['html_s']:.2f}"),
        dict(stage="run_report total", seconds=f"{t['total_s']:.2f}"),
        dict(stage="command wall (incl. interpreter start)", seconds=f"{wall:.2f}")]
    print(table(rows))
    print(f"Telco report: {wall:.1f} s wall (goal < 60 s): {'PASS' if res['pass'] else 'FAIL'}; best {m['best_model']}, "
          f"test ROC AUC {m['test']['roc_auc']:.3f}")
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
