"""Scale benchmarks (issue 17): the default report on a wide table and on growing row counts, wall time and peak memory.

wide: a reproducible 500 x 2000 numeric table (binary target from two columns and an interaction), `insight-nb report` with default
      settings; goals <= 120 s wall and <= 2 GB peak (the CLI and its kernel together). BENCH_WIDE_BASE=1 also runs the code of git
      BENCH_BASE (default HEAD) on the same table in the same run (about 9 minutes and 9 GB before issue 17's work). A second run
      with `-p n_jobs=2` (the comparison's fits on two worker processes) is shown beside it.
rows: a Telco-like table (Telco rows drawn with replacement, numbers jittered, the label kept with its row) at 10k, 100k and 1M rows
      (ROWS="10000 100000" for fewer), default report; goals at 1M: <= 300 s and <= 3 GB; costs no worse than linear."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from run import ROOT, bench, table
from bench_report import BASE_REF, _base_tree, _env

BIN = Path(sys.executable).parent
TELCO = ROOT / "insight_nb" / "demo_data" / "telco_churn.csv"
STAGES = ("load", "compare", "drivers", "segments", "outputs")


def wide_table(path: Path, n: int = 500, p: int = 2000, seed: int = 0) -> Path:
    "The wide benchmark table: `p` standard-normal columns, target yes when 1.5 x0 - x1 + 0.8 x2 x3 + noise > 0.3."
    import pandas as pd
    if path.exists(): return path
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype("float32")
    z = 1.5 * X[:, 0] - X[:, 1] + 0.8 * X[:, 2] * X[:, 3] + rng.normal(size=n) * 0.5
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(p)]).round(4)
    df.insert(0, "target", np.where(z > 0.3, "yes", "no"))
    df.to_csv(path, index=False)
    return path


def telco_rows(path: Path, n: int, seed: int = 0) -> Path:
    "A Telco-like table of `n` rows: Telco rows drawn with replacement (Churn kept with its row), tenure and charges jittered, new IDs."
    import pandas as pd
    if path.exists(): return path
    src = pd.read_csv(TELCO, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    df = src.iloc[rng.integers(0, len(src), n)].reset_index(drop=True)
    df["tenure"] = (pd.to_numeric(df["tenure"]) + rng.integers(-2, 3, n)).clip(0, 72).astype(str)
    df["MonthlyCharges"] = (pd.to_numeric(df["MonthlyCharges"]) * rng.normal(1, 0.03, n)).round(2).map("{:.2f}".format)
    df["customerID"] = [f"B{i:07d}" for i in range(n)]
    df.to_csv(path, index=False)
    return path


def _tree_rss(pid: int) -> int:
    "Resident bytes of a process and all its descendants (the CLI and its kernel)."
    import psutil
    try:
        p = psutil.Process(pid)
        procs = [p] + p.children(recursive=True)
    except psutil.Error: return 0
    total = 0
    for q in procs:
        try: total += q.memory_info().rss
        except psutil.Error: pass
    return total


def report_run(data: Path, target: str, out: Path, base: Path | None = None, extra=()) -> dict:
    "One `insight-nb report` (this tree's code, or the code under `base`): wall seconds, peak RSS of the process tree, stage times."
    args = ["report", str(data), "--target", target, "--out", str(out), *extra]
    if base is None: cmd, env = [str(BIN / "insight-nb"), *args], {}
    else: cmd, env = [sys.executable, "-m", "insight_nb.cli", *args], {"PYTHONPATH": str(base)}
    full_env = dict(os.environ) | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"} | env
    peak, t0 = [0], time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=full_env, cwd=str(out.parent))
    def watch():
        while p.poll() is None:
            peak[0] = max(peak[0], _tree_rss(p.pid)); time.sleep(0.2)
    w = threading.Thread(target=watch, daemon=True); w.start()
    log = p.communicate()[0]
    wall = time.perf_counter() - t0
    w.join(1)
    if p.returncode != 0: raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{log[-3000:]}")
    m = json.loads((out / "metrics.json").read_text())
    best = next(r for r in m["models"] if r["name"] == m["best_model"])
    return dict(wall_s=round(wall, 1), peak_mb=round(peak[0] / 2**20), timings=m.get("timings", {}), best_model=m["best_model"],
                best_cv=best["cv"].get(m["primary_metric"]), primary_metric=m["primary_metric"])


def _row(name, r) -> dict:
    return dict(run=name, wall_s=f"{r['wall_s']:.1f}", peak_mb=r["peak_mb"], **{f"{s}_s": f"{r['timings'].get(s, float('nan')):.1f}" for s in STAGES},
                best_cv=f"{r['best_cv']:.3f}")


@bench("wide")
def bench_wide() -> dict:
    """The default report on a 500 x 2000 numeric table: goals <= 120 s wall, <= 2 GB peak (issue 17); with BENCH_WIDE_BASE=1 the
    code of git BENCH_BASE on the same table in the same run."""
    work = Path(tempfile.mkdtemp(prefix="bench-wide-"))
    try:
        data = wide_table(work / "wide.csv")
        runs = {"now": report_run(data, "target", work / "now"),   # default settings: the goals are checked on this run
                "now_2jobs": report_run(data, "target", work / "now_2jobs", extra=["-p", "n_jobs=2"])}   # the fits on 2 worker processes
        if os.environ.get("BENCH_WIDE_BASE"):
            runs["base"] = report_run(data, "target", work / "base", _base_tree(BASE_REF, work / "base_code"))
    finally: shutil.rmtree(work, ignore_errors=True)
    print(table([_row(k, r) for k, r in runs.items()]))
    now = runs["now"]
    checks = {"wall <= 120 s": now["wall_s"] <= 120, "peak <= 2 GB": now["peak_mb"] <= 2048}
    for k, v in checks.items(): print(f"  {'PASS' if v else 'FAIL'}  {k}")
    return dict(runs=runs, checks=checks, base_ref=BASE_REF if "base" in runs else None, **{"pass": all(checks.values())})


@bench("rows")
def bench_rows() -> dict:
    """The default Telco-like report at 10k, 100k and 1M rows (`ROWS` to choose): wall and peak memory, and their growth.
    Goals at 1M rows (issue 17): <= 300 s, <= 3 GB; growth from the previous size no worse than linear (ratio <= the row ratio)."""
    sizes = [int(s) for s in os.environ.get("ROWS", "10000 100000 1000000").split()]
    work = Path(tempfile.mkdtemp(prefix="bench-rows-"))
    runs = {}
    try:
        for n in sizes:
            runs[n] = report_run(telco_rows(work / f"telco_{n}.csv", n), "Churn", work / f"r{n}")
            print(f"  {n:,} rows: {runs[n]['wall_s']:.1f} s, {runs[n]['peak_mb']:,} MB", flush=True)
    finally: shutil.rmtree(work, ignore_errors=True)
    print(table([_row(f"{n:,} rows", r) for n, r in runs.items()]))
    checks = {}
    for a, b in zip(sizes, sizes[1:]):
        checks[f"time {a:,} -> {b:,} no worse than linear"] = runs[b]["wall_s"] / runs[a]["wall_s"] <= b / a
        checks[f"memory {a:,} -> {b:,} no worse than linear"] = runs[b]["peak_mb"] / runs[a]["peak_mb"] <= b / a
    if 1_000_000 in runs:
        checks["1M rows <= 300 s"] = runs[1_000_000]["wall_s"] <= 300
        checks["1M rows peak <= 3 GB"] = runs[1_000_000]["peak_mb"] <= 3072
    for k, v in checks.items(): print(f"  {'PASS' if v else 'FAIL'}  {k}")
    return dict(runs={str(n): r for n, r in runs.items()}, checks=checks, **{"pass": all(checks.values())})
