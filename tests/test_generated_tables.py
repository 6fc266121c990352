"""Property-style robustness test (issue 13): reports on randomly generated tables never crash.

Each seed generates one table: 50 to 5,000 rows, 2 to 5 classes with a minority share of 1-40 %, and a random mix of
numeric, integer, categorical (low and high cardinality), boolean, date and short free-text columns, missing values,
a constant column, duplicate and near-duplicate columns and sometimes an identifier. Every table goes through the
command line's own code (`insight_nb.cli.main(["report", ...])`, so the exit status is the one a scheduler sees) with
fast settings (one scikit-learn model, 3 folds, no bootstrap). To keep the file within a few minutes on 2 cores, the
reports share one kernel: `run_report` is wrapped to pass a started kernel manager (`km`), as `insight-nb sweep` does;
a failed run's kernel is replaced.

Accepted outcomes: exit 0 (ok) or 3 (partial), with manifest.json saying the same; or a clean refusal, exit 2 with one
paragraph that says what is wrong and has a "Fix:" (e.g. a class too small for the folds), for at most a quarter of
the tables. A crash (an exception out of the command, exit 1 or any other status) fails the test.

INSIGHT_NB_GEN_TABLES=N changes how many tables (default 24); INSIGHT_NB_GEN_SEED=S shifts the seeds;
INSIGHT_NB_GEN_RESULTS=FILE writes every table's outcome (exit status, seconds, refusal) as JSON. A failing table
is written beside the error (`generated_<seed>.csv` in pytest's tmp folder) so `insight-nb report` can replay it.
"""
import contextlib
import io
import json
import os
import string
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

N_TABLES = int(os.environ.get("INSIGHT_NB_GEN_TABLES", 24))
SEED0 = int(os.environ.get("INSIGHT_NB_GEN_SEED", 0))
SEEDS = list(range(SEED0, SEED0 + N_TABLES))
FAST = ["-p", "models=[sk_logreg]", "-p", "cv=3", "-p", "n_boot=0", "--timeout", "300"]
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
MAX_REFUSED = 0.25
WORDS = ("refund card payment late fee balance transfer account closed app login error branch cash atm pin limit "
         "travel abroad exchange rate statement interest loan mortgage salary bonus savings").split()
LABELS = [("no", "yes"), (0, 1), ("good", "bad"), (False, True), ("stay", "churn"), ("A", "B", "C", "D", "E"),
          (1, 2, 3, 4, 5), ("low", "mid", "high", "very high", "unknown"), ("setosa", "versicolor", "virginica", "x", "y")]
RESULTS: dict = {}


# ------------------------------------------------------------------ the tables
def make_table(seed: int) -> tuple:
    "A random table, its target column and a one-line description of what is in it."
    rng = np.random.default_rng(seed)
    n = int(np.exp(rng.uniform(np.log(50), np.log(5000))))
    k = int(rng.integers(2, 6))
    share = float(rng.uniform(0.01, min(0.40, 1 / k)))
    labels = [l for l in LABELS if len(l) >= k][int(rng.integers(0, sum(len(l) >= k for l in LABELS)))][:k]
    n_min = max(1, round(n * share))
    rest = np.full(k - 1, (n - n_min) // (k - 1)); rest[: (n - n_min) % (k - 1)] += 1
    codes = rng.permutation(np.repeat(np.arange(k), [*rest, n_min]))  # the last class is the minority
    y = np.array(labels, dtype=object)[codes]
    signal = codes / max(k - 1, 1) + rng.normal(0, rng.uniform(0.3, 2.0), n)  # how learnable the table is varies
    cols, kinds = {}, []

    def missing(v: pd.Series) -> pd.Series:
        rate = rng.choice([0, 0, 0.05, 0.2, 0.6])
        return v.mask(rng.random(n) < rate) if rate else v

    for i in range(int(rng.integers(1, 12))):
        kind = rng.choice(["num", "num", "int", "cat", "cat", "highcat", "bool", "date", "text"])
        s = signal * rng.uniform(-1, 1) + rng.normal(0, 1, n)
        if kind == "num": v = pd.Series(s * rng.choice([1, 1e3, 1e-3]))
        elif kind == "int": v = pd.Series(np.round(s * 5 + 20).astype(int))
        elif kind == "cat":
            m = int(rng.integers(2, 9))
            v = pd.Series(np.array([f"{rng.choice(list(string.ascii_lowercase))}_{j}" for j in range(m)], dtype=object)[
                np.clip(((s - s.min()) / (np.ptp(s) + 1e-9) * m).astype(int), 0, m - 1)])
        elif kind == "highcat": v = pd.Series([f"z{int(x)}" for x in rng.integers(0, max(10, n // 3), n)])
        elif kind == "bool": v = pd.Series(s > np.median(s))
        elif kind == "date":
            v = pd.Series((pd.Timestamp("2020-01-01") + pd.to_timedelta(np.round(s * 60 + 400), unit="D")).strftime("%Y-%m-%d"))
        else:
            v = pd.Series([" ".join(rng.choice(WORDS, int(rng.integers(2, 8)))) + (" refund" if c == k - 1 and rng.random() < 0.5 else "")
                           for c in codes])
        cols[f"{kind}_{i}"] = missing(v)
        kinds.append(f"{kind}_{i}" + ("*" if cols[f"{kind}_{i}"].isna().any() else ""))
    extras = rng.choice(["const", "dup", "neardup", "id", "allmissing"], size=int(rng.integers(0, 4)), replace=False)
    for e in extras:
        src = list(cols)[int(rng.integers(0, len(cols)))]
        name = dict(const="const", dup=f"dup_of_{src}", neardup=f"near_dup_of_{src}", id="row_id", allmissing="all_missing")[e]
        if e == "const": cols[name] = "same"
        elif e == "dup": cols[name] = cols[src].copy()
        elif e == "neardup":
            v = cols[src].copy(); idx = rng.random(n) < 0.02
            v[idx] = v.dropna().sample(int(idx.sum()), replace=True, random_state=seed).to_numpy() if v.notna().any() and idx.any() else v[idx]
            cols[name] = v
        elif e == "id": cols[name] = [f"ID{seed:03d}-{j:05d}" for j in range(n)]
        elif e == "allmissing": cols[name] = np.nan
        kinds.append(name)
    target = rng.choice(["target", "Churn", "label", "class"])
    df = pd.DataFrame(cols)
    df.insert(int(rng.integers(0, df.shape[1] + 1)), target, y)
    desc = f"seed {seed}: {n} rows, {k} classes {list(labels)} (minority {n_min} = {n_min / n:.1%}), columns {kinds}"
    return df, target, desc


# ------------------------------------------------------------------ running one report the way the CLI does
@pytest.fixture(scope="module")
def cli_with_kernel(monkeypatch_module):
    "`cli.main` with every report run in one reused kernel (replaced after a failure)."
    import insight_nb.report as report
    from insight_nb.kernels import pinned_kernel_manager_class, shutdown_kernels
    from insight_nb.cli import main
    original = report.run_report
    state = {}

    def kernel():
        if "km" not in state: state["km"] = pinned_kernel_manager_class(env=ONE_THREAD)(kernel_name="python3")
        return state["km"]

    def drop():
        km = state.pop("km", None)
        if km is not None and km.has_kernel:
            from jupyter_core.utils import run_sync
            try: run_sync(km.shutdown_kernel)(now=True)
            except Exception: pass

    monkeypatch_module.setattr(report, "run_report", lambda *a, **kw: original(*a, **(kw | dict(km=kernel()))))

    def run(argv: list) -> dict:
        err, out = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                code = main(argv)
            crash = None
        except BaseException as e:  # what the console command would print as a traceback
            if isinstance(e, KeyboardInterrupt) and not isinstance(e, Exception): raise
            code, crash = 1, "".join(traceback.format_exception(e))[-4000:]
        if code != 0: drop()
        return dict(code=code, stderr=err.getvalue(), stdout=out.getvalue(), crash=crash, seconds=time.perf_counter() - t0)

    yield run
    drop()
    shutdown_kernels()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _kernel_error(out: Path) -> str:
    "The failing cell's exception, from the partial notebook the failed run left in OUT.failed/."
    try: nb = json.loads((out.with_name(out.name + ".failed") / "report.ipynb").read_text())
    except Exception: return ""
    for c in nb["cells"]:
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                import re
                tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(o.get("traceback", [])))
                return f"{o['ename']}: {o['evalue']} (cell {c.get('metadata', {}).get('tags')})\n" + "\n".join(tb.splitlines()[-12:])
    return ""


@pytest.mark.parametrize("seed", SEEDS)
def test_generated_table(seed, cli_with_kernel, tmp_path):
    df, target, desc = make_table(seed)
    data = tmp_path / f"generated_{seed}.csv"
    df.to_csv(data, index=False)
    out = tmp_path / "report"
    argv = ["report", str(data), "--target", target, "--out", str(out), *FAST]
    r = cli_with_kernel(argv)
    code, err = r["code"], r["stderr"].strip()
    man = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
    replay = f"insight-nb report {data} --target {target} --out OUT " + " ".join(a if "[" not in a else f"'{a}'" for a in FAST)
    RESULTS[seed] = dict(code=code, status=man.get("status"), seconds=r["seconds"], desc=desc, replay=replay)
    context = f"{desc}\nreplay: {replay}\nexit {code} in {r['seconds']:.1f} s"
    if r["crash"]: pytest.fail(f"crash (exception out of the command):\n{context}\n{r['crash']}")
    if code == 2:
        # warnings may come first ("insight-nb report: warning: ..."); the error is the last paragraph, one line
        msg = err[err.find("insight-nb report: error:"):] if "insight-nb report: error:" in err else err
        RESULTS[seed]["refused"] = msg
        assert "Traceback" not in err and "insight-nb report: error:" in err and "\n" not in msg, f"refusal is not one paragraph:\n{context}\n{err}"
        assert "Fix:" in msg and len(msg.split("Fix:")[0]) > 40, f"refusal without a clear what/fix:\n{context}\n{err}"
        return
    assert code in (0, 3), f"report failed:\n{context}\n{err[-3000:]}\n{_kernel_error(out)}"
    assert man.get("status") == ("ok" if code == 0 else "partial"), f"manifest says {man.get('status')!r}, exit {code}:\n{context}"
    if "exit_status" in man: assert man["exit_status"] == code, context
    m = json.loads((out / "metrics.json").read_text())
    assert m["task"] in ("binary", "multiclass") and m["n_rows"] > 0, context


def test_refusals_are_rare():
    "Clean refusals are allowed, but not for more than a quarter of the generated tables."
    if os.environ.get("INSIGHT_NB_GEN_RESULTS"):  # a JSON summary of every table: exit status, seconds, refusals
        Path(os.environ["INSIGHT_NB_GEN_RESULTS"]).write_text(json.dumps(RESULTS, indent=1, default=str))
    if len(RESULTS) < len(SEEDS): pytest.skip("not every generated table ran (selected with -k?)")
    refused = {s: r["refused"] for s, r in RESULTS.items() if "refused" in r}
    share = len(refused) / len(RESULTS)
    detail = "\n".join(f"{RESULTS[s]['desc']}\n  {e}" for s, e in refused.items())
    assert share <= MAX_REFUSED, f"{len(refused)} of {len(RESULTS)} tables refused (> {MAX_REFUSED:.0%}):\n{detail}"
