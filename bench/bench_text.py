"""Text benchmarks (issue "Text insight with transformers"): banking77 and airline tweets with the fast
embedding path and fine-tuned MiniLM, int8 vs fp32 CPU inference, and training throughput with and
without length bucketing. `text_gpu` compares insight_nb's per-epoch time with HF Trainer's on a GPU.

Protocols: banking77 official train/test split (bundled demo data); airline tweets deduplicated on text,
stratified 80/20 split, seed 0 (non-commercial licence: read from shared/data, never bundled).
Run one part alone with `python bench/bench_text.py PART` (parts: see PARTS below).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

if __name__ == "__main__": sys.path.insert(0, str(Path(__file__).parent))
from run import OUT, ROOT, bench, table

SHARED = Path(os.environ.get("INSIGHT_NB_SHARED_DATA", ROOT.parent / "shared" / "data"))
MODELS = OUT / "text_models"      # fine-tuned models, reused by the int8 part
INT8_ROUNDS = int(os.environ.get("BENCH_TEXT_INT8_ROUNDS", 5))
# torch threads: all cores by default. On a machine shared with other jobs, BENCH_TEXT_THREADS=1 can be several times
# faster (OpenMP threads spin-wait when cores are oversubscribed).
THREADS = int(os.environ.get("BENCH_TEXT_THREADS", os.cpu_count() or 1))

# Fine-tuning settings (chosen before looking at test results; no selection on test). TextClassifier's defaults pick
# mean pooling + a linear-probe head for the bundled MiniLM (a sentence-transformers model); `ft_banking77_cls` runs the
# model's own [CLS] head (AutoModelForSequenceClassification) with the same settings, for comparison.
BANKING_FT = dict(max_length=64, epochs=int(os.environ.get("BENCH_TEXT_BANKING_EPOCHS", 5)), lr=5e-5, batch_size=32, warmup=0.1, weight_decay=0.01, seed=0)
AIRLINE_FT = dict(max_length=64, epochs=4, lr=5e-5, batch_size=32, warmup=0.1, weight_decay=0.01, seed=0)


def banking77():
    from insight_nb.data import load_demo
    tr, te = load_demo("banking77", "train"), load_demo("banking77", "test")
    return (tr.text.tolist(), tr.category.to_numpy()), (te.text.tolist(), te.category.to_numpy())


def airline():
    "Deduplicated on text, stratified 80/20 split, seed 0."
    import pandas as pd
    from sklearn.model_selection import train_test_split
    df = pd.read_csv(SHARED / "airline_sentiment" / "tweets.csv").drop_duplicates(subset="text").reset_index(drop=True)
    tr, te = train_test_split(np.arange(len(df)), test_size=0.2, stratify=df.airline_sentiment, random_state=0)
    pick = lambda rows: (df.text.iloc[rows].tolist(), df.airline_sentiment.iloc[rows].to_numpy())
    return pick(tr), pick(te)


def _scores(y, proba, classes):
    from insight_nb.evaluate import multiclass_metrics
    m = multiclass_metrics(y, proba, labels=classes)
    return dict(accuracy=m["accuracy"], f1_macro=m["f1_macro"])


def _quiet():
    warnings.simplefilter("ignore")


def fast_path(name, data, n_repeat_warm=1) -> dict:
    "Embeddings (cold cache in a fresh folder, then warm) + LogisticRegression(C=10), end to end."
    from insight_nb.embeddings import EmbeddingClassifier
    (xtr, ytr), (xte, yte) = data
    cache = Path(tempfile.mkdtemp(prefix="insight_nb_emb_bench_"))
    try:
        res = {}
        for run in ("cold", "warm"):
            t0 = time.perf_counter()
            clf = EmbeddingClassifier(cache_dir=cache).fit(xtr, ytr)
            p = clf.predict_proba(xte)
            res[run] = dict(seconds=time.perf_counter() - t0, train_embed_seconds=clf.embed_seconds_,
                            head_fit_seconds=clf.fit_seconds_ - clf.embed_seconds_, **_scores(yte, p, clf.classes_))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    res.update(name=name, n_train=len(xtr), n_test=len(xte))
    return res


def finetune(name, data, params, save_to=None, curve=True) -> dict:
    "Fine-tune MiniLM with TextClassifier on the train part; test metrics per epoch are recorded for the curve only."
    from insight_nb.learner import Callback
    from insight_nb.text import TextClassifier
    (xtr, ytr), (xte, yte) = data
    rows = []

    class TestCurve(Callback):
        order = 100
        def after_epoch(self):
            if not curve: return
            t0 = time.perf_counter()
            p = self.clf.predict_proba(xte)
            row = dict(epoch=self.learn.epoch + 1, train_loss=self.learn.history[-1]["train_loss"], **_scores(yte, p, self.clf.classes_),
                       eval_s=time.perf_counter() - t0)
            rows.append(row)
            if save_to: self.clf.save(save_to)   # the latest epoch's model (the int8 part can start from it)
            print(f"  [{name}] epoch {row['epoch']}: train_loss {row['train_loss']:.4f}  test acc {row['accuracy']:.4f}  "
                  f"macro-F1 {row['f1_macro']:.4f}", flush=True)

    cb = TestCurve()
    clf = TextClassifier(**params, callbacks=[cb], progress=False)
    cb.clf = clf   # predict_proba works during fit: model_, tokenizer_ and max_length_ are set before training
    t0 = time.perf_counter()
    clf.fit(xtr, ytr)
    fit_s = time.perf_counter() - t0
    p = clf.predict_proba(xte)
    final = _scores(yte, p, clf.classes_)
    eval_s = sum(r["eval_s"] for r in rows)
    tp = clf.throughput_.rows
    out = dict(name=name, params=params, n_train=len(xtr), n_test=len(xte), fit_seconds_incl_curve=fit_s, curve_eval_seconds=eval_s,
               pooling=clf.pooling_, probe=clf.probe_, torch_threads=__import__("torch").get_num_threads(),
               train_samples_per_s=clf.train_samples_per_s_, epoch_train_seconds=[r["train_seconds"] for r in tp],
               curve=rows, **final)
    if save_to:
        clf.save(save_to); out["saved_to"] = str(save_to)
    return out


@bench("text")
def bench_text(parts=None) -> dict:
    "Fast path and fine-tuned MiniLM on banking77 and airline tweets, int8 vs fp32, bucketing vs not."
    _quiet()
    import torch
    torch.set_num_threads(THREADS)
    parts = parts or list(PARTS)
    res = {}
    for p in parts:
        print(f"-- {p}", flush=True)
        t0 = time.perf_counter()
        res[p] = {**PARTS, **EXTRA_PARTS}[p]()
        res[p]["part_seconds"] = time.perf_counter() - t0
        (OUT / f"text_{p}.json").write_text(json.dumps(res[p], indent=2, default=str))
    return summarize(res)


def part_fast_banking77():
    r = fast_path("banking77", banking77())
    print(table([dict(cache=k, seconds=f"{r[k]['seconds']:.1f}", accuracy=f"{r[k]['accuracy']:.4f}", f1_macro=f"{r[k]['f1_macro']:.4f}") for k in ("cold", "warm")]))
    return r


def part_fast_airline():
    r = fast_path("airline", airline())
    print(table([dict(cache=k, seconds=f"{r[k]['seconds']:.1f}", accuracy=f"{r[k]['accuracy']:.4f}", f1_macro=f"{r[k]['f1_macro']:.4f}") for k in ("cold", "warm")]))
    return r


def part_ft_banking77():
    r = finetune("banking77", banking77(), BANKING_FT, MODELS / "banking77")
    print(f"banking77 fine-tuned: acc {r['accuracy']:.4f}  macro-F1 {r['f1_macro']:.4f}  {r['train_samples_per_s']:.0f} samples/s")
    return r


def part_ft_banking77_cls():
    r = finetune("banking77 [CLS] head", banking77(), {**BANKING_FT, "pooling": "cls"})
    print(f"banking77 fine-tuned, [CLS] head: acc {r['accuracy']:.4f}  macro-F1 {r['f1_macro']:.4f}  {r['train_samples_per_s']:.0f} samples/s")
    return r


def part_ft_airline():
    r = finetune("airline", airline(), AIRLINE_FT, MODELS / "airline")
    print(f"airline fine-tuned: acc {r['accuracy']:.4f}  macro-F1 {r['f1_macro']:.4f}  {r['train_samples_per_s']:.0f} samples/s")
    return r


def part_int8(model_dir=None, n=int(os.environ.get("BENCH_TEXT_INT8_N", 0)) or None):
    "int8 dynamic quantization of the fine-tuned banking77 model: accuracy and throughput vs fp32 on the test set."
    from insight_nb.text import TextClassifier
    from insight_nb.text_insight import inference_speed, quantize
    model_dir = Path(model_dir or MODELS / "banking77")
    if not model_dir.exists():
        return dict(skipped=f"{model_dir} not found: run the ft_banking77 part first")
    _, (xte, yte) = banking77()
    if n: xte, yte = xte[:n], yte[:n]
    fp32 = TextClassifier.load(model_dir)
    q = quantize(fp32)
    models = {"fp32": fp32, "int8": q}
    # Interleaved rounds (fp32 int8, int8 fp32, ...) cancel drift on a noisy machine; the median of each is compared.
    speed = {k: [] for k in models}
    for r in range(INT8_ROUNDS):
        for name in (("fp32", "int8") if r % 2 == 0 else ("int8", "fp32")):
            speed[name].append(inference_speed(models[name], xte, batch_size=64)["texts_per_s"])
    rows = {}
    for name, clf in models.items():
        p = clf.predict_proba(xte)
        rows[name] = dict(texts_per_s=float(np.median(speed[name])), runs=speed[name], **_scores(yte, p, clf.classes_))
    out = dict(rows=rows, speedup=rows["int8"]["texts_per_s"] / rows["fp32"]["texts_per_s"], accuracy_drop=rows["fp32"]["accuracy"] - rows["int8"]["accuracy"],
               model_mb=dict(fp32=_size_mb(fp32.model_), int8=_size_mb(q.model_)), batch_size=64, rounds=INT8_ROUNDS, n=len(xte))
    print(table([dict(model=k, texts_per_s=f"{v['texts_per_s']:.0f}", runs=" ".join(f"{x:.0f}" for x in v["runs"]), accuracy=f"{v['accuracy']:.4f}")
                 for k, v in rows.items()]))
    print(f"int8 speedup {out['speedup']:.2f}x (medians of {INT8_ROUNDS} interleaved rounds), accuracy drop {out['accuracy_drop'] * 100:.2f} points")
    return out


def _size_mb(model):
    import io
    import torch
    buf = io.BytesIO(); torch.save(model.state_dict(), buf)
    return buf.tell() / 2**20


def part_bucketing(n=int(os.environ.get("BENCH_TEXT_BUCKET_N", 2000))):
    "Training samples/s with and without length bucketing: 1 epoch each on the same banking77 and airline rows."
    from insight_nb.text import TextClassifier
    out = {}
    for name, data in (("banking77", banking77()), ("airline", airline())):
        (xtr, ytr), _ = data
        rng = np.random.default_rng(0)
        rows = rng.choice(len(xtr), n, replace=False)
        x, y = [xtr[i] for i in rows], ytr[rows]
        r = {}
        for bucket in (True, False, True, False):
            clf = TextClassifier(max_length=128, epochs=1, batch_size=32, bucket=bucket, seed=0, head_init="random").fit(x, y)
            r.setdefault(str(bucket), []).append(clf.train_samples_per_s_)
        out[name] = dict(bucketed=max(r["True"]), unbucketed=max(r["False"]), runs=r)
        out[name]["ratio"] = out[name]["bucketed"] / out[name]["unbucketed"]
    print(table([dict(data=k, bucketed=f"{v['bucketed']:.0f}", unbucketed=f"{v['unbucketed']:.0f}", ratio=f"{v['ratio']:.2f}x") for k, v in out.items()]))
    return out


PARTS = {"fast_banking77": part_fast_banking77, "fast_airline": part_fast_airline, "int8": part_int8, "bucketing": part_bucketing,
         "ft_airline": part_ft_airline, "ft_banking77": part_ft_banking77}
EXTRA_PARTS = {"ft_banking77_cls": part_ft_banking77_cls}   # run by name only


def summarize(res) -> dict:
    g = lambda *ks: _get(res, ks)
    fb = g("fast_banking77")   # the airline fast path has orientation numbers only, no bar
    tb, ta, q = g("ft_banking77"), g("ft_airline"), g("int8")
    checks = {}
    if fb: checks.update({"banking77 fast path test accuracy >= 0.92": fb["cold"]["accuracy"] >= 0.92,
                          "banking77 fast path end to end < 90 s (cold cache)": fb["cold"]["seconds"] < 90})
    if tb: checks["banking77 fine-tuned test accuracy >= 0.93"] = tb["accuracy"] >= 0.93
    if ta: checks.update({"airline fine-tuned accuracy >= 0.84": ta["accuracy"] >= 0.84, "airline fine-tuned macro-F1 >= 0.78": ta["f1_macro"] >= 0.78})
    if q and "speedup" in q: checks.update({"int8 >= 1.5x fp32 throughput": q["speedup"] >= 1.5, "int8 accuracy within 1 point": q["accuracy_drop"] <= 0.01})
    for k, v in checks.items(): print(f"  {'PASS' if v else 'FAIL'}  {k}")
    return dict(parts=res, checks=checks, **{"pass": all(checks.values())})


def _get(d, ks):
    for k in ks: d = d.get(k, {}) if isinstance(d, dict) else {}
    return d


GPU_CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, torch
sys.path.insert(0, "bench")
from bench_text import banking77, BANKING_FT, _scores
from insight_nb.text import TextClassifier, load_tokenizer, load_classifier
epochs, n, device = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cuda = device == "cuda"
sync = torch.cuda.synchronize if cuda else (lambda: None)
(xtr, ytr), (xte, yte) = banking77()
if n:   # smoke run: a random subset of train, the test texts of the classes it has
    rows = np.random.default_rng(0).permutation(len(xtr))[:n]
    xtr, ytr = [xtr[i] for i in rows], ytr[rows]
    keep = np.flatnonzero(np.isin(yte, ytr))[:n]
    xte, yte = [xte[i] for i in keep], yte[keep]
clf = TextClassifier(**{**BANKING_FT, "epochs": epochs}, device=device).fit(xtr, ytr)
ours = dict(epoch_s=[r["train_seconds"] for r in clf.throughput_.rows], **_scores(yte, clf.predict_proba(xte), clf.classes_),
            probe_s=(clf.probe_ or {}).get("seconds"))
# HF Trainer on the same data, base model, batch size, max_length, schedule, bf16 and length grouping
import transformers
from torch.utils.data import Dataset
classes = list(clf.classes_); y = np.array([classes.index(v) for v in ytr])
tok = load_tokenizer(None)
enc = tok(list(xtr), truncation=True, max_length=BANKING_FT["max_length"])
class DS(Dataset):
    def __len__(self): return len(y)
    def __getitem__(self, i): return {"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i], "labels": int(y[i])}
model = load_classifier(None, len(classes))
times = []
class T(transformers.TrainerCallback):
    def on_epoch_begin(self, *a, **k): sync(); self.t0 = time.perf_counter()
    def on_epoch_end(self, *a, **k): sync(); times.append(time.perf_counter() - self.t0)
import inspect
known = inspect.signature(transformers.TrainingArguments.__init__).parameters   # transformers 4.x and 5.x spell two of these differently
version_kw = ({"warmup_ratio": BANKING_FT["warmup"]} if "warmup_ratio" in known else {"warmup_steps": float(BANKING_FT["warmup"])}) | (
    {"group_by_length": True} if "group_by_length" in known else {"train_sampling_strategy": "group_by_length"})
args = transformers.TrainingArguments("/tmp/hf_trainer_bench", per_device_train_batch_size=BANKING_FT["batch_size"], num_train_epochs=epochs,
    learning_rate=BANKING_FT["lr"], weight_decay=BANKING_FT["weight_decay"], bf16=cuda, use_cpu=not cuda,
    lr_scheduler_type="cosine", save_strategy="no", report_to=[], logging_strategy="no", dataloader_num_workers=2 if cuda else 0,
    optim="adamw_torch_fused", seed=0, **version_kw)
trainer = transformers.Trainer(model=model, args=args, train_dataset=DS(), data_collator=transformers.DataCollatorWithPadding(tok), callbacks=[T()])
trainer.train()
model.eval()
with torch.inference_mode():
    te = tok(list(xte), truncation=True, max_length=BANKING_FT["max_length"], padding=True, return_tensors="pt").to(model.device)
    logits = torch.cat([model(**{k: v[i:i + 256] for k, v in te.items()}).logits.float().cpu() for i in range(0, len(xte), 256)])
hf = dict(epoch_s=times, **_scores(np.array([classes.index(v) for v in yte]), logits.softmax(-1).numpy(), list(range(len(classes)))))
print(json.dumps(dict(insight_nb=ours, hf_trainer=hf, device=torch.cuda.get_device_name() if cuda else "cpu", epochs=epochs, n_train=len(xtr))))
"""


@bench("text_gpu")
def bench_text_gpu(epochs: int = 5) -> dict:
    """GPU: insight_nb's per-epoch train time and test accuracy next to HF Trainer's (same data, base model, batch,
    max_length, bf16, length grouping). Needs CUDA and `accelerate` (HF Trainer's requirement). Without CUDA,
    BENCH_TEXT_GPU_SMOKE=1 runs the same script on CPU on 256 texts for 1 epoch, to check it works (no numbers to keep)."""
    import subprocess
    import torch
    smoke = not torch.cuda.is_available()
    if smoke and os.environ.get("BENCH_TEXT_GPU_SMOKE") != "1":
        print("skipped: no CUDA device (BENCH_TEXT_GPU_SMOKE=1 checks the script on CPU)"); return dict(skipped="no CUDA device")
    args = ["1", "256", "cpu"] if smoke else [str(epochs), "0", "cuda"]
    r = subprocess.run([sys.executable, "-c", GPU_CHILD, *args], capture_output=True, text=True, cwd=ROOT)
    if r.returncode: raise RuntimeError(r.stderr[-3000:])
    res = json.loads(r.stdout.strip().splitlines()[-1])
    ours, hf = res["insight_nb"], res["hf_trainer"]
    rows = [dict(epoch=i + 1, insight_nb_s=f"{a:.2f}", hf_trainer_s=f"{b:.2f}", ratio=f"{a / b:.2f}") for i, (a, b) in enumerate(zip(ours["epoch_s"], hf["epoch_s"]))]
    print(f"device: {res['device']}{'  (smoke run on CPU: not a measurement)' if smoke else ''}"); print(table(rows))
    print(f"test accuracy: insight_nb {ours['accuracy']:.4f}, HF Trainer {hf['accuracy']:.4f}")
    if not smoke:
        med = lambda v: float(np.median(v[1:] if len(v) > 1 else v))   # the first epoch carries warm-up (kernels, allocator)
        res["checks"] = {"epoch time <= 1/3 of HF Trainer's": med(ours["epoch_s"]) <= med(hf["epoch_s"]) / 3,
                         "insight_nb accuracy >= 0.92": ours["accuracy"] >= 0.92}
        for k, v in res["checks"].items(): print(f"  {'PASS' if v else 'FAIL'}  {k}")
    res["smoke"] = smoke
    return res


if __name__ == "__main__":
    sys.modules.setdefault("bench_text", sys.modules[__name__])
    _quiet()
    OUT.mkdir(parents=True, exist_ok=True)
    names = sys.argv[1:] or list(PARTS)
    res = bench_text(names)
    (OUT / f"text_{'_'.join(names)}.json").write_text(json.dumps(res, indent=2, default=str))
