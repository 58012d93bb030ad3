"""Collecting experience: whole episodes from one env (course mode) or from vector envs (fast mode)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
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

    obs: torch.Tensor  # [T + 1, N, obs_dim] float32, raw observations (s_T: after the last step)
    actions: torch.Tensor  # [T, N] int64
    rewards: torch.Tensor  # [T, N] float32, 0 where not valid
    valid: torch.Tensor  # [T, N] bool: a real step of a counted episode
    episode_end: torch.Tensor  # [T, N] bool: the last step of a counted episode
    truncated: torch.Tensor  # [T, N] bool: an episode end by time limit or the max_t cap
    episode_returns: list[float]  # in completion order
    episode_lengths: list[int]

    @property
    def env_steps(self) -> int:
        return int(self.valid.sum())


def collect_batch(
    envs: gym.vector.VectorEnv,
    act: Callable[[np.ndarray], np.ndarray],
    max_t: int,
    episodes_per_env: int = 1,
    seed: int | None = None,
) -> Batch:
    """Run every sub-env until it has finished ``episodes_per_env`` episodes (each capped at max_t).

    ``act`` maps raw [N, obs_dim] observations to [N] actions. Handles the env's autoreset mode (NEXT_STEP: the step after an episode end is a
    dead step whose action is ignored; SAME_STEP: the reset happens inside the ending step).
    """
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        raise ValueError(f"unsupported autoreset mode {mode}; use NEXT_STEP or SAME_STEP")
    n = envs.num_envs
    obs, _ = envs.reset(seed=seed)
    obs_list = [obs]
    actions_list, rewards_list, valid_list, end_list, trunc_list = [], [], [], [], []
    episodes_done = np.zeros(n, dtype=np.int64)
    steps_in_episode = np.zeros(n, dtype=np.int64)
    running_return = np.zeros(n, dtype=np.float64)
    dead = np.zeros(n, dtype=bool)  # this step only resets the sub-env (NEXT_STEP)
    returns_out: list[float] = []
    lengths_out: list[int] = []

    while (episodes_done < episodes_per_env).any():
        actions = act(obs)
        obs, rewards, terminated, truncated, _ = envs.step(actions)
        env_done = terminated | truncated
        counting = (episodes_done < episodes_per_env) & ~dead
        steps_in_episode += counting
        capped = counting & (steps_in_episode >= max_t) & ~terminated
        truncated = truncated | capped
        ended = counting & (terminated | truncated)
        running_return += np.where(counting, rewards, 0.0)

        actions_list.append(actions)
        rewards_list.append(np.where(counting, rewards, 0.0))
        valid_list.append(counting)
        end_list.append(ended)
        trunc_list.append(ended & truncated & ~terminated)
        for i in np.flatnonzero(ended):
            returns_out.append(float(running_return[i]))
            lengths_out.append(int(steps_in_episode[i]))
        running_return[ended] = 0.0
        steps_in_episode[ended] = 0
        episodes_done += ended
        # An episode cut by our max_t cap (not by the env) is still running inside the env, and a
        # vector env cannot reset one sub-env on demand: that sub-env's share of the batch ends here.
        episodes_done[capped] = episodes_per_env
        if mode is AutoresetMode.NEXT_STEP:
            dead = env_done
        obs_list.append(obs)

    stack = lambda xs, dtype: torch.as_tensor(np.stack(xs), dtype=dtype)  # noqa: E731
    return Batch(
        obs=stack(obs_list, torch.float32),
        actions=stack(actions_list, torch.int64),
        rewards=stack(rewards_list, torch.float32),
        valid=stack(valid_list, torch.bool),
        episode_end=stack(end_list, torch.bool),
        truncated=stack(trunc_list, torch.bool),
        episode_returns=returns_out,
        episode_lengths=lengths_out,
    )
