"""The course's evaluation protocol: n episodes, sampled actions by default, capped at max_t.

The n episodes run side by side in a vector env (one sub-env each) rather than one after another:
the same protocol, n times fewer Python-level steps. Each sub-env starts from its own reset seed,
drawn from the evaluation seed (or fresh entropy), so the episodes are distinct levels, as the
course's one-after-another episodes are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import gymnasium as gym
import numpy as np

from .rollout import collect_batch
from .seeding import EVAL_RESETS, episode_seeds, vector_reset_seed


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

    @property
    def score(self) -> float:
        """mean - std: the number the course's pass bar is set on."""
        return self.mean_reward - self.std_reward

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(
            mean_reward=self.mean_reward,
            std_reward=self.std_reward,
            n_evaluation_episodes=len(self.returns),
        )
        return d


def evaluate_policy(
    act_batch: Callable[[np.ndarray], np.ndarray],
    envs: gym.vector.VectorEnv,
    env_id: str,
    max_t: int = 1000,
    seed: int | None = None,
    deterministic: bool = False,
    reset_seeds: list[int] | None = None,
) -> EvalResult:
    """One episode per sub-env of ``envs`` with ``act_batch`` ([n, obs_dim] -> [n] actions).

    Sub-env ``i`` starts from ``reset_seeds[i]`` (default: the evaluation stream of ``seed``, fresh
    entropy when it is None); ``seed`` is recorded in the result.
    """
    if reset_seeds is None:
        reset_seeds = evaluation_seeds(seed, envs.num_envs)
    batch = collect_batch(
        envs, act_batch, max_t, episodes_per_env=1, seed=vector_reset_seed(envs, reset_seeds)
    )
    return EvalResult(
        env_id=env_id,
        returns=batch.episode_returns,
        lengths=batch.episode_lengths,
        deterministic=deterministic,
        seed=seed,
    )


def evaluation_seeds(seed: int | None, n: int) -> list[int]:
    """The env-reset seeds of an evaluation's ``n`` episodes (and of a replay of them)."""
    return episode_seeds(seed, n, EVAL_RESETS)
