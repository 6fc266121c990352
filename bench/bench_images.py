"""Image benchmark (issue 15): the compact CNN trained from scratch on 2 CPU threads.

- MNIST: the official test set (10,000 digits, IDX) split stratified 8,000 / 2,000 with seed 0; bar: test accuracy
  >= 0.985 with training under 3 minutes.
- cats_dogs: the given train/ (2,000) and test/ (2,000) folders at 64 px, from scratch; bar: test accuracy >= 0.80
  with training under 10 minutes. The test accuracy after every epoch is printed (the curve); with IMAGES_NOAUG=1
  the same network is also trained without augmentation (information, the gap augmentation closes).
- Inference throughput (images/s, batch 256, `torch.inference_mode`, channels-last) of the fp32 model and of the
  optimized ones (`insight_nb.cnn.optimize`: conv-BN fused, + int8 dynamic linear, + bf16 autocast), side by side
  in one run, with their agreement with the fp32 predictions.

`make bench BENCH=images` (IMAGES=mnist or IMAGES=cats_dogs: one data set); the table goes to stdout, everything to
bench/output/images.json. The IDX reader is a benchmark helper, not a product format. Timings depend on the load of the
machine: say how loaded it was when quoting them.
"""
from __future__ import annotations

import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    import run as _run_mod  # noqa: F401

from run import bench, table

DATA = Path(os.environ.get("IMAGES_DATA", "/work/shared/data"))
THREADS = int(os.environ.get("IMAGES_THREADS", "2"))
# the settings the bars were measured with
MNIST_SETTINGS = dict(widths=(16, 32, 64), blocks=2, epochs=4, lr=8e-3, batch_size=128, flip=False, rotate=10, zoom=0.1, shift=0.1,
                      jitter=0.0, valid_fraction=0.05, n_threads=THREADS)
CATS_SETTINGS = dict(widths=(24, 48, 96, 192), blocks=1, epochs=25, lr=4e-3, batch_size=64, flip=True, rotate=10, zoom=0.15,
                     shift=0.1, jitter=0.2, valid_fraction=0.05, n_threads=THREADS)


def read_idx(path) -> np.ndarray:
    "An IDX file (optionally gzip-compressed) as a numpy array: magic 0x0000 / type / ndim, big-endian dims, then data."
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b": raw = gzip.decompress(raw)
    if raw[:2] != b"\x00\x00": raise ValueError(f"{path}: not an IDX file")
    dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[raw[2]]
    nd = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd))
    return np.frombuffer(raw, dtype=dtype, offset=4 + 4 * nd).reshape(shape)


def mnist_split(seed: int = 0):
    "The official MNIST test set split stratified 8,000 / 2,000 (seed 0) as two `ImageData`."
    from sklearn.model_selection import train_test_split
    from insight_nb.images import ImageData
    X = read_idx(DATA / "mnist/t10k-images-idx3-ubyte.gz"); y = read_idx(DATA / "mnist/t10k-labels-idx1-ubyte.gz").astype(str)
    tr, te = train_test_split(np.arange(len(y)), test_size=2000, random_state=seed, stratify=y)
    return ImageData.from_arrays(X[tr], y[tr]), ImageData.from_arrays(X[te], y[te])


class _TestCurve:
    "After each epoch: the test accuracy of the current weights (seconds spent here are kept apart from training time)."
    def __init__(self, test):
        self.test, self.acc, self.seconds, self.cpu = test, [], 0.0, 0.0

    def callback(self, clf):
        from insight_nb.callbacks import FunctionCallback
        def after_epoch(learn):
            t0, c0 = time.perf_counter(), time.process_time()
            clf.module_ = learn.model
            p = clf.predict_proba(self.test.X)   # in eval mode; the model's training mode is restored
            self.acc.append(float((np.asarray(clf.classes_, dtype=object)[p.argmax(1)] == self.test.y).mean()))
            self.seconds += time.perf_counter() - t0; self.cpu += time.process_time() - c0
        return FunctionCallback(order=-90, after_epoch=after_epoch)


def _classes_codes(clf, y):
    return np.array([clf.classes_.index(v) for v in y])


def train_eval(train, test, settings: dict, curve: bool = True) -> dict:
    "Fit on `train`, evaluate on `test`: accuracy, fit seconds (without the curve's evaluation), history, the curve."
    from insight_nb.cnn import ImageClassifier
    clf = ImageClassifier(**settings)
    tc = _TestCurve(test)
    if curve: clf.callbacks = [tc.callback(clf)]
    t0, c0 = time.perf_counter(), time.process_time()
    clf.fit(train)
    fit_s = time.perf_counter() - t0 - tc.seconds
    cpu_s = time.process_time() - c0 - tc.cpu
    clf.callbacks = ()
    acc = float((clf.predict(test.X) == test.y).mean())
    return dict(clf=clf, accuracy=acc, fit_seconds=fit_s, fit_cpu_seconds=cpu_s, curve=tc.acc, epochs_run=len(clf.history_),
                valid=[r.get("accuracy") for r in clf.history_])


def throughput(clf, X, repeats: int = 3) -> list[dict]:
    "Images/s of predict_proba for each inference mode, measured side by side; agreement with fp32 predictions."
    from insight_nb.cnn import optimize
    out, base = [], None
    for mode in ("fp32", "fused", "int8", "bf16"):
        optimize(clf, mode if mode != "bf16" else "fused")
        inf = "bf16" if mode == "bf16" else "fp32"
        clf.predict_proba(X[:256], inference=inf)   # warm-up
        best = min(_timed(lambda: clf.predict_proba(X, inference=inf)) for _ in range(repeats))
        pred = clf.predict_proba(X, inference=inf).argmax(1)
        base = pred if base is None else base
        out.append(dict(mode=mode, images_per_s=round(len(X) / best, 1), agree_with_fp32=float((pred == base).mean())))
    optimize(clf, "fp32")
    return out


def _timed(f) -> float:
    t0 = time.perf_counter(); f(); return time.perf_counter() - t0


def _load() -> str:
    try: return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError: return "?"


def run_mnist() -> dict:
    train, test = mnist_split(0)
    r = train_eval(train, test, MNIST_SETTINGS)
    tp = throughput(r["clf"], test.X)
    ok = r["accuracy"] >= 0.985 and r["fit_seconds"] < 180
    return dict(name="mnist", n_train=len(train), n_test=len(test), size=28, settings={k: list(v) if isinstance(v, tuple) else v for k, v in MNIST_SETTINGS.items()},
                accuracy=r["accuracy"], fit_seconds=r["fit_seconds"], fit_cpu_seconds=r["fit_cpu_seconds"], curve=r["curve"], epochs_run=r["epochs_run"],
                bar=dict(accuracy=0.985, fit_seconds=180), throughput=tp, **{"pass": ok})


def run_cats_dogs() -> dict:
    from insight_nb.images import prepare_images, split_images
    t0 = time.perf_counter()
    data = prepare_images(DATA / "cats_dogs", size=64)
    prep_s = time.perf_counter() - t0
    train, test = split_images(data)
    r = train_eval(train, test, CATS_SETTINGS)
    res = dict(name="cats_dogs", n_train=len(train), n_test=len(test), size=64, prepare_seconds=prep_s,
               settings={k: list(v) if isinstance(v, tuple) else v for k, v in CATS_SETTINGS.items()},
               accuracy=r["accuracy"], fit_seconds=r["fit_seconds"], fit_cpu_seconds=r["fit_cpu_seconds"], curve=r["curve"], epochs_run=r["epochs_run"],
               bar=dict(accuracy=0.80, fit_seconds=600), throughput=throughput(r["clf"], test.X))
    if os.environ.get("IMAGES_NOAUG"):
        n = train_eval(train, test, {**CATS_SETTINGS, "augment": False})
        res["no_augmentation"] = dict(accuracy=n["accuracy"], fit_seconds=n["fit_seconds"], curve=n["curve"])
    res["pass"] = res["accuracy"] >= 0.80 and res["fit_seconds"] < 600
    return res


@bench("images")
def bench_images(names: list | None = None) -> dict:
    import json
    import torch
    from run import OUT
    torch.set_num_threads(THREADS)
    names = names or [n for n in os.environ.get("IMAGES", "mnist cats_dogs").split() if n]
    load0 = _load()
    runs = [{"mnist": run_mnist, "cats_dogs": run_cats_dogs}[n]() for n in names]
    rows = [dict(data=r["name"], train=r["n_train"], test=r["n_test"], accuracy=f"{r['accuracy']:.4f}", bar=f">= {r['bar']['accuracy']}",
                 fit_s=f"{r['fit_seconds']:.0f}", cpu_s=f"{r['fit_cpu_seconds']:.0f}", limit_s=r["bar"]["fit_seconds"], epochs=r["epochs_run"], result="PASS" if r["pass"] else "FAIL")
            for r in runs]
    print(table(rows))
    for r in runs:
        print(f"\n{r['name']}: test accuracy by epoch: " + " ".join(f"{a:.3f}" for a in r["curve"]))
        if "no_augmentation" in r:
            na = r["no_augmentation"]
            print(f"{r['name']} without augmentation: accuracy {na['accuracy']:.4f} ({na['fit_seconds']:.0f} s); by epoch: " + " ".join(f"{a:.3f}" for a in na["curve"]))
        print(f"{r['name']} inference (images/s, {THREADS} threads, batch 256):")
        print(table([dict(mode=t["mode"], images_per_s=t["images_per_s"], agree_with_fp32=f"{t['agree_with_fp32']:.4f}") for t in r["throughput"]]))
    res = dict(runs=runs, threads=THREADS, load_before=load0, load_after=_load(), torch=torch.__version__, **{"pass": all(r["pass"] for r in runs)})
    print(f"load average before/after: {load0} / {res['load_after']} (other processes share these cores: timings are pessimistic)")
    return res


if __name__ == "__main__":
    from run import main
    sys.exit(main(["images"]) if len(sys.argv) < 2 else (os.environ.__setitem__("IMAGES", " ".join(sys.argv[1:])) or main(["images"])))
