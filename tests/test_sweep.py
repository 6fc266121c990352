"""`insight-nb sweep`: many reports from one YAML file, on local worker processes (one reused kernel each) or on a
Dask cluster (a LocalCluster on loopback proves it). A failing run is listed in the index with its error and does not
stop the others; a report published partial (an optional section failed) is listed as `partial` with its failed sections
and makes the sweep exit 3; a mistake every run shares stops the sweep before anything runs. Small runs keep this file fast."""
import json
import os

import numpy as np
import pytest
import yaml


from insight_nb.cells import new_template, write_notebook
from insight_nb.cli import main
from insight_nb.data import load_demo
from insight_nb.steps import FAULT_ENV
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


def test_partial_report_makes_the_sweep_partial(tmp_path, capsys, monkeypatch):
    """Two data sets, each with a small custom template: one with a drivers section, one without. With the drivers section
    made to raise (the test fault injector INSIGHT_NB_FAULT, inherited by the kernel), the first report is published
    partial and the second ok: the index says so, and the sweep exits 3 (no run failed)."""
    load_demo("telco_churn").iloc[:600].to_csv(tmp_path / "telco600.csv", index=False)
    with_drivers = write_notebook(new_template(["profile", "compare", "drivers", "outputs"], name="with_drivers"), tmp_path / "with_drivers.ipynb")
    without = write_notebook(new_template(["profile", "compare", "outputs"], name="without_drivers"), tmp_path / "without_drivers.ipynb")
    data = str(tmp_path / "telco600.csv")
    spec = tmp_path / "partial.yml"
    spec.write_text(yaml.safe_dump(dict(name="partial", target="Churn", params=PARAMS, workers=1, threads=1, datasets=[
        dict(name="drivers", data=data, template=str(with_drivers)), dict(name="plain", data=data, template=str(without))])))
    monkeypatch.setenv(FAULT_ENV, "drivers")
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out)]) == 3
    printed = capsys.readouterr().out
    assert "sweep: 1 ok, 1 partial, 0 failed" in printed
    assert "drivers: partial" in printed and "sections failed: drivers (RuntimeError: fault injected" in printed
    index = json.loads((out / "index.json").read_text())
    assert (index["n_ok"], index["n_partial"], index["n_failed"]) == (1, 1, 0)
    runs = {r["name"]: r for r in index["runs"]}
    part, ok = runs["drivers"], runs["plain"]
    assert part["status"] == "partial" and part["failed_sections"] == ["drivers"]
    assert part["section_errors"][0]["section"] == "drivers" and "fault injected" in part["section_errors"][0]["error"]
    assert part["report"] == "drivers/report.html" and (out / "drivers" / "report.html").is_file()
    assert part["summary"]["best_model"] == "sk_logreg" and "top_driver" not in part["summary"]  # the rest of the report is there
    assert json.loads((out / "drivers" / "manifest.json").read_text())["status"] == "partial"
    assert ok["status"] == "ok" and "failed_sections" not in ok and ok["report"] == "plain/report.html"
    html = (out / "index.html").read_text()
    assert 'href="drivers/report.html"' in html and ">partial<" in html and "1 partial" in html and "sections failed: drivers" in html


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
    """A sweep pointed at a scheduler address runs its reports on the cluster's worker processes; on the same cluster,
    `compare(backend=client)` fits its folds there, with the results of one local process."""
    distributed = pytest.importorskip("distributed")
    from insight_nb.compare import compare
    from insight_nb.dataset import prepare
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        res = run_sweep(dict(data=str(data), target="Churn", params=PARAMS | dict(sensitive=["gender"]), grid=dict(seed=[0, 1])),
                        tmp_path / "dask", scheduler=cluster.scheduler_address, threads=1)
        ds = prepare(str(data), "Churn")
        with distributed.Client(cluster.scheduler_address) as client:
            with distributed.get_task_stream(client) as ts:
                on_dask = compare(ds, ["sk_logreg"], cv=2, n_boot=0, backend=client)
        here = compare(ds, ["sk_logreg"], cv=2, n_boot=0, n_jobs=1)
    strip = lambda b: [{k: v for k, v in r.items() if k != "fit_seconds"} for r in b.to_dict()["models"]]
    assert len(ts.data) >= 2 and strip(on_dask) == strip(here) and on_dask.results[0]["status"] == "ok"  # the 2 folds ran there
    assert res.n_ok == 2 and res.n_failed == 0 and res.index["engine"].startswith("dask (tcp://127.0.0.1:")
    pids = {int(r["worker"].rsplit(":", 1)[1]) for r in res.runs()}
    assert os.getpid() not in pids  # the reports ran on the cluster's worker processes
    for r in res.runs():
        m = json.loads((res.out / r["name"] / "metrics.json").read_text())
        assert m["recipe"]["seed"] == int(r["labels"]["seed"]) and "gender" in m["fairness"]["columns"]
