"""Statistics over seeds that stay honest with few runs (after Agarwal et al., "Deep RL at the Edge
of the Statistical Precipice", 2021): the interquartile mean, percentile-bootstrap 95% confidence
intervals (``scipy.stats.bootstrap``), the probability of improvement and performance profiles.

The percentile bootstrap is used rather than scipy's default BCa: BCa is undefined when every
seed scores the same (CartPole's 500 ceiling does that), and the percentile interval is what
rliable reports.

Every mean score of the sweep (the progress line, the value Optuna is told, the ranking of
configurations and summary.json) is ``mean_score``, so they agree to the last bit.

scipy is imported by the functions that use it: the CLI imports this package, and scipy.stats
takes seconds to import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

CONFIDENCE = 0.95
N_RESAMPLES = 2000

Scores = Sequence[float] | np.ndarray
Statistic = Callable[..., Any]  # (scores, axis=...) -> a statistic per resample


def _scipy_stats() -> ModuleType:
    from scipy import stats

    return stats


def mean(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(scores, axis=axis)


def mean_score(scores: Scores) -> float | None:
    """The mean over seeds (None without any): the one the whole sweep reports and ranks by."""
    return float(mean(np.asarray(scores, dtype=float))) if len(scores) else None


def iqm(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% of the scores (25% trimmed from each end)."""
    return _scipy_stats().trim_mean(scores, 0.25, axis=axis)


def _percentile_bootstrap(
    samples: tuple[np.ndarray, ...], statistic: Statistic, seed: int, **options: Any
) -> tuple[Any, Any]:
    """(low, high) of scipy's 95% percentile bootstrap of ``statistic`` over ``samples``:
    ``N_RESAMPLES`` resamples drawn from ``seed``; ``options`` go to ``scipy.stats.bootstrap``."""
    result = _scipy_stats().bootstrap(
        samples,
        statistic,
        n_resamples=N_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
        **options,
    )
    low, high = result.confidence_interval
    return low, high


def bootstrap_ci(scores: Scores, statistic: Statistic = mean, seed: int = 0) -> tuple[float, float]:
    """95% percentile-bootstrap interval of ``statistic`` (vectorised with an ``axis`` argument)."""
    x = np.asarray(scores, dtype=float)
    if len(x) < 2 or np.all(x == x[0]):  # nothing to resample: the interval is the point
        value = float(statistic(x))
        return value, value
    low, high = _percentile_bootstrap((x,), statistic, seed)
    return float(low), float(high)


def probability_of_improvement(x: Scores, y: Scores, axis: int = -1) -> np.ndarray:
    """P(X > Y) + P(X = Y) / 2 for a run X of one configuration and a run Y of the other: the
    Mann-Whitney U statistic over all pairs, divided by the number of pairs."""
    a = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    b = np.moveaxis(np.asarray(y, dtype=float), axis, -1)
    greater = (a[..., :, None] > b[..., None, :]).mean(axis=(-2, -1))
    ties = (a[..., :, None] == b[..., None, :]).mean(axis=(-2, -1))
    return greater + 0.5 * ties


def probability_of_improvement_ci(x: Scores, y: Scores, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of the probability of improvement, each sample resampled on its
    own."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(a) < 2 or len(b) < 2:
        value = float(probability_of_improvement(a, b))
        return value, value
    low, high = _percentile_bootstrap((a, b), probability_of_improvement, seed, paired=False)
    if np.isnan(low):  # every resample gave the same value
        low = high = float(probability_of_improvement(a, b))
    return float(low), float(high)


def performance_profile(scores: Scores, thresholds: Scores) -> np.ndarray:
    """For each threshold tau, the fraction of runs scoring above tau (a survival function)."""
    x = np.asarray(scores, dtype=float)
    return (x[None, :] > np.asarray(thresholds, dtype=float)[:, None]).mean(axis=1)


def performance_profile_band(
    scores: Scores, thresholds: Scores, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """95% bootstrap band of the performance profile, over resampled runs."""
    x = np.asarray(scores, dtype=float)
    tau = np.asarray(thresholds, dtype=float)
    if len(x) < 2 or np.all(x == x[0]):
        profile = performance_profile(x, tau)
        return profile, profile
    rng = np.random.default_rng(seed)
    samples = x[rng.integers(0, len(x), size=(N_RESAMPLES, len(x)))]
    profiles = (samples[:, None, :] > tau[None, :, None]).mean(axis=2)
    low, high = np.percentile(profiles, [2.5, 97.5], axis=0)
    return low, high


def curve_band(curves: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds (rows) of learning curves [seeds, points] and its 95% bootstrap band."""
    curves = np.asarray(curves, dtype=float)
    middle = curves.mean(axis=0)
    if curves.shape[0] < 2:
        return middle, middle, middle
    low, high = _percentile_bootstrap((curves,), mean, seed, axis=0)
    # Points where every seed agrees have no spread to resample: the band is the mean itself.
    return middle, np.where(np.isnan(low), middle, low), np.where(np.isnan(high), middle, high)


def aggregate(scores: Scores, seed: int = 0) -> dict[str, object]:
    """Mean and IQM over seeds with their 95% bootstrap intervals (JSON-ready)."""
    x = np.asarray(scores, dtype=float)
    if len(x) == 0:
        return {"n": 0}
    return {
        "n": len(x),
        "mean": mean_score(x),
        "mean_ci": list(bootstrap_ci(x, mean, seed)),
        "iqm": float(iqm(x)),
        "iqm_ci": list(bootstrap_ci(x, iqm, seed)),
        "median": float(np.median(x)),
        "std": float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        "min": float(x.min()),
        "max": float(x.max()),
    }
