"""The image door of the studio (issue 15): on 40 cats and 40 dogs of cats_dogs at 32 px, `ImageStudio` trains from its
Train button and shows thumbnails of the most confidently wrong test images when training ends; a second, longer run is
stopped with the Stop button from the main thread while it trains: the model is asked to stop (`ImageClassifier.cancel`),
the state is "stopped", the best epoch's checkpoint is the model's weights, and the thumbnails (greyed while it trained)
are replaced by the stopped run's."""
import re
import shutil
import time

import pytest
import torch

from insight_nb.image_studio import ImageStudio


@pytest.fixture(scope="module")
def folder(shared_data, tmp_path_factory):
    "40 photos per class from cats_dogs/train."
    root = tmp_path_factory.mktemp("imgstudio") / "photos"
    for c in ("cats", "dogs"):
        (root / c).mkdir(parents=True)
        for f in sorted((shared_data / "cats_dogs" / "train" / c).iterdir())[:40]: shutil.copy(f, root / c / f.name)
    return root


def _until(cond, timeout: float = 60.0):
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.005)


def test_train_shows_mistakes_then_stop_keeps_the_best_epoch(folder):
    st = ImageStudio(folder, size=32, chart_interval=0.2, n_boot=50, width=8, blocks=1, epochs=2, batch_size=16, lr=5e-3)
    s = st.session
    assert (s.data.size, len(s.train_data), len(s.test_data), s.data.classes) == (32, 64, 16, ["cats", "dogs"])
    assert "Image cleaning report" in st.data_html.value

    st.train_button.click()
    assert st.wait(60) == "done"
    res = s.results
    assert (res.stopped, res.epochs_run, len(res.history)) == (False, 2, 2)
    n_wrong = len(res.evaluation.wrong)
    assert n_wrong > 0                                          # a 2-epoch tiny net on 16 photos is far from perfect
    first = st.mistakes.value
    assert first.count("<img ") == min(n_wrong, s.gallery) and f'data-n="{min(n_wrong, s.gallery)}"' in first
    assert "most confidently wrong" in first and "insight-studio-stale" not in st.mistakes._dom_classes
    assert "accuracy" in st.metrics.value and st.chart.value                  # metrics tab and the loss chart

    # a long run, stopped from the main thread once its first epoch is complete
    st.set(epochs=40)
    st.train_button.click()
    _until(lambda: s._learner is not None and s._learner.epochs_done >= 1 and s.model is not None)
    assert s.state == "training" and not st.stop_button.disabled
    assert "insight-studio-stale" in st.mistakes._dom_classes               # the last run's thumbnails, greyed
    calls, cancel = [], s.model.cancel
    s.model.cancel = lambda: (calls.append(1), cancel())[1]
    st.stop_button.click()
    assert st.wait(60) == "stopped"
    res = s.results
    assert calls == [1] and res.stopped and s.model.cancelled_
    assert 1 <= res.epochs_run < 40
    losses = [r["valid_loss"] for r in res.history]
    assert res.best_epoch == losses.index(min(losses))
    best = torch.load(s.model._workdir / "best.pt", weights_only=True)
    assert best["epoch"] == res.best_epoch + 1
    state = s.model.module_.state_dict()
    assert all(torch.equal(v.cpu(), state[k].cpu()) for k, v in best["model"].items())   # the best checkpoint is the model
    assert "insight-studio-stale" not in st.mistakes._dom_classes and st.mistakes.value != first
    assert f"stopped by the user after {res.epochs_run} of 40 epochs" in st.mistakes.value
    assert re.search(r'data-state="stopped"', st.status.value)
    assert not st.resume_button.disabled and not st.train_button.disabled and st.stop_button.disabled
