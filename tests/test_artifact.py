"""Model artifacts: save/load round trip, corrupt folders, scoring new data, the `score` command."""
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_nb.artifact import PIPELINE, WEIGHTS, load_model, read_pipeline, save_model, score
from insight_nb.publish import MARKER, files_under, sha256_file
from insight_nb.core import InsightError, InsightWarning, SchemaError
from insight_nb.models import TorchTabularClassifier

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def telco(telco_ds):
    from insight_nb.data import load_table
    ds = telco_ds
    sp = ds.split(valid=0.15, test=0.2, seed=0)
    raw = load_table("demo:telco_churn")
    return ds, sp, raw


@pytest.fixture(scope="module")
def fitted(telco):
    ds, sp, _ = telco
    idx = sp.train[:2000]
    clf = TorchTabularClassifier(epochs=3, norm="batch").fit(ds.X.iloc[idx], ds.y.iloc[idx], schema=ds.schema)
    return clf


@pytest.fixture
def saved(fitted, telco, tmp_path):
    ds = telco[0]
    return save_model(fitted, tmp_path / "model", dataset=ds, metrics={"roc_auc": 0.84, "nan": float("nan")})


def test_round_trip_identical_predictions(fitted, saved, telco):
    ds, sp, _ = telco
    assert sorted(p.name for p in saved.iterdir()) == sorted([MARKER, PIPELINE, WEIGHTS])
    assert sorted(json.loads((saved / MARKER).read_text())["files"]) == sorted([PIPELINE, WEIGHTS])
    m = load_model(saved)
    X = ds.X.iloc[sp.test]
    np.testing.assert_array_equal(m.predict_proba(X), fitted.predict_proba(X))
    assert m.classes_ == fitted.classes_ and m.positive_class_ == "Yes"
    assert m.get_params()["hidden"] == fitted.hidden and m.architecture_ == fitted.architecture_
    meta = json.loads((saved / PIPELINE).read_text())
    assert meta["training"]["fingerprint"]["frame_sha256"] == ds.fingerprint()["frame_sha256"]
    assert meta["metrics"] == {"roc_auc": 0.84, "nan": None} and meta["label_map"] == {"0": "No", "1": "Yes"}
    assert meta["versions"]["torch"] and meta["features"]["format"] == "insight_nb.features/1"
    assert meta["schema"]["columns"]["customerID"]["role"] == "identifier"


def test_round_trip_embeddings_and_multiclass(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"x": rng.normal(size=n), "city": rng.choice([f"c{i}" for i in range(40)], n)})
    y = pd.Series(rng.choice(["a", "b", "c"], n))
    for model in ("mlp", "logreg"):
        clf = TorchTabularClassifier(model=model, epochs=2, features=dict(max_onehot=5)).fit(X, y)
        assert clf.features_.cardinalities_
        m = load_model(save_model(clf, tmp_path / model))
        np.testing.assert_array_equal(m.predict_proba(X), clf.predict_proba(X))


def test_save_replaces_atomically(fitted, saved, monkeypatch):
    import safetensors.torch
    before = (saved / PIPELINE).read_text()
    def boom(*a, **k): raise OSError("disk full")
    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(OSError, match="disk full"): save_model(fitted, saved)
    assert (saved / PIPELINE).read_text() == before                       # old model untouched
    assert [p.name for p in saved.parent.iterdir()] == ["model"]          # no temporary folder left behind
    monkeypatch.undo()
    save_model(fitted, saved)                                              # a second save replaces the folder
    assert json.loads((saved / PIPELINE).read_text())["training"]["fingerprint"] is None
    with pytest.raises(InsightError, match="not fitted"): save_model(TorchTabularClassifier(), saved.parent / "x")


def test_loading_runs_no_pickle(saved, monkeypatch):
    import pickle
    import torch
    def forbidden(*a, **k): raise AssertionError("load_model must not unpickle")
    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    load_model(saved)


def _edit(path: Path, fn):
    meta = json.loads((path / PIPELINE).read_text())
    fn(meta)
    (path / PIPELINE).write_text(json.dumps(meta))


def _rehash(path: Path):
    "Rewrite the folder's marker to match its files, as somebody who edits a model by hand might: the deeper checks still hold."
    m = json.loads((path / MARKER).read_text())
    m["files"] = {f: sha256_file(path / f) for f in files_under(path)}
    (path / MARKER).write_text(json.dumps(m))


@pytest.mark.parametrize("damage, msg", [
    (lambda d: (d / PIPELINE).unlink(), "lacks pipeline.json"),
    (lambda d: (d / PIPELINE).write_text("{truncated"), "pipeline.json changed since the model folder was written"),
    (lambda d: (d / WEIGHTS).unlink(), "lacks model.safetensors"),
    (lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:100]), "model.safetensors changed since"),
    (lambda d: _edit(d, lambda m: m.update(format="someone-else/9")), "pipeline.json changed since"),
    (lambda d: (d / MARKER).write_text("{broken"), "no integrity record"),
])
def test_corrupt_artifacts_give_clear_errors(saved, damage, msg):
    damage(saved)
    with pytest.raises(InsightError, match=msg): load_model(saved)


@pytest.mark.parametrize("damage, msg", [
    (lambda d: (d / PIPELINE).write_text("{truncated"), "not valid JSON"),
    (lambda d: (d / PIPELINE).write_bytes(b"\xff\xfe\x00junk"), "not valid JSON"),
    (lambda d: (d / WEIGHTS).write_bytes((d / WEIGHTS).read_bytes()[:100]), "sha256"),
    (lambda d: _edit(d, lambda m: m.update(format="someone-else/9")), "unknown model format"),
    (lambda d: _edit(d, lambda m: m.pop("features")), "lacks"),
    (lambda d: _edit(d, lambda m: m.update(classes=["No"])), "do not match the architecture"),
    (lambda d: _edit(d, lambda m: m["architecture"].update(module="gbm")), "unknown architecture"),
    (lambda d: _edit(d, lambda m: m["architecture"].update(hidden=[32, 16])), "do not fit the architecture"),
    (lambda d: _edit(d, lambda m: m["features"].update(format="x")), "not a TabularFeatures state"),
])
def test_corrupt_artifacts_with_rewritten_marker(saved, damage, msg):
    damage(saved)
    _rehash(saved)
    with pytest.raises(InsightError, match=msg): load_model(saved)


def test_truncated_weights_without_hash(saved):
    _edit(saved, lambda m: m["weights"].pop("sha256"))
    (saved / WEIGHTS).write_bytes((saved / WEIGHTS).read_bytes()[:100])
    _rehash(saved)
    with pytest.raises(InsightError, match="cannot read the weights"): load_model(saved)


def test_not_a_folder(tmp_path):
    with pytest.raises(InsightError, match="no model folder"): load_model(tmp_path / "missing")
    with pytest.raises(InsightError, match="no model folder"): read_pipeline(tmp_path / "missing")


def test_score_raw_rows(fitted, saved, telco):
    ds, sp, raw = telco
    rows = raw.iloc[:200].copy()
    res = score(saved, rows)
    reasons = [f"reason_{i}{x}" for i in (1, 2, 3) for x in ("", "_value", "_effect")]
    assert list(res.columns) == ["customerID", "predicted", "p_No", "p_Yes", "rank"] + reasons   # saved without a report: no decision
    assert list(score(saved, rows, reasons=0).columns) == ["customerID", "predicted", "p_No", "p_Yes", "rank"]
    assert len(res) == 200 and res["customerID"].tolist() == rows["customerID"].tolist()
    np.testing.assert_allclose(res[["p_No", "p_Yes"]].sum(axis=1), 1, rtol=1e-6)
    # same numbers as predicting on the cleaned frame (the target column in the input is ignored)
    np.testing.assert_allclose(res["p_Yes"].to_numpy(), fitted.predict_proba(ds.X.iloc[:200])[:, 1], rtol=1e-6)
    assert res.attrs["n_unseen"] == 0
    # extra columns are ignored, column order does not matter
    res2 = score(fitted, rows[rows.columns[::-1]].assign(extra=1))
    np.testing.assert_allclose(res2["p_Yes"], res["p_Yes"])


def test_score_new_category_is_counted(saved, telco):
    raw = telco[2].iloc[:30].drop(columns=["Churn"]).copy()
    raw.loc[[0, 1, 2], "PaymentMethod"] = "Crypto"
    with pytest.warns(InsightWarning, match="never seen in training"):
        res = score(saved, raw)
    assert res.attrs["unseen"]["PaymentMethod"] == {"unseen": 3, "examples": ["Crypto"]}
    assert res.attrs["n_unseen"] == 3 and np.isfinite(res["p_Yes"]).all()


def test_score_missing_column_and_type_change(saved, telco):
    raw = telco[2].iloc[:50].drop(columns=["Churn"])
    with pytest.raises(SchemaError, match=r"missing: \['tenure'\]"): score(saved, raw.drop(columns=["tenure"]))
    bad = raw.copy(); bad["MonthlyCharges"] = "about fifty"
    with pytest.raises(SchemaError, match="MonthlyCharges.*numeric"): score(saved, bad)
    # a few unreadable cells are missing values, not an error
    ok = raw.copy(); ok["TotalCharges"] = ok["TotalCharges"].astype(object); ok.loc[0, "TotalCharges"] = "n/a?"
    assert len(score(saved, ok)) == 50


def _run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, cwd=kw.get("cwd"), timeout=120)


def test_score_command_end_to_end(saved, telco, tmp_path, capsys):
    raw = telco[2].iloc[:100].drop(columns=["Churn"])
    data = tmp_path / "new.csv"
    raw.to_csv(data, index=False)
    out = tmp_path / "out" / "scores.csv"
    r = _run([str(Path(sys.executable).parent / "insight-nb"), "score", str(saved), str(data), "--out", str(out)])
    assert r.returncode == 0, r.stderr
    assert "scored 100 rows" in r.stdout
    res = pd.read_csv(out)
    assert list(res.columns[:6]) == ["customerID", "predicted", "p_No", "p_Yes", "rank", "reason_1"] and len(res) == 100
    assert sorted(p.name for p in out.parent.iterdir()) == [MARKER, "scores.csv"]  # no temporary file left
    assert json.loads((out.parent / MARKER).read_text())["files"] == {"scores.csv": sha256_file(out)}
    # errors (in-process through the same registry): one clear line on stderr, exit code 2, earlier output untouched
    from insight_nb.cli import main
    raw.drop(columns=["tenure"]).to_csv(data, index=False)
    before = out.read_bytes()
    assert main(["score", str(saved), str(data), "--out", str(out)]) == 2
    assert "tenure" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["score", str(tmp_path / "nomodel"), str(data), "--out", str(out)]) == 2
    assert "no model folder" in capsys.readouterr().err


def test_insight_nb_score_console_command(saved, telco, tmp_path):
    exe = VENV_BIN / "insight-nb"
    if not exe.exists(): pytest.skip("the insight-nb console script is not installed in this environment")
    helptext = _run([str(exe), "--help"]).stdout
    if " score" not in helptext and "score," not in helptext and ",score" not in helptext:
        pytest.skip("insight_nb.cli.main does not import insight_nb.artifact yet, so `insight-nb score` is not registered")
    data = tmp_path / "new.csv"
    telco[2].iloc[:40].to_csv(data, index=False)
    out = tmp_path / "scores.csv"
    r = _run([str(exe), "score", str(saved), str(data), "--out", str(out)])
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out)) == 40
