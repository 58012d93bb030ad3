"""Returns and advantages: reward-to-go, standardisation, and the returns of a batch of episodes
(masked, bootstrapped at truncations) that both update engines weight their log-probabilities by."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

from .rollout import Batch, accumulate_rows

Array = TypeVar("Array", np.ndarray, "torch.Tensor")

# The course adds float32 machine epsilon to the standard deviation.
EPS = float(np.finfo(np.float32).eps)


def reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1} for one episode, in float64: one env of
    ``discounted_returns``."""
    rewards = np.asarray(rewards, dtype=np.float64).reshape(-1, 1)
    return discounted_returns(rewards, np.zeros(rewards.shape, dtype=bool), gamma)[:, 0]


def standardize(returns: Array) -> Array:
    """(G - mean) / (std + eps) with the unbiased std, as the course does (numpy or torch, 1-D).

    A single return has no spread (its unbiased std is undefined and the course gets NaN); it
    carries no signal relative to itself, so its standardised value is defined as 0.
    """
    if len(returns) < 2:
        return returns * 0
    std = returns.std(ddof=1) if isinstance(returns, np.ndarray) else returns.std()
    return (returns - returns.mean()) / (std + EPS)


def discounted_returns(
    rewards: np.ndarray,
    episode_end: np.ndarray,
    gamma: float,
    bootstrap: np.ndarray | None = None,
) -> np.ndarray:
    """Reward-to-go over a [time, env] block of transitions, never crossing an episode boundary.

    Args:
        rewards: [T, N] rewards (0 at steps that do not count).
        episode_end: [T, N] bool, true where the step ends an episode (terminated, truncated or
            cut); the running return restarts there.
        gamma: discount factor.
        bootstrap: optional [T, N] values added at episode ends (gamma * V(s_T) at truncations,
            0 elsewhere): G_T = r_T + gamma * V(s_T).

    Computed backwards in numpy float64: one vectorised step per time index.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if bootstrap is not None:
        rewards = rewards + bootstrap
    carry = np.where(episode_end, 0.0, gamma)
    returns = rewards.copy()
    later = np.empty(returns.shape[1:])  # one row's carry * G_{t+1}, without a fresh array per row
    for t in range(len(returns) - 2, -1, -1):  # G_t = r_t + gamma * G_{t+1}, restarting after ends
        returns[t] += np.multiply(carry[t], returns[t + 1], out=later)
    return returns


def episode_ids(valid: np.ndarray, episode_end: np.ndarray) -> np.ndarray:
    """[T, N] index of the episode each step belongs to (unique across envs)."""
    ends_before = accumulate_rows(np.add, episode_end.astype(np.int64)) - episode_end
    per_env = int(episode_end.sum(0).max(initial=0)) + 1
    return ends_before + np.arange(valid.shape[1]) * per_env


def per_episode_standardize(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Standardise each episode's values on their own (unbiased std; 1-step episodes give 0)."""
    _, ids = np.unique(ids, return_inverse=True)
    count = np.bincount(ids).astype(np.float64)
    mean = np.bincount(ids, values) / count
    centred = values - mean[ids]
    std = np.sqrt(np.bincount(ids, centred**2) / np.maximum(count - 1, 1))
    out = centred / (std[ids] + np.finfo(np.float32).eps)
    return np.where(count[ids] > 1, out, 0.0)


def batch_returns(
    batch: Batch,
    gamma: float,
    value_at: Callable[[np.ndarray], np.ndarray] | None,
    reward_scale: float = 1.0,
) -> np.ndarray:
    """Discounted returns [S] of the counted steps, in ``batch.counted_obs`` order, of the rewards
    times ``reward_scale``.

    ``value_at`` (raw observations [m, obs_dim] -> values [m], in the scaled units) bootstraps
    truncated episodes: G_T = r_T + gamma * V(s_T). Without it a truncation ends the return like a
    termination.
    """
    bootstrap = None
    if value_at is not None and batch.truncated.any():
        t, n = np.nonzero(batch.truncated)
        bootstrap = np.zeros(batch.rewards.shape)
        bootstrap[t, n] = gamma * np.asarray(value_at(batch.obs[t + 1, n]), dtype=np.float64)
    rewards = batch.rewards if reward_scale == 1.0 else batch.rewards * reward_scale
    returns = discounted_returns(rewards, batch.episode_end, gamma, bootstrap)
    return batch.counted(returns)


def on_grid(batch: Batch, values: np.ndarray) -> np.ndarray:
    """Counted-step values [S] back on the batch's [T, N] grid, 0 at the steps that do not count
    (the inverse of ``batch.counted``)."""
    grid = np.zeros(batch.valid.size)
    grid[batch.counted_index] = values
    return grid.reshape(batch.valid.shape)


def leave_one_out(returns: np.ndarray, group_size: int) -> np.ndarray:
    """RLOO's advantage, per step: each episode's return-to-go at step t minus the mean of the
    other ``group_size - 1`` episodes' of its group at the same step t.

    ``returns`` [T, N]: column n is sub-env n's one episode from its reset, row t its step t, 0
    after the episode's end (an episode that ended has nothing more to come); groups are
    consecutive columns. The baseline of an episode is made of the others alone, which are
    independent of it given the shared start: subtracting it leaves the expected gradient as it
    was (tests/core/test_group_baselines.py). It equals ``K / (K - 1) * (G - group mean)``.
    """
    T, n = returns.shape
    groups = returns.reshape(T, n // group_size, group_size)
    others = (groups.sum(axis=2, keepdims=True) - groups) / (group_size - 1)
    return (groups - others).reshape(T, n)


def group_standardize(values: np.ndarray, group_size: int) -> np.ndarray:
    """GRPO's normalisation, per step: (x - group mean) / (group std + eps) over each group's
    ``group_size`` values at step t (unbiased std, eps as in ``standardize``; ended episodes count
    as 0, as in ``leave_one_out``). A group whose values are equal gets 0. Dividing by a std
    estimated from the same episodes biases the gradient (docs/group_baselines.md)."""
    T, n = values.shape
    groups = values.reshape(T, n // group_size, group_size)
    centred = groups - groups.mean(axis=2, keepdims=True)
    std = groups.std(axis=2, ddof=1, keepdims=True)
    return (centred / (std + EPS)).reshape(T, n)


def advantages(
    batch: Batch,
    returns: np.ndarray,
    values: np.ndarray | None,
    return_norm: str,
    baseline: str = "none",
    group_size: int = 1,
) -> np.ndarray:
    """What each step's log-probability is weighted by: the return, minus the baseline if any
    (V(s), or the leave-one-out mean of the group), standardised over the batch, per episode (the
    course's choice), per step over each group (GRPO), or not at all.

    The group options need a batch of one episode per sub-env from a reset shared by each group
    of ``group_size`` consecutive sub-envs (``FastMode`` checks that).
    """
    adv = returns - values if values is not None else returns
    if baseline == "leave-one-out":
        adv = batch.counted(leave_one_out(on_grid(batch, adv), group_size))
    if return_norm == "batch":
        adv = standardize(adv)
    elif return_norm == "episode":
        adv = per_episode_standardize(
            adv, batch.counted(episode_ids(batch.valid, batch.episode_end))
        )
    elif return_norm == "group":
        adv = batch.counted(group_standardize(on_grid(batch, adv), group_size))
    return adv.astype(np.float32)
