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


def vector_reset_seed(envs: gym.vector.VectorEnv, seeds: list[int]) -> int | list[int]:
    """What ``envs.reset(seed=...)`` takes to start sub-env ``i`` from ``seeds[i]``.

    Sync and async vector envs, EnvPool and our Pixelcopter twin seed each sub-env; numpy-batched
    vector envs such as CartPole's draw every sub-env from one generator, which takes one int.
    """
    from .envs import PixelcopterVectorEnv
    from .envs.envpool_env import EnvPoolVectorEnv

    per_sub_env = (
        gym.vector.SyncVectorEnv,
        gym.vector.AsyncVectorEnv,
        PixelcopterVectorEnv,
        EnvPoolVectorEnv,
    )
    if isinstance(envs.unwrapped, per_sub_env):
        return list(seeds)
    return seeds[0]
