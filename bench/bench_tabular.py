"""Tabular modelling benchmarks (issue 6): quality on Telco and German credit, cost-based threshold,
calibration, CV speed, and scaling to 1M rows. Same split protocol for all models: stratified 5-fold CV, seed 0."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from run import ROOT, bench, table

SHARED = Path(os.environ.get("INSIGHT_NB_SHARED_DATA", ROOT.parent / "shared" / "data"))
MODELS = ["sk_logreg", "sk_hgb", "torch_logreg", "torch_mlp"]

def _prepare(source, target):
    from insight_nb.dataset import prepare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return prepare(source, target)

def _cv_table(ds, models, cv=5, seed=0):
    from insight_nb.compare import cross_validate
    from insight_nb.registry import model_maker
    out = {}
    for m in models:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = cross_validate(model_maker(m), ds, cv=cv, seed=seed)
        out[m] = dict(roc_auc=r["mean"]["roc_auc"], ci=r["ci"]["roc_auc"], brier=r["mean"]["brier"], wall_s=time.perf_counter() - t0, oof=r["oof"])
    return out

def _quality_rows(name, res):
    return [dict(data=name, model=m, cv_roc_auc=f"{r['roc_auc']:.4f}", ci95=f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]",
                 cv_brier=f"{r['brier']:.4f}", wall_s=f"{r['wall_s']:.1f}") for m, r in res.items()]

def _best(res, prefix):
    cands = {m: r for m, r in res.items() if m.startswith(prefix)}
    m = max(cands, key=lambda k: cands[k]["roc_auc"])
    return m, cands[m]["roc_auc"]

def _cost_and_calibration(ds, model, seed=0):
    "Threshold and calibrator chosen on out-of-fold predictions of the training part, applied to the held-out test part."
    from insight_nb.compare import cross_validate
    from insight_nb.estimators import fit_estimator, positive_proba
    from insight_nb.registry import model_maker
    from insight_nb.evaluate import Calibrator, choose_calibration, choose_threshold, expected_cost
    sp = ds.split(valid=0.0, test=0.25, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = cross_validate(model_maker(model), ds, sp.train, cv=5, seed=seed)
        est = model_maker(model)(ds.schema, seed)
        fit_estimator(est, ds.X.iloc[sp.train], ds.y.iloc[sp.train].to_numpy(), ds.schema)
        p_test = positive_proba(est, ds.X.iloc[sp.test], ds.classes)
    y_tr, y_te = ds.y_codes[sp.train], ds.y_codes[sp.test]
    choice = choose_threshold(y_tr, cv["oof"], cost_fp=1.0, cost_fn=5.0)
    cost_chosen = expected_cost(y_te, p_test, choice.threshold, cost_fp=1.0, cost_fn=5.0)
    cost_05 = expected_cost(y_te, p_test, 0.5, cost_fp=1.0, cost_fn=5.0)
    brier = lambda p: float(np.mean((p - y_te) ** 2))
    cal = {m: brier(Calibrator(m).fit(cv["oof"], y_tr).transform(p_test)) for m in ("sigmoid", "isotonic")}
    # the method (none included) is chosen on the training part's out-of-fold predictions, never on the test part
    chosen, calibrator, oof_brier = choose_calibration(cv["oof"], y_tr)
    return dict(model=model, threshold=choice.threshold, cost_per_case_chosen=_v(cost_chosen), cost_per_case_05=_v(cost_05),
                brier_uncalibrated=brier(p_test), brier_sigmoid=cal["sigmoid"], brier_isotonic=cal["isotonic"], calibration_chosen=chosen,
                calibration_oof_brier=oof_brier, brier_calibrated=brier(p_test if calibrator is None else calibrator.transform(p_test)),
                n_test=len(y_te))

def _v(c): return float(c["per_case"] if isinstance(c, dict) else c)

@bench("tabular")
def bench_tabular() -> dict:
    "Telco and German credit: 5-fold CV ROC AUC of every model, CV wall time, cost threshold and calibration."
    res = {}
    telco = _prepare("demo:telco_churn", "Churn")
    german = _prepare(SHARED / "german_credit" / "german_credit.csv", "class")
    res["telco"] = _cv_table(telco, MODELS)
    res["german_credit"] = _cv_table(german, MODELS)
    print(table(_quality_rows("telco", res["telco"]) + _quality_rows("german_credit", res["german_credit"])))
    out = dict(cv={d: {m: {k: v for k, v in r.items() if k != "oof"} for m, r in rs.items()} for d, rs in res.items()})
    bt, bt_auc = _best(res["telco"], "torch_"); bs, bs_auc = _best(res["telco"], "sk_")
    bg, bg_auc = _best(res["german_credit"], "torch_")
    mlp_s, hgb_s = res["telco"]["torch_mlp"]["wall_s"], res["telco"]["sk_hgb"]["wall_s"]
    costs = {d: _cost_and_calibration(ds, _best(res[d], "torch_")[0]) for d, ds in (("telco", telco), ("german_credit", german))}
    print()
    print(table([dict(data=d, model=c["model"], threshold=f"{c['threshold']:.3f}", cost_5to1_chosen=f"{c['cost_per_case_chosen']:.3f}",
                      cost_5to1_at_0_5=f"{c['cost_per_case_05']:.3f}", brier_raw=f"{c['brier_uncalibrated']:.4f}", brier_sigmoid=f"{c['brier_sigmoid']:.4f}", brier_isotonic=f"{c['brier_isotonic']:.4f}",
                      brier_calibrated=f"{c['brier_calibrated']:.4f} ({c['calibration_chosen']})") for d, c in costs.items()]))
    checks = {
        "telco best torch CV AUC >= 0.845": bt_auc >= 0.845,
        "telco best torch within 0.005 of best sklearn": bt_auc >= bs_auc - 0.005,
        "german credit best torch CV AUC >= 0.785": bg_auc >= 0.785,
        "telco torch_mlp 5-fold CV < 30 s": mlp_s < 30,
        "calibrated Brier <= uncalibrated (telco)": costs["telco"]["brier_calibrated"] <= costs["telco"]["brier_uncalibrated"] + 1e-12,
        "calibrated Brier <= uncalibrated (german)": costs["german_credit"]["brier_calibrated"] <= costs["german_credit"]["brier_uncalibrated"] + 1e-12,
    }
    print(f"\ntelco: best torch {bt} {bt_auc:.4f} vs best sklearn {bs} {bs_auc:.4f}; german: best torch {bg} {bg_auc:.4f}")
    print(f"telco torch_mlp 5-fold CV {mlp_s:.1f} s = {mlp_s / hgb_s:.2f}x HistGradientBoosting ({hgb_s:.1f} s) on the same folds")
    for k, v in checks.items(): print(f"  {'PASS' if v else 'FAIL'}  {k}")
    out.update(best=dict(telco_torch=[bt, bt_auc], telco_sklearn=[bs, bs_auc], german_torch=[bg, bg_auc]),
               mlp_over_hgb_time=mlp_s / hgb_s, cost_and_calibration=costs, checks=checks, **{"pass": all(checks.values())})
    return out

SCALE_CHILD = r"""
import json, resource, sys, time, warnings
import numpy as np
warnings.simplefilter("ignore")
from insight_nb.dataset import prepare, Dataset
from insight_nb.models import TorchTabularClassifier
n = int(sys.argv[1])
ds = prepare("demo:telco_churn")
rng = np.random.default_rng(0)
rows = rng.integers(0, len(ds), n)
frame = ds.frame.iloc[rows].reset_index(drop=True)
for c in ds.schema.by_role("numeric"):
    frame[c] = frame[c] + rng.normal(0, 0.05 * frame[c].std(), n)
X, y = frame[ds.features], frame[ds.target]
t0 = time.perf_counter()
est = TorchTabularClassifier(model="mlp", epochs=2, early_stopping=None, batch_size=1024, seed=0).fit(X, y, schema=ds.schema)
fit_s = time.perf_counter() - t0
print(json.dumps(dict(n=n, fit_s=fit_s, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)))
"""

@bench("scaling")
def bench_scaling(sizes=(10_000, 100_000, 1_000_000)) -> dict:
    "Torch MLP train time (2 epochs, batch 1024) and peak memory (whole process) at 10k, 100k and 1M resampled Telco rows."
    rows = []
    for n in sizes:
        r = subprocess.run([sys.executable, "-c", SCALE_CHILD, str(n)], capture_output=True, text=True, cwd=ROOT)
        if r.returncode: raise RuntimeError(r.stderr[-2000:])
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    for r in rows: r["us_per_row"] = r["fit_s"] / r["n"] * 1e6
    print(table([dict(rows=f"{r['n']:,}", fit_s=f"{r['fit_s']:.1f}", us_per_row=f"{r['us_per_row']:.1f}", peak_rss_mb=f"{r['peak_rss_mb']:.0f}") for r in rows]))
    growth = rows[-1]["fit_s"] / rows[-2]["fit_s"]
    checks = {"time 100k -> 1M grows about linearly (5x-15x)": 5 <= growth <= 15, "peak memory at 1M rows < 3 GB": rows[-1]["peak_rss_mb"] < 3072}
    for k, v in checks.items(): print(f"  {'PASS' if v else 'FAIL'}  {k}")
    return dict(rows=rows, growth_100k_to_1m=growth, checks=checks, **{"pass": all(checks.values())})
