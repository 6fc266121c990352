"""Integration tests for insight_nb.learner and insight_nb.callbacks (the notebooks hold the unit tests)."""
import json
import os
import threading

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from insight_nb.callbacks import EarlyStopping, FunctionCallback, History, LRSchedule, ProgressCallback, SaveBest
from insight_nb.core import InsightError, InsightWarning
from insight_nb.learner import (EVENTS, Callback, CancelEpochException, CancelFitException, Learner, class_weights,
                                set_seed)

torch.set_num_threads(1)


def data(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] - x[:, 1] + 0.3 * torch.randn(n, generator=g) > 0).long()
    return x, y


def dls(bs=32, shuffle=True, n=256):
    x, y = data(n)
    k = n * 3 // 4
    return (DataLoader(TensorDataset(x[:k], y[:k]), batch_size=bs, shuffle=shuffle),
            DataLoader(TensorDataset(x[k:], y[k:]), batch_size=bs))


def mlp(seed=0, dropout=0.0):
    set_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 2))


def learner(cbs=(), seed=0, dropout=0.2, bs=32, shuffle=True, **kw):
    kw.setdefault("lr", 0.01)
    return Learner(mlp(seed, dropout), *dls(bs, shuffle), cbs=cbs, seed=seed, device="cpu", **kw)


def rows(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def acc(y, p):
    return float((p.argmax(1) == y).mean())


# --- determinism and resume -------------------------------------------------------------------------

def test_same_seed_same_history_and_predictions():
    a = learner(metrics={"acc": acc}).fit(3)
    b = learner(metrics={"acc": acc}).fit(3)
    assert rows(a.history) == rows(b.history)
    np.testing.assert_array_equal(a.get_preds()[0], b.get_preds()[0])
    c = learner(seed=1, metrics={"acc": acc}).fit(3)
    assert rows(c.history) != rows(a.history)


def test_resume_equals_uninterrupted_run_exactly(tmp_path):
    "fit(4) == fit(2) + save + fit(4, resume_from): bit-exact on CPU (weights, optimizer state, history)."
    full = learner(metrics={"acc": acc}).fit(4)
    half = learner(metrics={"acc": acc}).fit(2)
    ck = half.save(tmp_path / "e2.ckpt")
    resumed = learner(metrics={"acc": acc}).fit(4, resume_from=ck)
    assert same_weights(full.model, resumed.model)
    assert rows(full.history) == rows(resumed.history)
    assert [r["epoch"] for r in resumed.history] == [0, 1, 2, 3]


def test_resume_one_cycle_after_interrupt(tmp_path):
    "An interrupted one-cycle run resumed from its epoch-2 checkpoint continues the same LR curve exactly."
    full = learner(cbs=[LRSchedule("one_cycle")]).fit(4)
    ck = tmp_path / "mid.ckpt"

    class SaveThenInterrupt(Callback):
        order = 100
        def after_epoch(self):
            if self.learn.epoch == 1: self.learn.save(ck); raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        learner(cbs=[LRSchedule("one_cycle"), SaveThenInterrupt()]).fit(4)
    resumed = learner(cbs=[LRSchedule("one_cycle")]).fit(4, resume_from=ck)
    assert same_weights(full.model, resumed.model)
    assert rows(full.history) == rows(resumed.history)


def test_resume_when_already_done_warns(tmp_path):
    ck = learner().fit(2).save(tmp_path / "done.ckpt")
    with pytest.warns(InsightWarning, match="nothing to train"):
        learn = learner().fit(2, resume_from=ck)
    assert len(learn.history) == 2


# --- cancel, KeyboardInterrupt, checkpoints ----------------------------------------------------------

def test_cancel_from_another_thread_stops_within_one_batch():
    reached, done_cancel = threading.Event(), threading.Event()
    batches = []

    class Gate(Callback):
        def after_batch(self):
            if not self.learn.training: return
            batches.append((self.learn.epoch, self.learn.iter))
            if (self.learn.epoch, self.learn.iter) == (1, 2):
                reached.set(); assert done_cancel.wait(10)

    learn = learner(cbs=[Gate()])

    def canceller():
        assert reached.wait(10); learn.cancel(); done_cancel.set()

    t = threading.Thread(target=canceller); t.start()
    learn.fit(5); t.join()
    assert learn.cancelled and batches[-1] == (1, 2) and len(learn.history) == 1
    learn.fit(1)  # still usable, and the old cancel request does not leak into the next fit
    assert not learn.cancelled and len(learn.history) == 1 and batches[-1] == (0, 5)


def test_cancel_request_before_fit_is_ignored():
    learn = learner()
    learn.cancel()
    learn.fit(1)
    assert not learn.cancelled and len(learn.history) == 1


def test_keyboard_interrupt_keeps_best_checkpoint(tmp_path):
    path = tmp_path / "best.ckpt"

    class Interrupt(Callback):
        def before_batch(self):
            if self.learn.epoch == 2 and self.learn.iter == 1: raise KeyboardInterrupt

    sb = SaveBest(path)
    learn = learner(cbs=[sb, Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        learn.fit(5)
    assert learn.cancelled and path.exists() and sb.best_epoch in (0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.ckpt"]
    ck = torch.load(path, weights_only=True)
    assert ck["epoch"] == sb.best_epoch + 1 and ck["history"][-1]["valid_loss"] == sb.best
    learn.remove_cb(learn.cbs[-1])
    learn.load(path).fit(1)  # usable afterwards
    assert len(learn.history) == 1


def test_interrupt_while_saving_leaves_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "best.ckpt"
    learn = learner().fit(1)
    learn.save(path)
    before = path.read_bytes()
    real_save = torch.save

    def broken_save(obj, f, *a, **k):
        f.write(b"partial garbage")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        learn.save(path)
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["best.ckpt"]
    learner().load(path)


def test_save_best_loads_best_weights_and_survives_cancel(tmp_path):
    sb = SaveBest(tmp_path / "b.ckpt", monitor="acc")
    learn = learner(cbs=[sb, FunctionCallback(after_epoch=lambda l: l.epoch == 2 and l.cancel())], metrics={"acc": acc})
    learn.fit(6)
    assert learn.cancelled and len(learn.history) == 3
    best = max(r["acc"] for r in learn.history)
    assert sb.best == best and learn.validate()["acc"] == best


def test_checkpoint_round_trip_and_weights_only(tmp_path):
    learn = learner().fit(2)
    ck = learn.save(tmp_path / "x.ckpt")
    raw = torch.load(ck, weights_only=True)
    assert set(raw) >= {"model", "opt", "epoch", "signature", "history"} and raw["epoch"] == 2
    json.dumps(raw["history"])
    other = learner(seed=5).load(ck)
    assert same_weights(learn.model, other.model)
    assert other.opt.state_dict()["state"][0]["step"] == learn.opt.state_dict()["state"][0]["step"]
    torch.save(learn.model.state_dict(), tmp_path / "plain.pt")  # a plain state dict loads too
    assert same_weights(learn.model, learner(seed=7).load(tmp_path / "plain.pt", with_opt=False).model)


def test_optimizer_flags_follow_the_loading_learner(tmp_path):
    "A checkpoint from a fused optimizer (CUDA default) resumes with the loader's own implementation."
    fused = lambda groups, lr: torch.optim.AdamW(groups, lr=lr, fused=True)
    ck = learner(opt_func=fused).fit(1).save(tmp_path / "f.ckpt")
    assert torch.load(ck, weights_only=True)["opt"]["param_groups"][0]["fused"] is True
    learn = learner().fit(2, resume_from=ck)
    assert not learn.opt.param_groups[0]["fused"] and len(learn.history) == 2


def test_checkpoint_from_another_model(tmp_path):
    ck = learner().save(tmp_path / "a.ckpt")
    wide = Learner(nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 2)), *dls(), device="cpu")
    with pytest.raises(InsightError, match=r"shape mismatch: 0\.weight \(checkpoint \[16, 4\], model \[32, 4\]\)"):
        wide.load(ck)
    renamed = Learner(nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)), *dls(), device="cpu")
    with pytest.raises(InsightError, match="missing from checkpoint: 2.weight, 2.bias; not in model: 3.weight, 3.bias"):
        renamed.load(ck)
    with pytest.raises(InsightError, match="checkpoint not found"):
        renamed.load(tmp_path / "nope.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(InsightError, match="cannot read the checkpoint"):
        renamed.load(tmp_path / "junk.ckpt")


def test_arbitrary_pickles_are_refused(tmp_path):
    import pickle
    path = tmp_path / "evil.ckpt"
    with open(path, "wb") as f: pickle.dump({"model": {}, "x": EarlyStopping()}, f, protocol=2)
    with pytest.raises(InsightError, match="cannot read the checkpoint"):
        learner().load(path)


# --- bad input ---------------------------------------------------------------------------------------

def test_nan_in_inputs():
    x, y = data(64)
    x[5, 2] = float("nan")
    dl = DataLoader(TensorDataset(x, y), batch_size=16)
    with pytest.raises(InsightError, match=r"train batch 0: input 'x' contains 1 NaN/inf value\(s\) in columns \[2\]"):
        Learner(mlp(), dl, device="cpu").fit(1)
    xd = [({"num": a, "cat": torch.tensor(1)}, b) for a, b in zip(x, y)]
    with pytest.raises(InsightError, match="input 'num'"):
        Learner(nn.Linear(4, 2), DataLoader(xd, batch_size=16), device="cpu").fit(1)


def test_nan_loss_names_epoch_and_batch():
    x, _ = data(64)
    y = x[:, 0].clone()
    y[40] = float("nan")  # batch 2 with batch_size 16
    dl = DataLoader(TensorDataset(x, y), batch_size=16)
    with pytest.raises(InsightError, match="loss became NaN at epoch 0 batch 2"):
        Learner(nn.Linear(4, 1), dl, device="cpu").fit(2)


def test_empty_train_dl():
    x, y = data(8)
    with pytest.raises(InsightError, match="train_dl yields no batches"):
        Learner(mlp(), DataLoader(TensorDataset(x[:0], y[:0]), batch_size=4), device="cpu").fit(1)
    with pytest.raises(InsightError, match="train_dl yields no batches"):
        Learner(mlp(), DataLoader(TensorDataset(x, y), batch_size=16, drop_last=True), device="cpu").fit(1)


def test_bad_arguments():
    with pytest.raises(InsightError, match="unknown optimizer"): learner(opt_func="adamm")
    with pytest.raises(InsightError, match="unsupported amp"): learner(amp="fp16")
    with pytest.raises(InsightError, match="grad_accum"): learner(grad_accum=0)
    with pytest.raises(InsightError, match="needs a validation set"):
        Learner(mlp(), dls()[0], device="cpu", cbs=[EarlyStopping()]).fit(1)
    with pytest.raises(InsightError, match="no data loader to evaluate"):
        Learner(mlp(), dls()[0], device="cpu").validate()
    with pytest.raises(InsightError, match="unknown event"): FunctionCallback(after_everything=print)


# --- loop mechanics ----------------------------------------------------------------------------------

def test_event_order_for_one_epoch():
    events = []
    cb = FunctionCallback(**{e: (lambda e: lambda l: events.append(e))(e) for e in EVENTS})
    x, y = data(40)
    learn = Learner(mlp(), DataLoader(TensorDataset(x[:32], y[:32]), batch_size=16),
                    DataLoader(TensorDataset(x[32:], y[32:]), batch_size=16), cbs=[cb], device="cpu")
    learn.fit(1)
    batch = ["before_batch", "after_pred", "after_loss", "before_step", "after_step", "after_batch"]
    vbatch = ["before_batch", "after_pred", "after_loss", "after_batch"]
    assert events == (["before_fit", "before_epoch", "before_train", *batch, *batch, "after_train",
                       "before_validate", *vbatch, "after_validate", "after_epoch", "after_fit", "cleanup_fit"])


def test_cancel_epoch_skips_validation():
    class SkipFirst(Callback):
        def after_train(self):
            if self.learn.epoch == 0: raise CancelEpochException
    learn = learner(cbs=[SkipFirst()], metrics={"acc": acc}).fit(2)
    assert learn.history[0]["valid_loss"] is None and learn.history[0]["acc"] is None
    assert learn.history[1]["valid_loss"] is not None


def test_cancel_fit_exception_runs_after_cancel_fit():
    seen = []
    learn = learner(cbs=[FunctionCallback(after_batch=lambda l: l.iter == 1 and (_ for _ in ()).throw(CancelFitException()),
                                          after_cancel_fit=lambda l: seen.append("cancel"), after_fit=lambda l: seen.append("after"))])
    learn.fit(3)
    assert seen == ["cancel", "after"] and learn.history == [] and not learn.cancelled


def test_grad_accum_matches_bigger_batch():
    def run(bs, accum):
        learn = Learner(mlp(dropout=0.0), dls(bs, shuffle=False)[0], opt_func="sgd", lr=0.1, weight_decay=0.0,
                        grad_accum=accum, device="cpu")
        return learn.fit(2).model
    a, b = run(32, 1), run(16, 2)
    for pa, pb in zip(a.parameters(), b.parameters()): torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_clip_grad_bounds_the_gradient_norm():
    norms = []
    def after_step(l):
        norms.append(torch.norm(torch.stack([p.grad.norm() for p in l.model.parameters()])).item())
    learner(clip_grad=1e-3, lr=0.1, cbs=[FunctionCallback(after_step=after_step)]).fit(1)
    assert max(norms) <= 1e-3 * 1.001


def test_metrics_use_whole_validation_set_and_failures_warn():
    sizes = []
    def size(y, p): sizes.append(len(y)); return 0.0
    def boom(y, p): raise ValueError("only one class")
    learn = learner(metrics={"acc": acc, "size": size, "boom": boom})
    with pytest.warns(InsightWarning, match="metric 'boom' failed"):
        learn.fit(1)
    assert sizes == [64] and np.isnan(learn.history[0]["boom"])
    p, y = learn.get_preds()
    assert learn.history[0]["acc"] == acc(y, p)


def test_binary_single_output_and_class_weights():
    x, y = data(128)
    dl = DataLoader(TensorDataset(x, y), batch_size=32)
    one = Learner(nn.Linear(4, 1), dl, dl, device="cpu", lr=0.05).fit(2)
    p, t = one.get_preds()
    assert p.shape == (128,) and ((p >= 0) & (p <= 1)).all() and t.dtype == np.int64
    w = class_weights(y[:100].numpy())
    weighted = Learner(nn.Linear(4, 2), dl, dl, loss_func=nn.CrossEntropyLoss(weight=w), device="cpu").fit(1)
    assert weighted.get_preds()[0].shape == (128, 2)


def test_tuple_inputs_and_hf_style_outputs():
    class Out:
        def __init__(self, logits): self.logits = logits
    class TwoInputs(nn.Module):
        def __init__(self): super().__init__(); self.a, self.b = nn.Linear(2, 2), nn.Embedding(3, 2)
        def forward(self, num, cat): return Out(self.a(num) + self.b(cat))
    x, y = data(64)
    items = [((a[:2], torch.tensor(i % 3)), b) for i, (a, b) in enumerate(zip(x, y))]
    dl = DataLoader(items, batch_size=16)
    learn = Learner(TwoInputs(), dl, dl, device="cpu").fit(1)
    assert learn.get_preds()[0].shape == (64, 2)


def test_amp_bf16_on_cpu_when_forced():
    learn = learner(amp=True).fit(1)
    assert learn.amp == torch.bfloat16 and np.isfinite(learn.history[0]["train_loss"])
    assert learner().amp is None  # "auto" is fp32 on CPU


# --- callbacks -----------------------------------------------------------------------------------------

def test_early_stopping_replays_history_on_resume(tmp_path):
    ck = learner(metrics={"c": lambda y, p: 1.0}).fit(2).save(tmp_path / "c.ckpt")
    es = EarlyStopping("c", patience=2)
    learn = learner(metrics={"c": lambda y, p: 1.0}, cbs=[es]).fit(10, resume_from=ck)
    assert es.best_epoch == 0 and es.stopped_epoch == 2 and len(learn.history) == 3


def test_progress_lines_in_logs(capsys):
    learner(cbs=[ProgressCallback()]).fit(3)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and err[2].startswith("epoch 3/3")


def test_history_result_object():
    learn = learner(metrics={"acc": acc}).fit(2)
    h = History(learn)
    assert h.best("acc")["acc"] == max(r["acc"] for r in learn.history)
    json.dumps(h.to_dict())
    assert "<table" in h._repr_html_() and list(h.to_frame().index) == [0, 1]


def test_fit_cbs_are_removed_and_lr_restored():
    learn = learner()
    learn.fit(1, cbs=[LRSchedule("cosine"), ProgressCallback(mode="off")], lr=0.02)
    assert [type(c).__name__ for c in learn.cbs] == ["Recorder"]
    assert learn.lr == 0.02 and all(g["lr"] == 0.02 for g in learn.opt.param_groups)
