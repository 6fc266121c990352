"""Regression metrics and split-conformal prediction intervals (numpy only, fast): the finite-sample coverage guarantee
at a larger scale than the notebook shows it."""
import math

import numpy as np
import pytest
from sklearn import metrics as skm

from insight_nb.metrics import (EvaluationError, bootstrap_ci, conformal_halfwidth, conformal_min_rows,
                                regression_metrics)


def _fitted_line_coverage(seed, n_cal=500, n_new=2000, level=0.9):
    "Coverage on new rows of a line fitted to y = x + noise, with its half-width from a separate calibration sample."
    r = np.random.default_rng(seed)
    def draw(n):
        x = r.uniform(0, 10, n)
        return x, x + r.normal(0, 1, n)
    x_tr, y_tr = draw(200)
    b, a = np.polyfit(x_tr, y_tr, 1)
    (x_cal, y_cal), (x_new, y_new) = draw(n_cal), draw(n_new)
    q = conformal_halfwidth(y_cal - (a + b * x_cal), level)
    return np.mean(np.abs(y_new - (a + b * x_new)) <= q)


def test_coverage_of_a_fitted_line_over_400_seeds():
    cov = np.array([_fitted_line_coverage(s) for s in range(1000, 1400)])
    se = cov.std(ddof=1) / math.sqrt(len(cov))
    assert abs(cov.mean() - 0.9) < 0.005, cov.mean()
    assert cov.mean() >= 0.9 - 3 * se, (cov.mean(), se)     # expected coverage ⌈501 · 0.9⌉ / 501 = 0.9002


@pytest.mark.parametrize("n, level, seeds", [(20, 0.9, 20000), (50, 0.8, 10000), (500, 0.9, 4000), (19, 0.95, 20000)])
def test_expected_coverage_is_exactly_k_over_n_plus_1(n, level, seeds):
    """With |residual| ~ U(0, 1) the coverage of a half-width q is q itself, so the expected coverage over calibration
    samples is known exactly: E[U_(k)] = k / (n + 1) >= level, with k = ⌈(n + 1) · level⌉. The plain empirical quantile
    falls short of the level at small n."""
    r = np.random.default_rng(n)
    R = r.uniform(0, 1, (seeds, n))
    cov = np.array([conformal_halfwidth(row, level) for row in R])        # coverage of each calibration sample
    k = math.ceil((n + 1) * level - 1e-9)
    se = cov.std(ddof=1) / math.sqrt(seeds)
    assert abs(cov.mean() - k / (n + 1)) < 4 * se, (cov.mean(), k / (n + 1), se)
    assert k / (n + 1) >= level and cov.mean() >= level - 4 * se
    if n <= 50:
        naive = np.quantile(R, level, axis=1).mean()
        assert naive < level - 4 * se, naive                             # why the +1 matters


def test_too_few_residuals_give_an_infinite_halfwidth():
    for level in (0.5, 0.8, 0.9, 0.95, 0.99):
        m = conformal_min_rows(level)
        assert math.isfinite(conformal_halfwidth(np.ones(m), level))
        assert m == 1 or conformal_halfwidth(np.ones(m - 1), level) == math.inf
    with pytest.raises(EvaluationError, match="NaN"): conformal_halfwidth([1.0, np.nan])


def test_regression_metrics_match_sklearn_and_mape_needs_a_target_away_from_zero():
    r = np.random.default_rng(0)
    y = r.lognormal(3, 0.5, 1000); p = y * r.lognormal(0, 0.2, 1000)
    m = regression_metrics(y, p)
    assert m["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(y, p))
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))
    assert m["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p))
    z = regression_metrics(y - np.median(y), p - np.median(y))
    assert "mape" not in z and "crosses zero" in z["not_computed"]["mape"]
    assert regression_metrics(np.r_[0.0, y], np.r_[0.0, p])["not_computed"]["mape"].startswith("the target reaches zero")


def test_regression_bootstrap_is_plain_and_matches_the_callable():
    r = np.random.default_rng(1)
    y = r.normal(100, 10, 400); p = y + r.normal(0, 5, 400)
    for name, fn in [("rmse", skm.root_mean_squared_error), ("r2", skm.r2_score)]:
        lo, hi = bootstrap_ci(y, p, name, n_boot=200, seed=2)
        assert lo < regression_metrics(y, p)[name] < hi and hi - lo > 0
        assert (lo, hi) == pytest.approx(bootstrap_ci(y, p, lambda a, b: fn(a, b), n_boot=200, seed=2), abs=1e-9)
    with pytest.raises(EvaluationError, match="keep every row in place"): bootstrap_ci(y, p, "mae", stratified=True)
