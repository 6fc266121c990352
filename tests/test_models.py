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


# ---- TorchTabularRegressor: the classifier's settings and training, a numeric target

def regression_table(n=1000, seed=0, log=False):
    "y = 3*x1 - 2*x2 + a category effect + noise (plus 50, so units matter); log=True: a lognormal target."
    rng = np.random.default_rng(seed)
    levels = [f"g{i}" for i in range(8)]
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "g": rng.choice(levels, n)})
    lin = 3 * X.x1 - 2 * X.x2 + X.g.map(dict(zip(levels, np.linspace(-2, 2, 8)))) + rng.normal(size=n)
    return X, pd.Series(np.exp(0.2 * lin) * 100 if log else 50 + lin, name="y")


def _ridge_r2(X, y, tr, te):
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    ridge = make_pipeline(make_column_transformer((StandardScaler(), ["x1", "x2"]), (OneHotEncoder(), ["g"])), Ridge(alpha=1.0))
    return r2_score(y.iloc[te], ridge.fit(X.iloc[tr], y.iloc[tr]).predict(X.iloc[te]))


@pytest.mark.parametrize("model", ["mlp", "logreg"])
def test_regressor_matches_ridge_in_the_targets_units(model):
    from insight_nb.models import TorchTabularRegressor
    X, y = regression_table()
    tr, te = np.arange(800), np.arange(800, 1000)
    reg = TorchTabularRegressor(model=model).fit(X.iloc[tr], y.iloc[tr])
    r2, r2_ridge = reg.score(X.iloc[te], y.iloc[te]), _ridge_r2(X, y, tr, te)
    assert r2 >= 0.9 and abs(r2 - r2_ridge) < 0.05, (r2, r2_ridge)
    pred = reg.predict(X.iloc[te])
    assert pred.dtype == np.float64 and pred.shape == (200,)
    assert abs(pred.mean() - y.iloc[te].mean()) < 0.1 * y.iloc[te].std()
    assert reg.mean_ == pytest.approx(y.iloc[tr].mean()) and reg.std_ == pytest.approx(y.iloc[tr].std(ddof=0))
    assert reg.log_target_ is False and reg.architecture_["n_classes"] == 1
    assert {"train_loss", "valid_loss", "r2"} <= set(reg.history_[0]) and reg.n_valid_ == 120


def test_regressor_shares_the_classifiers_settings_and_clones():
    from sklearn.base import clone
    from insight_nb.models import TorchTabularRegressor
    c, r = TorchTabularClassifier().get_params(), TorchTabularRegressor().get_params()
    assert {k: v for k, v in c.items() if k != "class_weight"} == {k: v for k, v in r.items() if k != "log_target"}
    assert r["log_target"] is False
    est = TorchTabularRegressor(hidden=(16,), epochs=3, log_target="auto")
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()
    assert set(vars(TorchTabularRegressor())) == set(r)                        # nothing learned before fit
    assert "log_target='auto'" in repr(est) and "epochs=3" in repr(est)
    X, y = regression_table(300)
    fitted = clone(est).fit(X, y)
    learned = set(vars(fitted)) - set(r)
    assert {"mean_", "std_", "log_target_", "module_", "features_", "history_", "best_epoch_", "n_train_"} <= learned
    assert all(k.endswith("_") for k in learned if not k.startswith("_")), learned
    assert not hasattr(clone(fitted), "module_")


def test_regressor_early_stopping_and_explicit_valid():
    from insight_nb.models import TorchTabularRegressor
    X, y = regression_table()
    reg = TorchTabularRegressor(epochs=100, early_stopping=2, lr=3e-2, dropout=0.0, weight_decay=0.0, hidden=(128, 64)).fit(
        X.iloc[:700], y.iloc[:700], valid=(X.iloc[700:850], y.iloc[700:850]))
    losses = [r["valid_loss"] for r in reg.history_]
    assert len(losses) < 100 and reg.best_epoch_ == int(np.argmin(losses))
    assert reg.learner_.validate()["valid_loss"] == pytest.approx(min(losses), rel=1e-5)
    assert (reg.n_train_, reg.n_valid_) == (700, 150)


def test_regressor_log_target():
    from insight_nb.models import TorchTabularRegressor, use_log_target
    X, y = regression_table(log=True)
    tr, te = np.arange(800), np.arange(800, 1000)
    reg = TorchTabularRegressor(log_target="auto").fit(X.iloc[tr], y.iloc[tr])
    assert reg.log_target_ is True and reg.mean_ == pytest.approx(np.log1p(y.iloc[tr]).mean())
    pred = reg.predict(X.iloc[te])
    assert (pred > 0).all() and reg.score(X.iloc[te], y.iloc[te]) > 0.8
    assert use_log_target(regression_table()[1], "auto") is False          # symmetric target: no log
    assert use_log_target(np.r_[0.0, y], "auto") is True                   # a zero is fine for log1p
    with pytest.raises(InsightError, match="negative values"): TorchTabularRegressor(log_target=True, epochs=1).fit(X, y - 200)


def test_regressor_deterministic_and_resumable():
    from insight_nb.models import TorchTabularRegressor
    X, y = regression_table(400)
    kw = dict(hidden=(16, 8), epochs=4, seed=2, early_stopping=10, device="cpu")
    full = TorchTabularRegressor(**kw).fit(X, y)
    np.testing.assert_array_equal(full.predict(X), TorchTabularRegressor(**kw).fit(X, y).predict(X))
    part = TorchTabularRegressor(**kw, callbacks=(_CancelAt(2, 1),)).fit(X, y)
    assert part.learner_.cancelled and part.epochs_done_ == 2 and part.resumable
    part.set_params(callbacks=()).fit(X, y, resume=True)
    assert _strip(part.history_) == _strip(full.history_) and _same_weights(part, full)
    with pytest.raises(InsightError, match="settings changed.*log_target"): part.set_params(log_target=True).fit(X, y, resume=True)


def test_regressor_errors():
    from insight_nb.models import TorchTabularRegressor
    X, y = regression_table(200)
    with pytest.raises(InsightError, match="not fitted"): TorchTabularRegressor().predict(X)
    with pytest.raises(InsightError, match="log_target='log' must be true, false or 'auto'"): TorchTabularRegressor(log_target="log").fit(X, y)
    with pytest.raises(InsightError, match="epochs=0"): TorchTabularRegressor(epochs=0).fit(X, y)
    with pytest.raises(InsightError, match="not numbers"): TorchTabularRegressor(epochs=1).fit(X, y.astype(object).where(y > 50, "low"))
    with pytest.raises(InsightError, match="missing"): TorchTabularRegressor(epochs=1).fit(X, y.where(y > 45))
    with pytest.raises(InsightError, match="distinct value"): TorchTabularRegressor(epochs=1).fit(X, pd.Series(np.ones(len(X))))
    with pytest.raises(InsightError, match="rows"): TorchTabularRegressor(epochs=1).fit(X, y.iloc[:10])
    with pytest.raises(InsightError, match="DataFrame"): TorchTabularRegressor().fit(X.to_numpy(), y)
    with pytest.raises(TypeError, match="class_weight"): TorchTabularRegressor(class_weight="balanced")
    fitted = TorchTabularRegressor(epochs=1).fit(X, y)
    with pytest.raises(InsightError, match="DataFrame"): fitted.predict(X.to_numpy())
    assert fitted.predict(X.iloc[:0]).shape == (0,)
