"""`insight-nb sweep`: many reports from one YAML file, on local worker processes (one reused kernel each) or on a
Dask cluster (a LocalCluster on loopback proves it). A failing run is listed in the index with its error and does not
stop the others; a mistake every run shares stops the sweep before anything runs. Small runs keep this file fast."""
import json
import os

import numpy as np
import pytest
import yaml


from insight_nb.cli import main
from insight_nb.data import load_demo
from insight_nb.sweep import run_sweep

FILES = {"findings.json", "manifest.json", "metrics.json", "reference.json", "report.html", "report.ipynb"}
PARAMS = dict(cv=2, models=["sk_logreg"], n_boot=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    "700 Telco rows with a `region` column: regions A and B are ordinary, region C has no churners (its report must fail)."
    d = tmp_path_factory.mktemp("sweepdata")
    df = load_demo("telco_churn").iloc[:700].copy()
    rng = np.random.default_rng(0)
    df["region"] = rng.choice(["A", "B"], len(df))
    df.loc[df.index[(df.Churn == "No").to_numpy()][:60], "region"] = "C"
    df.to_csv(d / "telco_regions.csv", index=False)
    return d / "telco_regions.csv"


def test_local_sweep_with_a_failing_run(data, tmp_path, capsys):
    spec = tmp_path / "regions.yml"
    spec.write_text(yaml.safe_dump(dict(name="regions", data=str(data), target="Churn", params=PARAMS, split_by="region", workers=2, threads=1)))
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out)]) == 1  # one run failed
    printed = capsys.readouterr().out
    assert "[3/3]" in printed and "1 failed" in printed
    index = json.loads((out / "index.json").read_text())
    runs = {r["name"]: r for r in index["runs"]}
    assert set(runs) == {"telco_regions__region=A", "telco_regions__region=B", "telco_regions__region=C"}
    assert (index["n_ok"], index["n_failed"]) == (2, 1) and index["engine"].startswith("local (2 worker processes")
    for name in ("telco_regions__region=A", "telco_regions__region=B"):
        r = runs[name]
        assert r["status"] == "ok" and FILES <= {p.name for p in (out / name).iterdir()}
        s = r["summary"]
        assert s["best_model"] == "sk_logreg" and 0.5 < s["test"] <= 1 and s["n_rows"] > 250 and s["top_driver"]
    assert len({runs[n]["worker"] for n in runs if runs[n]["status"] == "ok"}) >= 1
    bad = runs["telco_regions__region=C"]
    # a constant target is caught before a kernel starts: the run fails with the reason and no partial notebook
    assert bad["status"] == "failed" and "constant" in bad["error"] and not bad.get("failed_notebook")
    assert not (out / "telco_regions__region=C.failed").exists()
    html = (out / "index.html").read_text()
    assert 'href="telco_regions__region=A/report.html"' in html and "failed" in html and "constant" in html
    assert "<script" not in html


def test_sweep_mistakes_stop_before_anything_runs(data, tmp_path, capsys):
    cases = [
        (dict(data=str(data), target="Churn", spit_by="region"), "Did you mean 'split_by'"),
        (dict(data=str(data), target="Churn", split_by="regin"), "Did you mean 'region'"),
        (dict(data=str(data), target="Churn", params=dict(cv="three"), split_by="region"), "cv must be an integer"),
        (dict(data=str(data), target="Churn", grid=dict(models="sk_logreg")), "must be a non-empty list"),
    ]
    for i, (spec, msg) in enumerate(cases):
        f = tmp_path / f"s{i}.yml"
        f.write_text(yaml.safe_dump(spec))
        assert main(["sweep", str(f), "--out", str(tmp_path / f"o{i}")]) == 2, spec
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (spec, err)
        assert not list((tmp_path / f"o{i}").glob("*/report.html"))


def test_dask_sweep_on_a_local_cluster(data, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        res = run_sweep(dict(data=str(data), target="Churn", params=PARAMS | dict(sensitive=["gender"]), grid=dict(seed=[0, 1])),
                        tmp_path / "dask", scheduler=cluster.scheduler_address, threads=1)
    assert res.n_ok == 2 and res.n_failed == 0 and res.index["engine"].startswith("dask (tcp://127.0.0.1:")
    pids = {int(r["worker"].rsplit(":", 1)[1]) for r in res.runs()}
    assert os.getpid() not in pids  # the reports ran on the cluster's worker processes
    for r in res.runs():
        m = json.loads((res.out / r["name"] / "metrics.json").read_text())
        assert m["recipe"]["seed"] == int(r["labels"]["seed"]) and "gender" in m["fairness"]["columns"]
