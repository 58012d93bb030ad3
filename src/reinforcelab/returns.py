"""Reward-to-go and return standardisation: small pure functions."""

from __future__ import annotations

from typing import TypeVar

import numpy as np

Array = TypeVar("Array")  # a numpy array or a torch tensor

# The course adds float32 machine epsilon to the standard deviation.
EPS = float(np.finfo(np.float32).eps)


def reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + gamma * G_{t+1} for one episode, in float64: one env of ``discounted_returns``."""
    rewards = np.asarray(rewards, dtype=np.float64).reshape(-1, 1)
    return discounted_returns(rewards, np.zeros(rewards.shape, dtype=bool), gamma)[:, 0]


def standardize(returns: Array) -> Array:
    """(G - mean) / (std + eps) with the unbiased std, as the course does (numpy or torch, 1-D).

    A single return has no spread (its unbiased std is undefined and the course gets NaN); it carries
    no signal relative to itself, so its standardised value is defined as 0.
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
    for t in range(len(returns) - 2, -1, -1):  # G_t = r_t + gamma * G_{t+1}, restarting after ends
        returns[t] += carry[t] * returns[t + 1]
    return returns
