"""InsightStudio without a browser: settings, background training, Stop, threshold, export + papermill report, errors.

The widgets run without a frontend (ipywidgets uses dummy comms), so everything the buttons do is driven through the
studio's programmatic API and `Button.click()`; the work itself is done by the studio's `StudioSession`
(`s.session`, tested without any widgets in nbs/50_studio.ipynb)."""
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from insight_nb.recipe import Recipe
from insight_nb.registry import model_spec
from insight_nb.studio_fit import studio_fit
from insight_nb.widgets import AUTO, InsightStudio, tidy_numbers


def _until(cond, timeout=120.0, step=0.05):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout: raise TimeoutError("condition not reached")
        time.sleep(step)


@pytest.fixture(scope="module")
def telco():
    return InsightStudio("demo:telco_churn", family="mlp", epochs=3, n_boot=50, cv=2)


def test_controls_from_data(telco):
    s = telco
    assert s.state == "idle" and s.target.value == "Churn"
    assert [o[1] for o in s.positive_class.options] == [AUTO, "No", "Yes"]
    assert "Churn" not in s.ignore.options and "customerID" in s.ignore.options
    s.set(target="Churn", positive_class="Yes", ignore=["gender"])
    r = s.recipe()
    assert (r.target, r.positive_class, r.roles) == ("Churn", "Yes", {"gender": "ignored"})
    base, params = model_spec(r.models[0])                   # the model's settings travel as data
    assert base == "torch_mlp" and params["epochs"] == 3 and params["hidden"] == [64, 32]
    s.set(positive_class=None, ignore=[])


def test_train_stop_resume_and_train_again(telco):
    s = telco
    s.set(epochs=60)
    s.train_button.click()                                   # the button does what train() does
    assert s.state == "training" and s.train_button.disabled and not s.stop_button.disabled
    _until(lambda: s.session._learner is not None and len(s.session._learner.history) >= 2)
    seen = s.progress.value
    assert 0 < seen <= s.progress.max
    s.stop_button.click()
    assert s.state == "stopping" and s.stop_button.disabled and s.train_button.disabled
    assert s.wait(60) == "done"
    r = s.results
    learn = r.estimator.learner_
    assert r.stopped and learn.cancelled and 2 <= r.epochs_run < 60
    assert "stopped" in s.status.value and not s.train_button.disabled
    assert 'data-shown="stopped"' in s.status.value and s.progress.bar_style == "warning"     # a user stop is not a green "done"
    # the best epoch's checkpoint was loaded back: the model scores the best epoch's validation loss
    best = min(r.history, key=lambda h: h["valid_loss"])
    assert r.best_epoch == best["epoch"]
    assert learn.validate()["valid_loss"] == pytest.approx(best["valid_loss"], rel=1e-6)
    assert s.chart.value[:4] == b"\x89PNG" and "insight-table" in s.metrics.value
    # Resume is offered for the stopped run, and only while the model/data settings are unchanged
    assert s.resumable() and not s.resume_button.disabled
    s.set(epochs=61)
    assert not s.resumable() and s.resume_button.disabled
    s.set(epochs=60)
    assert s.resumable() and not s.resume_button.disabled
    stopped_hist, last = [dict(h) for h in r.history], r.history[-1]["epoch"]
    n_iter = s.session._callback.n_iter
    s.resume_button.click()                                  # the button does what resume() does
    assert s.state == "training" and s.resume_button.disabled and s.train_button.disabled
    _until(lambda: s.session._learner is not None and s.session._learner is not learn)
    assert s.progress.value >= len(stopped_hist) * n_iter   # the bar goes on from the completed epochs
    assert s.wait(300) == "done"
    r2 = s.results
    assert r2 is not r and not r2.stopped and s.resume_button.disabled
    strip = lambda hs: [{k: v for k, v in h.items() if k != "seconds"} for h in hs]
    assert strip(r2.history[:len(stopped_hist)]) == strip(stopped_hist)        # the completed epochs are kept
    assert r2.epochs_run > r.epochs_run and r2.history[len(stopped_hist)]["epoch"] == last + 1
    assert [h["epoch"] for h in r2.history] == list(range(r2.epochs_run))
    assert s.session._callback.batch_epochs == sorted(s.session._callback.batch_epochs) and s.session._callback.batch_epochs[-1] > last + 1
    assert s.progress.value == r2.epochs_run * n_iter
    said = f"{r2.epochs_run} of 60 epochs (early stopping)" if r2.epochs_run < 60 else "60 epochs"   # early stopping is stated
    assert said in s.metrics.value and "stopped" not in r2.summary()
    # stopped + resumed = never stopped: the same numbers as an uninterrupted fit of the same recipe
    _, ev, _ = studio_fit(r2.dataset, r2.recipe.models[0], test=r2.recipe.test, seed=r2.recipe.seed, n_boot=r2.recipe.n_boot)
    assert ev.metrics == r2.metrics
    with pytest.raises(Exception, match="no stopped run"): s.resume()
    # train again with other settings
    s.set(epochs=3)
    s.train(wait=True)
    assert s.state == "done" and not s.results.stopped and s.results.epochs_run == 3
    assert s.progress.value == s.progress.max and s.resume_button.disabled


def test_threshold_updates_labels(telco):
    s = telco
    assert s.results is not None
    s.set(threshold=0.2, cost_fp=10, cost_fn=40)
    low, html_low = dict(s.threshold_stats), s.threshold_info.value
    s.set(threshold=0.55)
    high, html_high = dict(s.threshold_stats), s.threshold_info.value
    assert low["recall"] > high["recall"] and low["precision"] < high["precision"]
    assert low["expected_cost"] != high["expected_cost"] and html_low != html_high
    assert f"precision {high['precision']:.3f}" in html_high
    s.set(cost_fn=400)
    assert s.threshold_stats["expected_cost"] > high["expected_cost"]
    s.best_threshold_button.click()
    assert s.threshold.value != 0.55
    s.set(threshold=0.5, cost_fn=40)


def test_result_tabs(telco):
    s = telco
    if "Segments" not in s.extra: pytest.skip("insight_nb.segments is not installed")
    html = s.compute("Segments")
    assert s.state == "done" and "insight-segments" in html and s.extra["Segments"]["html"].value == tidy_numbers(html)
    assert "e-0" not in s.extra["Segments"]["html"].value.split("<img")[0]          # the studio's number format


def test_export_and_report_match(telco, tmp_path):
    s = telco
    s.set(epochs=3, seed=1)
    s.train(wait=True)
    assert s.state == "done"
    exp = s.export(tmp_path / "recipe.yaml", run_report=True)
    assert s.state == "done"
    r = Recipe.from_yaml(tmp_path / "recipe.yaml")
    assert r.models == s.recipe().models and r.seed == 1 and r.cost_fn == 40.0
    assert (exp.report.out / "metrics.json").exists()
    names = [c[0] for c in exp.comparison]
    assert {"roc_auc", "pr_auc", "accuracy", "log_loss", "brier"} <= set(names)
    assert exp.equal, exp.comparison                          # same recipe, same seed -> the same numbers
    assert exp.report.metrics["best_model"] == s.results.model
    assert "equal" in s.export_info.value
    # the recipe opens in a new studio with the same settings
    again = InsightStudio.from_recipe(tmp_path / "recipe.yaml")
    assert again.recipe().to_dict() | {"template": None} == s.recipe().to_dict() | {"template": None}


def test_errors_are_shown_in_the_widget(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=300), "plan": rng.choice(["a", "b"], 300), "region": "north",
                       "y": rng.choice(["p", "q"], 300)})
    s = InsightStudio(df, target="y", family="logistic", epochs=2, n_boot=0)
    s.set(target="region")                                   # a target that is constant: flagged when picked
    assert s.state == "error" and "constant" in s.status.value
    s.train(wait=True)
    assert s.state == "error"
    assert "constant" in s.status.value and "Fix" in s.status.value and "insight-studio-error" in s.status.value
    assert any("TargetError" in o.get("text", "") for o in s.log.outputs)   # the traceback is in the Log tab
    assert not s.train_button.disabled and s.stop_button.disabled
    # a GUI action that fails ends in the status area too
    s.source.value = str(tmp_path / "missing.csv")
    assert s.state == "error" and "missing.csv" in s.status.value
    s.set(source=df, target="y")                             # the fix clears the error at once, not on Train
    assert s.state == "idle" and s.last_error is None and "insight-studio-error" not in s.status.value
    s.train(wait=True)
    assert s.state == "done"
    s.source.value = str(tmp_path / "missing.csv")           # an error after a run: the results stay, marked out of date once data changes
    assert s.state == "error" and s.results is not None
    s.set(source=df.head(200), target="y")
    assert s.state == "done" and s.last_error is None and "other data was loaded" in s.stale_note.value
    assert "insight-studio-stale" in s.results_box._dom_classes
    with pytest.raises(Exception, match="outside the control's range"): s.set(lr=10.0)
    with pytest.raises(Exception, match="Did you mean"): s.set(familly="mlp")


def test_stop_before_the_learner_starts():
    s = InsightStudio("demo:telco_churn", family="logistic", epochs=50, n_boot=0)
    s.train()
    s.stop()                                                 # usually still preparing the data
    assert s.wait(120) in ("idle", "done")
    assert s.results is None or s.results.stopped


def test_thread_output_goes_to_the_log(capsys):
    s = InsightStudio(pd.DataFrame({"x": np.arange(200.0), "y": ["a", "b"] * 100}), target="y", family="logistic", epochs=1, n_boot=0)
    s.session._thread = None
    s.session._work(lambda: print("hello from the training thread"))
    assert any("hello from the training thread" in o.get("text", "") for o in s.log.outputs)


@pytest.mark.parametrize("module", ["studio_fit", "studio"])
def test_the_session_needs_no_frontend(module):
    """The fit and session modules import neither ipywidgets, torch nor matplotlib at import time; the studio's work is
    done by its StudioSession."""
    code = f"import sys, insight_nb.{module}; print(sorted(m for m in ('ipywidgets', 'torch', 'matplotlib') if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
    import insight_nb.studio as studio
    import insight_nb.studio_fit as studio_fit_module
    for m in (studio, studio_fit_module):
        assert "ipywidgets" not in open(m.__file__, encoding="utf-8").read()
    s = InsightStudio(pd.DataFrame({"x": np.arange(100.0), "y": ["a", "b"] * 50}), target="y", family="logistic", epochs=1, n_boot=0)
    assert isinstance(s.session, studio.StudioSession) and s.session.frame is not None and s.state == s.session.state == "idle"


def test_regression_trains_stops_and_moves_its_interval():
    """A number as the target: only the MLP (a regressor) is offered, Stop ends the run with the best epoch kept, the metrics are R²,
    RMSE and MAE, the curves are predicted-vs-actual and residuals, and the interval slider changes the half-width and its coverage live."""
    rng = np.random.default_rng(0)
    n = 800
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.uniform(0, 10, n), "grade": rng.choice(list("ABC"), n)})
    df["y"] = 50 + 8 * df.x1 - 3 * df.x2 + df.grade.map({"A": 0.0, "B": 5.0, "C": 10.0}) + rng.normal(0, 3, n)
    s = InsightStudio(df, "y", epochs=200, batch_size=32, n_boot=0)
    try:
        assert [o[1] for o in s.family.options] == ["mlp"] and "regression" in s.data_info.value
        s.train()
        _until(lambda: s.session._learner is not None and len(s.session._learner.history) >= 2)
        s.stop()
        assert s.wait(60) == "done"
        r = s.results
        assert r.stopped and r.estimator.learner_.cancelled and 2 <= r.epochs_run < 200 and r.evaluation.task == "regression"
        assert {"r2", "rmse", "mae"} <= set(r.metrics) and "r2" in s.metrics.value and s.curves.value[:4] == b"\x89PNG"
        s.set(interval_level=0.6)
        lo = s.interval_stats
        s.set(interval_level=0.95)
        hi = s.interval_stats
        assert lo["halfwidth"] < hi["halfwidth"] and lo["coverage"] <= hi["coverage"] and lo["n_cal"] + lo["n_check"] == len(r.test_rows)
        assert "coverage" in s.interval_info.value and s.recipe().interval_level == 0.95 and "Interval tab" in s.threshold_info.value
        s.set(target="grade")                                # classes again: the logistic family comes back
        assert [o[1] for o in s.family.options] == ["logistic", "mlp"]
    finally:
        s.close()
