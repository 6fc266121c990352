"""Torch tabular models and TorchTabularClassifier: determinism, class weights, early stopping, errors."""
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from insight_nb.core import InsightError
from insight_nb.models import (ArrayLoader, LogReg, TabularMLP, TorchTabularClassifier, module_from_architecture,
                               resolve_class_weight, roc_auc)


@pytest.fixture(scope="module")
def telco(telco_ds):
    ds = telco_ds
    sp = ds.split(valid=0.15, test=0.2, seed=0)
    return ds, sp


def small(ds, rows, n=1500):
    idx = rows[:n]
    return ds.X.iloc[idx], ds.y.iloc[idx]


def synthetic(n=600, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    grp = rng.choice([f"g{i}" for i in range(40)], n)
    eff = {f"g{i}": rng.normal() for i in range(40)}
    score = np.c_[x1, x2, np.vectorize(eff.get)(grp)] @ rng.normal(size=(3, k)) * 2
    y = np.array([f"class_{i}" for i in range(k)], dtype=object)[score.argmax(1)]
    return pd.DataFrame({"x1": x1, "x2": x2, "grp": grp, "kind": rng.choice(["a", "b"], n)}), pd.Series(y)


def test_logreg_is_linear_in_one_hot():
    m = LogReg(2, [3], 2)
    with torch.no_grad():
        m.linear.weight.copy_(torch.tensor([[1.0, 2.0], [0.5, -1.0]]))
        m.embeds[0].weight.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0], [2.0, 3.0]]))
        m.bias.copy_(torch.tensor([0.1, 0.2]))
    x, c = torch.tensor([[1.0, 1.0]]), torch.tensor([[2]])
    np.testing.assert_allclose(m(x, c).detach().numpy(), [[1 + 2 + 2 + 0.1, 0.5 - 1 + 3 + 0.2]], rtol=1e-6)
    assert sum(p.numel() for p in m.parameters()) == 2 * 2 + 3 * 2 + 2


@pytest.mark.parametrize("norm", ["batch", "layer", None])
def test_mlp_shapes_and_architecture_rebuild(norm):
    arch = dict(module="mlp", n_numeric=4, cardinalities=[7, 3], n_classes=3, hidden=[8, 4], dropout=0.1, norm=norm, emb_dim=None, skip=True)
    m = module_from_architecture(arch)
    assert isinstance(m, TabularMLP)
    m.train()
    out = m(torch.randn(5, 4), torch.randint(0, 3, (5, 2)))
    assert out.shape == (5, 3)


def test_array_loader_is_seeded_and_complete():
    xn, xc, y = np.random.rand(1025, 3).astype(np.float32), np.zeros((1025, 1), np.int64), np.arange(1025)
    a = [b[1].tolist() for b in ArrayLoader(xn, xc, y, 256, shuffle=True, seed=1)]
    b = [b[1].tolist() for b in ArrayLoader(xn, xc, y, 256, shuffle=True, seed=1)]
    assert a == b and sorted(sum(a, [])) == list(range(1025))
    assert min(len(x) for x in a) > 1   # no single-row batch (batch norm)
    assert [len(b[1]) for b in ArrayLoader(xn, xc, y, 1000)] == [1000, 25]


def test_fit_predict_telco(telco):
    ds, sp = telco
    X, y = small(ds, sp.train, 2500)
    clf = TorchTabularClassifier(epochs=6).fit(X, y, schema=ds.schema)
    p = clf.predict_proba(ds.X.iloc[sp.test])
    assert p.shape == (len(sp.test), 2) and np.allclose(p.sum(1), 1)
    assert clf.classes_ == ["No", "Yes"] and clf.positive_class_ == "Yes"
    assert roc_auc(ds.y_codes[sp.test], p) > 0.8
    assert set(clf.predict(ds.X.iloc[sp.test[:20]])) <= {"No", "Yes"}
    assert clf.history_ and {"train_loss", "valid_loss", "roc_auc"} <= set(clf.history_[0])
    assert clf.n_valid_ == round(0.15 * 2500) and clf.learner_ is not None and clf.features_.n_numeric_ > 0


def test_deterministic_on_cpu(telco):
    ds, sp = telco
    X, y = small(ds, sp.train, 1200)
    kw = dict(epochs=3, device="cpu")
    p1 = TorchTabularClassifier(**kw).fit(X, y, schema=ds.schema).predict_proba(ds.X.iloc[sp.test[:300]])
    p2 = TorchTabularClassifier(**kw).fit(X, y, schema=ds.schema).predict_proba(ds.X.iloc[sp.test[:300]])
    np.testing.assert_array_equal(p1, p2)
    p3 = TorchTabularClassifier(seed=1, **kw).fit(X, y, schema=ds.schema).predict_proba(ds.X.iloc[sp.test[:300]])
    assert not np.array_equal(p1, p3)


def test_class_weights_change_the_loss(telco):
    ds, sp = telco
    X, y = small(ds, sp.train, 1200)
    codes = ds.y_codes[sp.train[:1200]]
    w = resolve_class_weight("balanced", codes, 2)
    np.testing.assert_allclose(w.numpy(), len(codes) / (2 * np.bincount(codes)), rtol=1e-6)
    logits, target = torch.randn(50, 2), torch.tensor(codes[:50])
    assert not torch.isclose(torch.nn.CrossEntropyLoss(weight=w)(logits, target), torch.nn.CrossEntropyLoss()(logits, target))
    kw = dict(epochs=2, early_stopping=None)
    plain = TorchTabularClassifier(**kw).fit(X, y, schema=ds.schema)
    weighted = TorchTabularClassifier(class_weight="balanced", **kw).fit(X, y, schema=ds.schema)
    assert plain.class_weights_ is None and weighted.class_weights_[1] > 1 > weighted.class_weights_[0]
    assert weighted.history_[0]["train_loss"] != plain.history_[0]["train_loss"]
    # balanced weights raise the predicted share of the minority class
    xt = ds.X.iloc[sp.test]
    assert weighted.predict_proba(xt)[:, 1].mean() > plain.predict_proba(xt)[:, 1].mean() + 0.05
    # "auto": balanced only when the minority share is below 20% (Telco: 26.5% -> none)
    assert resolve_class_weight("auto", codes, 2) is None
    assert resolve_class_weight("auto", np.r_[np.zeros(90, int), np.ones(10, int)], 2) is not None
    assert resolve_class_weight({1: 3.0}, codes, 2).tolist() == [1.0, 3.0]
    with pytest.raises(InsightError, match="class_weight"): resolve_class_weight("heavy", codes, 2)


def test_early_stopping_restores_best_weights(telco):
    ds, sp = telco
    X, y = small(ds, sp.train, 1500)
    clf = TorchTabularClassifier(epochs=40, early_stopping=2, lr=3e-2, dropout=0.0, weight_decay=0.0, hidden=(128, 64)).fit(X, y, schema=ds.schema)
    losses = [r["valid_loss"] for r in clf.history_]
    assert len(losses) < 40                                       # stopped early
    assert clf.best_epoch_ == int(np.argmin(losses))
    assert clf.learner_.validate()["valid_loss"] == pytest.approx(min(losses), rel=1e-5)   # the best epoch's weights


def test_explicit_valid_and_multiclass_logreg():
    X, y = synthetic(1200, 3)
    X, y, Xv, yv = X.iloc[:900], y.iloc[:900], X.iloc[900:], y.iloc[900:]
    for model in ("logreg", "mlp"):
        clf = TorchTabularClassifier(model=model, epochs=15, features=dict(max_onehot=5)).fit(X, y, valid=(Xv, yv))
        assert clf.classes_ == ["class_0", "class_1", "class_2"] and clf.n_valid_ == 300 and clf.n_train_ == 900
        assert clf.features_.categorical_names_ == ["grp"]
        p = clf.predict_proba(Xv)
        assert p.shape == (300, 3)
        assert roc_auc(pd.Categorical(yv, categories=clf.classes_).codes, p) > 0.75
        assert (clf.predict(Xv) == yv.to_numpy()).mean() > 0.6


def test_errors(telco):
    ds, sp = telco
    X, y = small(ds, sp.train, 300)
    with pytest.raises(InsightError, match="not fitted"): TorchTabularClassifier().predict_proba(X)
    with pytest.raises(InsightError, match="model='forest' must be 'mlp' or 'logreg'"): TorchTabularClassifier(model="forest", epochs=1).fit(X, y, schema=ds.schema)
    with pytest.raises(InsightError, match="only one class"): TorchTabularClassifier(epochs=1).fit(X, pd.Series(["No"] * len(X)), schema=ds.schema)
    with pytest.raises(InsightError, match="rows"): TorchTabularClassifier(epochs=1).fit(X, y.iloc[:10], schema=ds.schema)
    with pytest.raises(InsightError, match="not among the training classes"):
        TorchTabularClassifier(epochs=1).fit(X, y, schema=ds.schema, valid=(X.iloc[:5], pd.Series(["Maybe"] * 5)))
    with pytest.raises(InsightError, match="unknown parameter"): TorchTabularClassifier().set_params(colour=1)
    with pytest.raises(InsightError, match="DataFrame"): TorchTabularClassifier().fit(X.to_numpy(), y)
    assert TorchTabularClassifier().set_params(epochs=3).epochs == 3
    assert "epochs=3" in repr(TorchTabularClassifier(epochs=3))


def test_torch_candidates_cross_validate_like_sklearn(telco):
    from insight_nb.compare import cross_validate
    from insight_nb.registry import model_maker
    ds, _ = telco
    rows = np.arange(800)
    r = cross_validate(model_maker("torch_logreg"), ds, rows, cv=3)
    assert len(r["folds"]) == 3 and 0.7 < r["mean"]["roc_auc"] <= 1
    b = cross_validate(model_maker("sk_logreg"), ds, rows, cv=3)
    assert abs(b["mean"]["roc_auc"] - r["mean"]["roc_auc"]) < 0.05


# ---- resume: continue a fitted (stopped) model from its last completed epoch

class _CancelAt:
    "A Learner callback that cancels after batch `it` of epoch `epoch`, like the studio's Stop button."
    def __new__(cls, epoch, it=1):
        from insight_nb.learner import Callback

        class CancelAt(Callback):
            def after_batch(self):
                if self.learn.training and (self.learn.epoch, self.learn.iter) == (epoch, it): self.learn.cancel()
        return CancelAt()


def _strip(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def _same_weights(a, b):
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_after_cancel_continues_the_run_exactly(telco):
    ds, sp = telco
    X, y = small(ds, sp.train, 1500)
    kw = dict(hidden=(32, 16), epochs=6, seed=2, early_stopping=10)      # one_cycle schedule, SaveBest, early stopping on
    full = TorchTabularClassifier(**kw).fit(X, y, schema=ds.schema)
    part = TorchTabularClassifier(**kw, callbacks=(_CancelAt(3, 2),)).fit(X, y, schema=ds.schema)
    assert part.learner_.cancelled and part.epochs_done_ == 3 and part.resumable
    stopped_at = part.history_[-1]["epoch"]
    part.set_params(callbacks=()).fit(X, y, schema=ds.schema, resume=True)
    epochs = [r["epoch"] for r in part.history_]
    assert epochs == list(range(6)) and epochs[stopped_at + 1] == stopped_at + 1
    assert not part.learner_.cancelled
    # the interrupted + resumed run is the uninterrupted run: same history, same best epoch, same weights, same scores
    assert _strip(part.history_) == _strip(full.history_)
    assert part.best_epoch_ == full.best_epoch_
    assert _same_weights(part, full)
    Xt = ds.X.iloc[sp.test[:300]]
    np.testing.assert_array_equal(part.predict_proba(Xt), full.predict_proba(Xt))


def test_fit_two_then_resume_to_four_equals_fit_four():
    X, y = synthetic(500, 2)
    # a constant learning rate: a schedule (one_cycle) depends on the total epochs, so fit(2) would follow another curve
    kw = dict(hidden=(16, 8), seed=1, schedule=None, early_stopping=3)
    four = TorchTabularClassifier(epochs=4, **kw).fit(X, y)
    two = TorchTabularClassifier(epochs=2, **kw).fit(X, y)
    assert [r["epoch"] for r in two.history_] == [0, 1]
    two.set_params(epochs=4).fit(X, y, resume=True)
    assert _strip(two.history_) == _strip(four.history_)          # bit-exact on CPU
    assert two.best_epoch_ == four.best_epoch_ and _same_weights(two, four)
    # resuming a finished run trains nothing more
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        two.fit(X, y, resume=True)
    assert len(two.history_) == 4 and _same_weights(two, four)


def test_resume_with_other_data_or_settings_raises():
    from insight_nb.schema import coerce, infer_schema
    X, y = synthetic(400, 2)
    sch = infer_schema(X)
    X = coerce(X, sch)
    clf = TorchTabularClassifier(hidden=(8,), epochs=2, seed=0, schedule=None).fit(X, y, schema=sch)
    with pytest.raises(InsightError, match="feature set differs"): clf.fit(X.drop(columns="x2"), y, resume=True)
    with pytest.raises(InsightError, match="rows or labels differ"): clf.fit(X.iloc[:300], y.iloc[:300], schema=sch, resume=True)
    with pytest.raises(InsightError, match="rows or labels differ"):
        clf.fit(X, y.sample(frac=1.0, random_state=0).reset_index(drop=True), schema=sch, resume=True)
    with pytest.raises(InsightError, match="schema differs"): clf.fit(X, y, schema=infer_schema(X.iloc[:50]), resume=True)
    with pytest.raises(InsightError, match=r"settings changed.*lr"): clf.set_params(lr=0.5).fit(X, y, schema=sch, resume=True)
    clf.set_params(lr=None)
    assert len(clf.fit(X, y, schema=sch, resume=True).history_) == 2        # the same run: nothing more to train
    # an unfitted model: resume=True is a plain fit (sklearn's warm_start semantics)
    fresh = TorchTabularClassifier(hidden=(8,), epochs=2, seed=0, schedule=None).fit(X, y, schema=sch, resume=True)
    assert _strip(fresh.history_) == _strip(clf.history_)
