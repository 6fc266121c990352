"""Scoring benchmark (issues 16 and 17): `insight-nb score` streams a 1M-row Telco-like table in <= 60 s with peak memory
<= 1.5 GB, and its time grows linearly with the rows.

The table: rows of the shared Telco file (`/work/shared/data/telco_churn/telco_churn.csv`, or `$GAUNTLET_DATA`) drawn with
replacement (seed 0), tenure / MonthlyCharges / TotalCharges jittered, a fresh customerID per row; 10k, 100k and 1M rows
are the first rows of one generated file, cached in bench/output/scoring/. A model of each kind (sk_logreg: exact reason
codes; sk_hgb: leave-one-feature-out reason codes, one prediction per column) is fitted on a 10k sample and saved with a
report's decisions (a business threshold and a targeting plan, so `decision`, `rank` and `in_plan` are computed: the
two-pass path). Each run is `insight-nb score MODEL DATA --out CSV` in a fresh process, wrapped by a small Python parent
that reports the child's peak RSS (`getrusage(RUSAGE_CHILDREN).ru_maxrss`: exact, one child per wrapper).
The child's CPU seconds (user + system) are reported beside the wall time: on a shared, loaded machine they say what an
idle one would take. `python bench/bench_scoring.py` or `make bench BENCH=scoring` (SCORING_ROWS=10000,100000: other sizes;
SCORING_MODELS=sk_logreg: one model).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    import run as _run_mod  # noqa: F401

from run import OUT, bench, table

DATA = Path(os.environ.get("GAUNTLET_DATA", "/work/shared/data"))
TELCO = DATA / "telco_churn" / "telco_churn.csv"
SIZES = [int(x) for x in os.environ.get("SCORING_ROWS", "10000,100000,1000000").split(",")]
BAR_S, BAR_MB = 60.0, 1536.0        # 1M rows: wall seconds, peak RSS (MiB)
MODELS = tuple(os.environ.get("SCORING_MODELS", "sk_logreg,sk_hgb").split(","))
WRAP = ("import resource, subprocess, sys, time; t = time.perf_counter(); r = subprocess.run(sys.argv[1:]); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.returncode, time.perf_counter() - t, u.ru_utime + u.ru_stime, u.ru_maxrss)")


def make_table(n: int, path: Path, seed: int = 0) -> Path:
    "A reproducible Telco-like CSV of `n` rows (no Churn column): Telco rows drawn with replacement, numbers jittered."
    import numpy as np
    import pandas as pd
    if path.exists(): return path
    src = pd.read_csv(TELCO, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    df = src.iloc[rng.integers(0, len(src), n)].drop(columns=["Churn"]).reset_index(drop=True)
    tenure = (pd.to_numeric(df["tenure"]) + rng.integers(-2, 3, n)).clip(0, 72)
    monthly = (pd.to_numeric(df["MonthlyCharges"]) * rng.normal(1, 0.03, n)).round(2)
    total = pd.to_numeric(df["TotalCharges"], errors="coerce")
    df["tenure"], df["MonthlyCharges"] = tenure.astype(str), monthly.map("{:.2f}".format)
    df["TotalCharges"] = np.where(total.isna(), " ", (total * rng.normal(1, 0.03, n)).round(2).map("{:.2f}".format))
    df["customerID"] = [f"B{i:07d}" for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def fit_and_save(name: str, folder: Path, n: int = 10_000, seed: int = 0) -> Path:
    "A model of registry `name` fitted on `n` rows sampled from Telco (with replacement, seeded), saved with report decisions."
    import numpy as np
    import pandas as pd
    from insight_nb.artifact import save_model
    from insight_nb.dataset import prepare
    from insight_nb.estimators import fit_estimator
    from insight_nb.registry import make_model
    src = pd.read_csv(TELCO, dtype=str, keep_default_na=False)
    df = src.iloc[np.random.default_rng(seed + 1).integers(0, len(src), n)].reset_index(drop=True)
    df["customerID"] = [f"T{i:06d}" for i in range(n)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(df, target="Churn")
        est = make_model(name, ds.schema, seed=seed)
        fit_estimator(est, ds.X, ds.y.to_numpy(), ds.schema)
    rep = dict(model=name, threshold=0.3, plan=dict(contact_cost=10.0, value_per_save=200.0, success_rate=0.3, max_share=0.2, seed=0))
    return save_model(est, folder, dataset=ds, report=rep, force=True)


def score_run(model: Path, data: Path, out: Path) -> dict:
    "`insight-nb score` in a fresh process: wall seconds and the child's peak RSS (MiB)."
    cli = Path(sys.executable).with_name("insight-nb")
    cmd = [sys.executable, "-c", WRAP, str(cli), "score", str(model), str(data), "--out", str(out), "--force"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    rc, secs, cpu, rss = r.stdout.split()[-4:]
    if int(rc) != 0: raise RuntimeError(f"insight-nb score failed ({rc}): {r.stderr[-2000:]}")
    kb = int(rss)
    return dict(seconds=float(secs), cpu_seconds=float(cpu), peak_mb=(kb / 1024 if sys.platform != "darwin" else kb / 2**20))


@bench("scoring")
def bench_scoring() -> dict:
    "Streaming `insight-nb score` on 10k / 100k / 1M Telco-like rows: wall time, peak RSS, growth."
    import pandas as pd
    work = OUT / "scoring"
    full = make_table(max(SIZES), work / f"telco_like_{max(SIZES)}.csv")
    files = {}
    for n in SIZES:
        if n == max(SIZES): files[n] = full
        else:
            p = work / f"telco_like_{n}.csv"
            if not p.exists(): pd.read_csv(full, dtype=str, keep_default_na=False, nrows=n).to_csv(p, index=False)
            files[n] = p
    rows, res = [], dict(sizes=SIZES, bars=dict(seconds_1m=BAR_S, peak_mb=BAR_MB), runs=[])
    for name in MODELS:
        t = time.perf_counter()
        mdir = fit_and_save(name, work / f"model_{name}")
        fit_s = time.perf_counter() - t
        for n in SIZES:
            r = score_run(mdir, files[n], work / f"scores_{name}_{n}.csv")
            run = dict(model=name, rows=n, seconds=round(r["seconds"], 2), cpu_s=round(r["cpu_seconds"], 1), peak_mb=round(r["peak_mb"]), rows_per_s=round(n / r["seconds"]),
                       fit_save_s=round(fit_s, 1))
            res["runs"].append(run)
            rows.append(run)
    print(table(rows))
    ok = True
    for name in MODELS:
        rs = {r["rows"]: r for r in res["runs"] if r["model"] == name}
        big = rs[max(SIZES)]
        small, mid = rs[min(SIZES)], rs[sorted(SIZES)[len(SIZES) // 2]] if len(SIZES) > 2 else None
        # linear: the time per row of the largest run is within 1.5x of the middle run's (the smallest is start-up bound)
        per = [big["seconds"] / big["rows"]] + ([mid["seconds"] / mid["rows"]] if mid and mid is not big else [])
        linear = len(per) < 2 or per[0] <= 1.5 * per[1]
        passed = (max(SIZES) < 1_000_000 or big["seconds"] <= BAR_S) and max(r["peak_mb"] for r in rs.values()) <= BAR_MB and linear
        res[name] = dict(seconds_1m=big["seconds"], peak_mb=max(r["peak_mb"] for r in rs.values()), linear=linear,
                         seconds_per_1k_rows={n: round(1000 * r["seconds"] / n, 3) for n, r in rs.items()}, passed=passed)
        print(f"{name}: {big['rows']:,} rows in {big['seconds']:.1f} s (bar {BAR_S:.0f} s), peak {res[name]['peak_mb']:.0f} MiB "
              f"(bar {BAR_MB:.0f}), linear {linear}: {'PASS' if passed else 'FAIL'}")
        ok &= passed
    res["pass"] = ok
    return res


if __name__ == "__main__":
    sys.exit(_run_mod.main(["scoring"]))
