"""Statistics over seeds that stay honest with few runs (after Agarwal et al., "Deep RL at the Edge
of the Statistical Precipice", 2021): the interquartile mean, percentile-bootstrap 95% confidence
intervals (``scipy.stats.bootstrap``), the probability of improvement and performance profiles.

The percentile bootstrap is used rather than scipy's default BCa: BCa is undefined when every
seed scores the same (CartPole's 500 ceiling does that), and the percentile interval is what
rliable reports.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
N_RESAMPLES = 2000


def iqm(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% of the scores (25% trimmed from each end)."""
    return stats.trim_mean(scores, 0.25, axis=axis)


def mean(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(scores, axis=axis)


def bootstrap_ci(scores, statistic: Callable = mean, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of ``statistic`` (vectorised with an ``axis`` argument)."""
    x = np.asarray(scores, dtype=float)
    if len(x) < 2 or np.all(x == x[0]):  # nothing to resample: the interval is the point
        value = float(statistic(x))
        return value, value
    result = stats.bootstrap(
        (x,),
        statistic,
        n_resamples=N_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def probability_of_improvement(x, y, axis: int = -1) -> np.ndarray:
    """P(X > Y) + P(X = Y) / 2 for a run X of one configuration and a run Y of the other: the
    Mann-Whitney U statistic over all pairs, divided by the number of pairs."""
    x = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    y = np.moveaxis(np.asarray(y, dtype=float), axis, -1)
    greater = (x[..., :, None] > y[..., None, :]).mean(axis=(-2, -1))
    ties = (x[..., :, None] == y[..., None, :]).mean(axis=(-2, -1))
    return greater + 0.5 * ties


def probability_of_improvement_ci(x, y, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of the probability of improvement, each sample resampled on its own."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 2 or len(y) < 2:
        value = float(probability_of_improvement(x, y))
        return value, value
    result = stats.bootstrap(
        (x, y),
        probability_of_improvement,
        n_resamples=N_RESAMPLES,
        paired=False,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    if np.isnan(low):  # every resample gave the same value
        low = high = float(probability_of_improvement(x, y))
    return float(low), float(high)


def performance_profile(scores, thresholds) -> np.ndarray:
    """For each threshold tau, the fraction of runs scoring above tau (a survival function)."""
    scores = np.asarray(scores, dtype=float)
    return (scores[None, :] > np.asarray(thresholds, dtype=float)[:, None]).mean(axis=1)


def performance_profile_band(scores, thresholds, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """95% bootstrap band of the performance profile, over resampled runs."""
    scores = np.asarray(scores, dtype=float)
    thresholds = np.asarray(thresholds, dtype=float)
    if len(scores) < 2 or np.all(scores == scores[0]):
        profile = performance_profile(scores, thresholds)
        return profile, profile
    rng = np.random.default_rng(seed)
    samples = scores[rng.integers(0, len(scores), size=(N_RESAMPLES, len(scores)))]
    profiles = (samples[:, None, :] > thresholds[None, :, None]).mean(axis=2)
    low, high = np.percentile(profiles, [2.5, 97.5], axis=0)
    return low, high


def curve_band(curves: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (rows) of learning curves [seeds, points] and its 95% bootstrap band."""
    curves = np.asarray(curves, dtype=float)
    middle = curves.mean(axis=0)
    if curves.shape[0] < 2:
        return middle, middle, middle
    result = stats.bootstrap(
        (curves,),
        mean,
        axis=0,
        n_resamples=N_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    # Points where every seed agrees have no spread to resample: the band is the mean itself.
    return middle, np.where(np.isnan(low), middle, low), np.where(np.isnan(high), middle, high)


def aggregate(scores, seed: int = 0) -> dict[str, object]:
    """Mean and IQM over seeds with their 95% bootstrap intervals (JSON-ready)."""
    x = np.asarray(scores, dtype=float)
    if len(x) == 0:
        return {"n": 0}
    return {
        "n": len(x),
        "mean": float(x.mean()),
        "mean_ci": list(bootstrap_ci(x, mean, seed)),
        "iqm": float(iqm(x)),
        "iqm_ci": list(bootstrap_ci(x, iqm, seed)),
        "median": float(np.median(x)),
        "std": float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        "min": float(x.min()),
        "max": float(x.max()),
    }
