"""The course's evaluation protocol: n episodes, sampled actions by default, capped at max_t."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import gymnasium as gym
import numpy as np

from .rollout import collect_episode


@dataclass
class EvalResult:
    """Returns of the evaluation episodes, their mean and population std (as the course reports)."""

    env_id: str
    returns: list[float]
    lengths: list[int]
    deterministic: bool
    seed: int | None
    eval_datetime: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())

    @property
    def mean_reward(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_reward(self) -> float:
        return float(np.std(self.returns))  # population std (ddof=0), as the course

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(mean_reward=self.mean_reward, std_reward=self.std_reward,
                 n_evaluation_episodes=len(self.returns))
        return d


def evaluate_policy(
    act: Callable[[np.ndarray], int],
    env: gym.Env,
    env_id: str,
    n_episodes: int = 10,
    max_t: int = 1000,
    seed: int | None = None,
    deterministic: bool = False,
) -> EvalResult:
    """Play ``n_episodes`` with ``act`` on ``env``; the first reset is seeded, later ones continue."""
    returns, lengths = [], []
    for i in range(n_episodes):
        episode = collect_episode(env, act, max_t, seed=seed if i == 0 else None)
        returns.append(episode.total_reward)
        lengths.append(episode.length)
    return EvalResult(env_id=env_id, returns=returns, lengths=lengths,
                      deterministic=deterministic, seed=seed)
