"""The sweep statistics against direct computations on known data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from reinforcelab.sweep import stats


def test_iqm_is_the_mean_of_the_middle_half():
    assert stats.iqm(np.array([8.0, 1, 7, 2, 6, 3, 5, 4])) == pytest.approx(
        4.5
    )  # mean of 3, 4, 5, 6
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    middle = np.sort(x)[10:30]
    assert stats.iqm(x) == pytest.approx(middle.mean())
    # An outlier moves the mean, not the IQM.
    assert stats.iqm(np.array([1.0, 2, 3, 4, 5, 6, 7, 1000])) == pytest.approx(4.5)


def test_probability_of_improvement_counts_pairs_and_half_ties():
    # x=1 beats 0; x=2 beats 0 and ties 2; x=3 beats 0 and 2: (1 + 1.5 + 2) / 9 pairs.
    assert stats.probability_of_improvement([1, 2, 3], [0, 2, 4]) == pytest.approx(0.5)
    assert stats.probability_of_improvement([5, 6], [1, 2, 3]) == 1.0
    assert stats.probability_of_improvement([1, 1], [1, 1, 1]) == 0.5
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.3, 1, 12), rng.normal(0, 1, 9)
    u = scipy_stats.mannwhitneyu(x, y).statistic  # U of x: pairs x > y, ties counted half
    assert stats.probability_of_improvement(x, y) == pytest.approx(u / (len(x) * len(y)))


def test_performance_profile_is_the_fraction_above_each_threshold():
    profile = stats.performance_profile([1, 2, 3, 4], [0, 1, 2.5, 4])
    np.testing.assert_allclose(profile, [1.0, 0.75, 0.5, 0.0])
    low, high = stats.performance_profile_band([1, 2, 3, 4], [0, 1, 2.5, 4])
    assert np.all(low <= profile) and np.all(profile <= high)
    assert low[0] == high[0] == 1.0  # every resample beats a threshold below all scores


def test_bootstrap_ci_of_the_mean_matches_the_normal_approximation():
    rng = np.random.default_rng(2)
    x = rng.normal(10.0, 2.0, 400)
    low, high = stats.bootstrap_ci(x)
    half_width = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    assert low == pytest.approx(x.mean() - half_width, abs=0.1 * half_width)
    assert high == pytest.approx(x.mean() + half_width, abs=0.1 * half_width)


def test_bootstrap_ci_is_scipys_percentile_interval_and_degenerate_data_give_a_point():
    x = np.array([3.0, 9.0, 4.0, 7.0, 5.0, 12.0])
    expected = scipy_stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=stats.N_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(0),
    ).confidence_interval
    assert stats.bootstrap_ci(x) == pytest.approx((expected.low, expected.high))
    assert stats.bootstrap_ci([500.0] * 5) == (500.0, 500.0)
    assert stats.bootstrap_ci([7.0]) == (7.0, 7.0)


def test_aggregate_reports_mean_iqm_and_intervals_around_them():
    x = [10.0, 20.0, 30.0, 40.0, 200.0]
    out = stats.aggregate(x)
    assert out["n"] == 5
    assert out["mean"] == pytest.approx(60.0)
    assert out["iqm"] == pytest.approx(scipy_stats.trim_mean(x, 0.25))  # trims 1 from each end: 30
    assert out["iqm"] == pytest.approx(30.0)
    assert out["mean_ci"][0] <= out["mean"] <= out["mean_ci"][1]
    assert out["iqm_ci"][0] <= out["iqm"] <= out["iqm_ci"][1]
    assert out["std"] == pytest.approx(np.std(x, ddof=1))


def test_probability_of_improvement_ci_brackets_the_value():
    x, y = [5.0, 6, 7, 8, 3], [1.0, 2, 6, 4, 5]
    value = stats.probability_of_improvement(x, y)
    low, high = stats.probability_of_improvement_ci(x, y)
    assert 0.0 <= low <= value <= high <= 1.0
    assert low < high


def test_curve_band_is_the_mean_over_seeds_with_a_band():
    curves = np.array([[0.0, 1.0, 2.0, 5.0], [0.0, 3.0, 4.0, 5.0], [0.0, 2.0, 9.0, 5.0]])
    middle, low, high = stats.curve_band(curves)
    np.testing.assert_allclose(middle, curves.mean(axis=0))
    assert np.all(low <= middle + 1e-12) and np.all(middle <= high + 1e-12)
    assert low[0] == high[0] == 0.0 and low[3] == high[3] == 5.0  # seeds agree: no spread
    assert low[2] < middle[2] < high[2]
