"""insight_nb benchmarks: `make bench` (all) or `make bench BENCH="import"`.

Each benchmark prints a table and writes JSON to bench/output/<name>.json. Ratios are measured side by
side in one run, because this machine is noisy. Speed goals are checked here, never in unit tests.
"""
from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "output"
BENCHES = {}
# `make bench` runs these; the text benchmarks fine-tune transformers (an hour on 2 CPU cores) and
# the GPU one needs CUDA, and the gauntlet runs ~14 full reports (tens of minutes), so they run only when named:
# `make bench BENCH=text`, `make bench BENCH=gauntlet` (one table: `make bench BENCH=gauntlet GAUNTLET=loanapp`);
# the regression one cross-validates eight models on ames and credit_balance (minutes): `make bench BENCH=regression`
# (one table: `REGRESSION=ames`); the image one trains two CNNs from scratch (~10 minutes): `make bench BENCH=images`.
# The scale ones run full reports on big tables (minutes each): `make bench BENCH=wide`, `make bench BENCH=rows` (`ROWS="10000 100000"`).
DEFAULT = ["import", "tabular", "scaling", "report", "sweep", "widgets"]

def bench(name):
    def deco(f):
        BENCHES[name] = f
        return f
    return deco

def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    w = {c: max(len(str(c)), *(len(str(r[c])) for r in rows)) for c in cols}
    line = lambda r: "  ".join(str(r[c]).ljust(w[c]) for c in cols)
    return "\n".join([line({c: c for c in cols}), line({c: "-" * w[c] for c in cols})] + [line(r) for r in rows])

def _wall(code: str, n: int) -> list[float]:
    "Wall seconds of `python -c code` in fresh interpreters, n times."
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        out.append(time.perf_counter() - t0)
    return out

@bench("import")
def bench_import(n: int = 9) -> dict:
    "`import insight_nb`: wall time over a bare interpreter start, and which heavy modules it loads."
    base = _wall("pass", n)
    pkg = _wall("import insight_nb", n)
    data = _wall("import insight_nb.dataset", n)
    heavy = json.loads(subprocess.run([sys.executable, "-c",
        "import sys, json, insight_nb; print(json.dumps(sorted(m for m in ('torch','transformers','pandas','sklearn') if m in sys.modules)))"],
        capture_output=True, text=True, check=True).stdout)
    med = statistics.median
    res = dict(interpreter_s=med(base), import_insight_nb_s=med(pkg) - med(base), import_data_layer_s=med(data) - med(base),
               heavy_modules_loaded=heavy, goal_s=0.5)
    res["pass"] = res["import_insight_nb_s"] < 0.5 and not ({"torch", "transformers"} & set(heavy))
    rows = [dict(what="python -c pass", median_s=f"{med(base):.3f}", over_bare_s="-"),
            dict(what="import insight_nb", median_s=f"{med(pkg):.3f}", over_bare_s=f"{res['import_insight_nb_s']:.3f}"),
            dict(what="import insight_nb.dataset", median_s=f"{med(data):.3f}", over_bare_s=f"{res['import_data_layer_s']:.3f}")]
    print(table(rows))
    print(f"heavy modules loaded by `import insight_nb`: {heavy or 'none'}; goal < 0.5 s: {'PASS' if res['pass'] else 'FAIL'}")
    return res

def main(names: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    unknown = [n for n in names if n not in BENCHES]
    if unknown: sys.exit(f"unknown benchmark(s) {unknown}; available: {list(BENCHES)}")
    ok = True
    for name in names or DEFAULT:
        print(f"\n== {name} ==")
        res = BENCHES[name]()
        res["machine"] = dict(python=platform.python_version(), processor=platform.processor() or platform.machine(), cpus=__import__("os").cpu_count())
        (OUT / f"{name}.json").write_text(json.dumps(res, indent=2, default=str))
        print(f"-> {OUT / (name + '.json')}")
        ok &= bool(res.get("pass", True))
    return 0 if ok else 1

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.modules.setdefault("run", sys.modules[__name__])  # benchmark modules import the registry from `run`
    import bench_tabular  # noqa: F401  (registers "tabular", "scaling")
    import bench_widgets  # noqa: F401  (registers "widgets")
    import bench_report  # noqa: F401  (registers "report", "sweep")
    import bench_text  # noqa: F401  (registers "text", "text_gpu")
    import bench_gauntlet  # noqa: F401  (registers "gauntlet")
    import bench_regression  # noqa: F401  (registers "regression")
    import bench_images  # noqa: F401  (registers "images")
    import bench_scoring  # noqa: F401  (registers "scoring")
    import bench_scale  # noqa: F401  (registers "wide", "rows")
    sys.exit(main(sys.argv[1:]))
