"""Images (issue 15) on small subsets: both layouts, every bad input with a clear message, save/load round trip,
stopping a fit from another thread."""
from __future__ import annotations

import io
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from insight_nb.core import DataError, InsightError
from insight_nb.images import prepare_images, split_images, ImageProfile

from conftest import shared_data_dir

CATS_DOGS = (shared_data_dir() or Path("no-shared-data")) / "cats_dogs"   # beside the checkout, when it is there


def _subset(tmp: Path, n: int = 12, split: bool = False) -> Path:
    "A copy of the first `n` real photos per class (cats_dogs when present, else generated)."
    root = tmp / "photos"
    for s in (("train", "test") if split else ("train",)):
        for c in ("cats", "dogs"):
            d = (root / s / c) if split else (root / c)
            d.mkdir(parents=True)
            src = CATS_DOGS / s / c
            files = sorted(src.iterdir())[:n] if src.is_dir() else []
            for i in range(n):
                if files: shutil.copy(files[i], d / files[i].name)
                else: Image.new("RGB", (40, 30), (200 if c == "cats" else 20, 40 + 10 * i + (s == "test") * 5, 90)).save(d / f"{c}{i}.png")
    return root


def test_folder_of_class_subfolders(tmp_path):
    data = prepare_images(_subset(tmp_path), size=32)
    assert data.classes == ["cats", "dogs"] and data.X.shape == (24, 32, 32, 3) and data.split is None
    tr, te = split_images(data, test_size=0.25)
    assert len(tr) + len(te) == 24 and sorted(set(te.y)) == ["cats", "dogs"]
    html = ImageProfile(data)._repr_html_()
    assert html.count("<img") == 16 and "Images per class" in html


def test_train_test_layout_keeps_the_split(tmp_path):
    data = prepare_images(_subset(tmp_path, 6, split=True), size=32)
    tr, te = split_images(data)
    assert (len(tr), len(te)) == (12, 12) and set(te.split) == {"test"}


def test_table_with_paths_relative_to_it(tmp_path):
    root = _subset(tmp_path, 5)
    rows = [(f"{c}/{p.name}", c[:-1]) for c in ("cats", "dogs") for p in sorted((root / c).iterdir())]
    pd.DataFrame(rows, columns=["image", "animal"]).to_csv(root / "labels.csv", index=False)
    data = prepare_images(root / "labels.csv", size=24)
    assert data.classes == ["cat", "dog"] and len(data) == 10


def test_label_column_naming_missing_files(tmp_path):
    root = _subset(tmp_path, 3)
    pd.DataFrame({"image": ["cats/nope.jpg", "dogs/gone.png"], "animal": ["cat", "dog"]}).to_csv(root / "t.csv", index=False)
    with pytest.raises(DataError, match=r"2 of 2 files named in column 'image' do not exist.*nope\.jpg"):
        prepare_images(root / "t.csv")


def test_truncated_jpeg_and_text_named_png_are_listed_and_skipped(tmp_path):
    root = _subset(tmp_path, 4)
    buf = io.BytesIO(); Image.new("RGB", (60, 60), (5, 6, 7)).save(buf, "JPEG")
    (root / "cats" / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    (root / "dogs" / "notes.png").write_text("this is not a picture")
    data = prepare_images(root, size=24)
    why = {Path(p).name: r for p, r in data.report.unreadable}
    assert why == {"cut.jpg": "truncated file", "notes.png": "not an image Pillow can read"} and len(data) == 8


def test_empty_class_folder_and_one_class_only(tmp_path):
    root = _subset(tmp_path, 2)
    (root / "birds").mkdir()
    with pytest.raises(DataError, match="class folder 'birds' holds no images"):
        prepare_images(root)
    shutil.rmtree(root / "birds"); shutil.rmtree(root / "dogs")
    with pytest.raises(DataError, match="only one class folder"):
        prepare_images(root)


def test_leak_across_train_and_test_is_dropped_from_train(tmp_path):
    root = _subset(tmp_path, 4, split=True)
    test_file = sorted((root / "test/cats").iterdir())[0]
    shutil.copy(test_file, root / "train/cats" / ("copy_" + test_file.name))
    data = prepare_images(root, size=24)
    assert [Path(p).name for p, _ in data.report.leaks] == ["copy_" + test_file.name]
    assert len(data.part("train")) == 8 and len(data.part("test")) == 8


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from insight_nb.cnn import ImageClassifier
    data = prepare_images(_subset(tmp_path_factory.mktemp("fit"), 10), size=24)
    return ImageClassifier(widths=(8, 16), blocks=1, epochs=2, batch_size=8).fit(data), data


def test_save_load_round_trip_gives_identical_predictions(fitted, tmp_path):
    from insight_nb.cnn import load_image_model, save_image_model, score_images
    clf, data = fitted
    save_image_model(clf, tmp_path / "m")
    back = load_image_model(tmp_path / "m")
    assert np.array_equal(back.predict_proba(data.X), clf.predict_proba(data.X)) and back.classes_ == clf.classes_
    scored = score_images(back, Path(data.paths[0]).parent)
    assert len(scored) == 10 and scored.error.isna().all() and set(scored.predicted) <= {"cats", "dogs"}


def test_own_backbone_file_is_fine_tuned_and_a_mismatch_refused(fitted, tmp_path):
    from insight_nb.cnn import ImageClassifier, save_image_model
    clf, data = fitted
    save_image_model(clf, tmp_path / "m")
    w = tmp_path / "m" / "model.safetensors"
    tuned = ImageClassifier(widths=(8, 16), blocks=1, epochs=1, batch_size=8, backbone=str(w)).fit(data)
    assert tuned.backbone_loaded_ and all(k.startswith("features.") for k in tuned.backbone_loaded_)
    with pytest.raises(InsightError, match="no backbone weights fit"):
        ImageClassifier(widths=(4,), blocks=1, epochs=1, backbone=str(w)).fit(data)
    with pytest.raises(InsightError, match="backbone"):
        ImageClassifier(epochs=1, backbone=str(tmp_path / "missing.safetensors")).fit(data)


def test_cli_score_writes_one_row_per_file(fitted, tmp_path):
    from insight_nb.cli import main
    from insight_nb.cnn import save_image_model
    clf, data = fitted
    save_image_model(clf, tmp_path / "m")
    folder = Path(data.paths[0]).parent
    (tmp_path / "imgs").mkdir()
    for p in sorted(folder.iterdir())[:3]: shutil.copy(p, tmp_path / "imgs" / p.name)
    (tmp_path / "imgs" / "broken.jpg").write_bytes(b"\xff\xd8 nope")
    assert main(["score", str(tmp_path / "m"), str(tmp_path / "imgs"), "--out", str(tmp_path / "s.csv")]) == 0
    df = pd.read_csv(tmp_path / "s.csv")
    assert len(df) == 4 and df.error.notna().sum() == 1 and {"p_cats", "p_dogs", "predicted"} <= set(df.columns)


def test_stop_from_another_thread_keeps_a_usable_model():
    from insight_nb.cnn import ImageClassifier
    from insight_nb.callbacks import FunctionCallback
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 255, (64, 16, 16, 3), dtype=np.uint8), np.array(["a", "b"] * 32, dtype=object)
    clf = ImageClassifier(widths=(4,), blocks=1, epochs=50, batch_size=8)
    started = threading.Event()
    clf.callbacks = [FunctionCallback(after_epoch=lambda learn: started.set())]
    t = threading.Thread(target=clf.fit, args=(X, y)); t.start()
    assert started.wait(60)
    clf.cancel(); t.join(60)
    assert not t.is_alive() and clf.cancelled_ and 1 <= len(clf.history_) < 50
    assert clf.predict_proba(X).shape == (64, 2)


def test_bad_settings_and_inputs_are_refused():
    from insight_nb.cnn import ImageClassifier
    X = np.zeros((4, 8, 8, 1), np.uint8)
    with pytest.raises(InsightError, match="epochs=0"): ImageClassifier(epochs=0).fit(X, ["a", "b", "a", "b"])
    with pytest.raises(DataError, match="only one class"): ImageClassifier(epochs=1).fit(X, ["a"] * 4)
    with pytest.raises(InsightError, match="uint8"): ImageClassifier(epochs=1).fit(X.astype(float), ["a", "b"] * 2)
    with pytest.raises(InsightError, match="not fitted"): ImageClassifier().predict(X)
