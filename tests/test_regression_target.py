"""The target decides the task: a number with many values is regression (issue 14), a few values are classes, and the
recipe's `task` forces either reading. Classification targets behave as before."""
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insight_nb.core import TargetError
from insight_nb.dataset import prepare
from insight_nb.schema import infer_target



def quiet(f, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*a, **kw)


def frame(y) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"x": rng.normal(size=len(y)), "y": y})


def test_three_whole_numbers_are_classes():
    y = np.random.default_rng(1).integers(0, 3, 600)
    t = infer_target(frame(y), "y")
    assert (t.task, t.classes) == ("multiclass", ["0", "1", "2"])
    ds = quiet(prepare, frame(y), "y")
    assert (ds.task, ds.classes, ds.y.dtype) == ("multiclass", ["0", "1", "2"], object)


def test_five_hundred_whole_numbers_are_regression():
    y = np.arange(600) % 500 * 3 + 1000
    t = infer_target(frame(y), "y")
    assert (t.task, t.classes, t.positive_class) == ("regression", [], None)
    assert t.reason == "regression: 'y' is a number with 500 distinct values from 1,000 to 2,497 (too many distinct values to be classes; to predict groups, bin it into a new column first)"
    ds = quiet(prepare, frame(y), "y")
    assert (ds.task, ds.classes, ds.positive_class, ds.y.dtype, len(ds)) == ("regression", [], None, np.float64, 600)


def test_floats_are_regression():
    y = np.random.default_rng(2).normal(100, 15, 200)
    assert infer_target(frame(y), "y").task == "regression"
    assert infer_target(frame(y.astype(str)), "y").task == "regression"        # numbers read from text (a CSV)
    ds = quiet(prepare, frame(y), "y", cv=5)
    assert ds.task == "regression" and np.allclose(ds.y.to_numpy(), y)


def test_forced_classification_keeps_todays_checks():
    y = np.arange(600) % 500 * 3 + 1000
    with pytest.raises(TargetError, match="500 distinct whole numbers; that looks like a count, an amount or an identifier") as e:
        infer_target(frame(y), "y", task="classification")
    assert "task: regression" in e.value.fix
    with pytest.raises(TargetError, match="500 distinct whole numbers"): quiet(prepare, frame(y), "y", task="classification")
    with pytest.raises(TargetError, match="the target is a continuous number"):
        infer_target(frame(np.random.default_rng(2).normal(size=200)), "y", task="classification")
    # a classification target reads exactly as it did, whatever task says
    churn = quiet(prepare, "demo:telco_churn", task="classification")
    assert (churn.task, churn.classes, churn.positive_class) == ("binary", ["No", "Yes"], "Yes")


def test_forced_regression_on_strings_is_refused_with_a_fix():
    with pytest.raises(TargetError) as e:
        infer_target(frame(["yes", "no"] * 50), "y", task="regression")
    assert "task is regression but the target is not a number" in str(e.value)
    assert "`-p task=auto` (CLI)" in e.value.fix and "--target COLUMN" in e.value.fix
    with pytest.raises(TargetError, match="not one of"): infer_target(frame([1.0, 2.0] * 50), "y", task="numbers")


def test_identifier_like_numbers_are_not_regression():
    with pytest.raises(TargetError, match="300 distinct whole numbers"):
        infer_target(pd.DataFrame({"y": [str(i) for i in range(300)]}), "y")


def test_regression_has_no_class_checks():
    "A regression target never meets the rare-class or fold-size checks (every value is rare), nor drop_rare_classes."
    y = np.random.default_rng(3).normal(size=40)
    ds = quiet(prepare, frame(y), "y", cv=10, drop_rare_classes=True)
    assert (ds.task, len(ds)) == ("regression", 40)
    assert ds.split(valid=0.0, test=0.25, seed=0).sizes() == dict(train=30, valid=0, test=10)


@pytest.mark.parametrize("name, target, n_rows", [("ames.csv", "Sale_Price", 2930), ("credit_balance.csv", "Balance", 400)])
def test_shared_regression_data(name, target, n_rows, shared_data):
    path = shared_data / "gauntlet" / name
    ds = quiet(prepare, path, target)
    assert (ds.task, ds.classes, ds.positive_class, ds.y.dtype) == ("regression", [], None, np.float64)
    assert len(ds) == n_rows and target not in ds.features
    assert ds.schema.target.reason.startswith(f"regression: {target!r} is a number with ")
