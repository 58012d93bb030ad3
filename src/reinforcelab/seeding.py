"""Where every random number comes from: one root seed, split into independent streams.

A user seed ``s`` (or fresh OS entropy when there is none) is the entropy of a
``numpy.random.SeedSequence``; each use gets its own stream by a spawn key, e.g. the env resets of
training batch ``k``. Streams of adjacent seeds ``s`` and ``s + 1`` share nothing (unlike seeding
sub-env ``i`` with ``s + i``, where seeds 0 and 1 would share all but one level), and batch ``k``'s
resets depend only on ``(s, k)``, so a resumed run needs no saved env state.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

# Spawn keys of the env-reset streams (the action samplers keep their own generators).
TRAIN_RESETS = 0
EVAL_RESETS = 1
EARLY_STOP_RESETS = 2


def root_entropy(seed: int | None) -> int:
    """The entropy of the root sequence: the user's seed, or fresh entropy (recorded, so an
    unseeded run can still be resumed exactly)."""
    if seed is not None:
        return int(seed)
    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)  # fresh entropy is one (128-bit) int
    return entropy


def stream(entropy: int | None, *key: int) -> np.random.SeedSequence:
    """The seed sequence of one stream (``entropy=None``: fresh entropy)."""
    return np.random.SeedSequence(entropy, spawn_key=key)


def episode_seeds(entropy: int | None, n: int, *key: int) -> list[int]:
    """``n`` env-reset seeds (32-bit, as every Gymnasium env accepts) for one stream."""
    return stream(entropy, *key).generate_state(n, dtype=np.uint32).tolist()


def group_seeds(entropy: int | None, n: int, group_size: int, *key: int) -> list[int]:
    """``n`` env-reset seeds in groups of ``group_size`` equal consecutive ones: the
    ``n // group_size`` seeds of ``episode_seeds(entropy, n // group_size, *key)``, each repeated,
    so each group of sub-envs shares its start and groups draw distinct ones. With
    ``group_size=1`` they are ``episode_seeds(entropy, n, *key)``."""
    return [s for s in episode_seeds(entropy, n // group_size, *key) for _ in range(group_size)]


def vector_reset_seed(envs: gym.vector.VectorEnv, seeds: list[int]) -> int | list[int]:
    """What ``envs.reset(seed=...)`` takes to start sub-env ``i`` from ``seeds[i]``: the list,
    or for a numpy-batched vector env that draws every sub-env from one generator (CartPole's)
    the first seed (see :func:`~reinforcelab.envs.make.seeds_each_sub_env`)."""
    from .envs.make import seeds_each_sub_env

    return list(seeds) if seeds_each_sub_env(envs) else seeds[0]
