"""Collecting experience: whole episodes from one env (course mode) or from vector envs (fast mode)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode


@dataclass
class Episode:
    """One episode: observations s_0..s_{T-1}, the actions taken in them and the rewards received."""

    obs: np.ndarray  # [T, obs_dim] float32
    actions: np.ndarray  # [T] int64
    rewards: np.ndarray  # [T] float64
    terminated: bool
    truncated: bool

    @property
    def length(self) -> int:
        return len(self.rewards)

    @property
    def total_reward(self) -> float:
        return float(self.rewards.sum())


def collect_episode(
    env: gym.Env,
    act: Callable[[np.ndarray], int],
    max_t: int,
    seed: int | None = None,
) -> Episode:
    """Play one episode with ``act`` for at most ``max_t`` steps, as the course loop does.

    ``seed`` is passed to ``env.reset``; later unseeded resets continue the env's own random stream.
    """
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards = [], [], []
    terminated = truncated = False
    for _ in range(max_t):
        action = act(obs)
        observations.append(obs)
        actions.append(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        if terminated or truncated:
            break
    return Episode(
        obs=np.asarray(observations, dtype=np.float32).reshape(len(rewards), -1),
        actions=np.asarray(actions, dtype=np.int64),
        rewards=np.asarray(rewards, dtype=np.float64),
        terminated=bool(terminated),
        truncated=bool(truncated) or (not terminated and len(rewards) == max_t),
    )


@dataclass
class Batch:
    """Transitions of a vector env over [time, env], with masks saying which ones count.

    Each sub-env contributes exactly its first ``episodes_per_env`` complete episodes from a reset,
    so every episode in the batch is whole (Monte Carlo returns need the whole episode) and the
    batch is an unbiased sample of episodes. Everything after those episodes, and the dead steps of
    NEXT_STEP autoreset, has ``valid`` false.
    """

    obs: np.ndarray  # [T + 1, N, obs_dim] float32, raw observations (s_T: after the last step)
    actions: np.ndarray  # [T, N] int64
    rewards: np.ndarray  # [T, N] float64, 0 where not valid
    valid: np.ndarray  # [T, N] bool: a real step of a counted episode
    episode_end: np.ndarray  # [T, N] bool: the last step of a counted episode
    truncated: np.ndarray  # [T, N] bool: an episode end by time limit or the max_t cap
    episode_returns: list[float]  # in start order (see episode_totals)
    episode_lengths: list[int]

    @property
    def env_steps(self) -> int:
        return int(self.valid.sum())

    @functools.cached_property
    def counted_index(self) -> np.ndarray:
        return np.flatnonzero(self.valid)

    def counted(self, values: np.ndarray) -> np.ndarray:
        """The entries of a [T, N, ...] array at counted steps, time-major: ``values[valid]``, but
        gathered by index (over ten times faster than a boolean mask over two axes)."""
        return np.take(values.reshape(-1, *values.shape[2:]), self.counted_index, axis=0)


def collect_batch(
    envs: gym.vector.VectorEnv,
    act: Callable[[np.ndarray], np.ndarray],
    max_t: int,
    episodes_per_env: int = 1,
    seed: int | None = None,
) -> Batch:
    """Run every sub-env until it has finished ``episodes_per_env`` episodes (each capped at max_t).

    ``act`` maps raw [N, obs_dim] observations to [N] actions. Handles the env's autoreset mode
    (NEXT_STEP: the step after an episode end is a dead step whose action is ignored; SAME_STEP: the
    reset happens inside the ending step). An episode cut by the max_t cap (not by the env) is
    still running inside the env, and a vector env cannot reset one sub-env on demand, so that
    sub-env's share of the batch ends with it.

    The stepping loop only records; which steps count is worked out afterwards over [T, N] at once.
    """
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        raise ValueError(f"unsupported autoreset mode {mode}; use NEXT_STEP or SAME_STEP")
    next_step = mode is AutoresetMode.NEXT_STEP
    n = envs.num_envs
    obs, _ = envs.reset(seed=seed)
    obs_list, action_list, reward_list, term_list, trunc_list = [obs], [], [], [], []
    episodes_done = np.zeros(n, dtype=np.int64)
    steps = np.zeros(n, dtype=np.int64)  # steps into the current episode (-1 on a dead step's eve)
    finished = np.zeros(n, dtype=bool)
    restart = -1 if next_step else 0
    while not finished.all():
        actions = act(obs)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        done = terminated | truncated
        steps += 1
        finished |= (steps >= max_t) & ~done  # cut by the cap: this sub-env's share ends
        steps[done] = restart
        episodes_done += done
        finished |= episodes_done >= episodes_per_env
        obs_list.append(obs)
        action_list.append(actions)
        reward_list.append(rewards)
        term_list.append(terminated)
        trunc_list.append(truncated)

    terminated, truncated = np.stack(term_list), np.stack(trunc_list)
    rewards = np.stack(reward_list).astype(np.float64)
    valid, episode_end, cut = count_steps(terminated, truncated, next_step, max_t, episodes_per_env)
    rewards[~valid] = 0.0
    returns, lengths = episode_totals(rewards, valid, episode_end)
    return Batch(
        obs=np.stack(obs_list).astype(np.float32, copy=False),
        actions=np.stack(action_list).astype(np.int64, copy=False),
        rewards=rewards,
        valid=valid,
        episode_end=episode_end,
        truncated=episode_end & ~terminated & (truncated | cut),
        episode_returns=returns,
        episode_lengths=lengths,
    )


def count_steps(
    terminated: np.ndarray, truncated: np.ndarray, next_step: bool, max_t: int, episodes_per_env: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks over [T, N]: (valid steps, last steps of counted episodes, steps cut by the max_t cap)."""
    T, n = terminated.shape
    done = terminated | truncated
    dead = np.zeros_like(done)
    if next_step:
        dead[1:] = done[:-1]  # the reset step after an end: action ignored, reward 0
    # Where each episode starts, then each step's position in its episode (1-based).
    t = np.arange(T)[:, None]
    starts = np.zeros_like(done)
    starts[0] = True
    if next_step:  # the first real step follows the dead step
        starts[2:] = done[:-2]
    else:
        starts[1:] = done[:-1]
    last_start = accumulate_rows(np.maximum, np.where(starts, t, 0))
    position = t - last_start + 1
    episode_index = accumulate_rows(np.add, done.astype(np.int32)) - done  # episodes ended before this step
    cut = (position == max_t) & ~done & ~dead
    # Once a cap cuts an episode, nothing later in that sub-env counts.
    cut_before = accumulate_rows(np.logical_or, cut) & ~cut
    valid = ~dead & (episode_index < episodes_per_env) & ~cut_before & (position <= max_t)
    episode_end = valid & (done | cut)
    return valid, episode_end, cut & valid


def episode_totals(rewards: np.ndarray, valid: np.ndarray, episode_end: np.ndarray) -> tuple[list[float], list[int]]:
    """Return and length of every counted episode, in the order they started: each sub-env's
    first episodes (env by env), then their second ones, and so on.

    Not in the order they finished: short episodes finish first, so the last 100 finished of a batch
    would be its longest ones, and a "last 100 episodes" average would be biased upwards.
    """
    reward_sum = accumulate_rows(np.add, rewards)
    step_sum = accumulate_rows(np.add, valid.astype(np.int32))
    # Episode ends env by env (each env's in time order) to difference consecutive cumulative sums.
    env_idx, t_idx = np.nonzero(episode_end.T)
    ret_cum, len_cum = reward_sum[t_idx, env_idx], step_sum[t_idx, env_idx]
    first = np.ones(len(env_idx), dtype=bool)
    first[1:] = env_idx[1:] != env_idx[:-1]
    ret = ret_cum - np.where(first, 0.0, np.roll(ret_cum, 1))
    length = len_cum - np.where(first, 0, np.roll(len_cum, 1))
    rank = np.arange(len(env_idx)) - np.maximum.accumulate(np.where(first, np.arange(len(env_idx)), 0))
    order = np.lexsort((env_idx, rank))  # start order: by episode number within its env, then env
    return ret[order].tolist(), length[order].astype(int).tolist()


def accumulate_rows(ufunc: np.ufunc, x: np.ndarray) -> np.ndarray:
    """``ufunc.accumulate(x, axis=0)``, one row at a time: for a [T, N] block with large N this is
    several times faster than numpy's own accumulate along the first axis."""
    out = np.empty_like(x)
    out[0] = x[0]
    for t in range(1, len(x)):
        ufunc(out[t - 1], x[t], out=out[t])
    return out
