"""The course's REINFORCE loop written the straightforward way, step by step with autograd.

It is the yardstick for course mode: tests check that course mode's batched loss has the same
gradient (it lived in the package as ``reinforcelab.reference`` until 0.1).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch.distributions import Categorical

from reinforcelab.policies.torch_mlp import CategoricalPolicy


def act_step(policy: CategoricalPolicy, obs: np.ndarray) -> tuple[int, torch.Tensor]:
    """The course's Policy.act: softmax over the logits, sample, keep the graph of log pi(a|s)."""
    state = torch.from_numpy(np.asarray(obs, dtype=np.float32)).unsqueeze(0)
    probs = torch.softmax(policy(state), dim=1)
    dist = Categorical(probs)
    action = dist.sample()
    return action.item(), dist.log_prob(action)


def per_step_loss(
    saved_log_probs: list[torch.Tensor], rewards: list[float], gamma: float
) -> torch.Tensor:
    """The course's loss from per-step log-probs: returns built with a deque, standardised."""
    returns: deque[float] = deque(maxlen=len(rewards))
    for t in range(len(rewards))[::-1]:
        disc_return_t = returns[0] if len(returns) > 0 else 0
        returns.appendleft(gamma * disc_return_t + rewards[t])
    eps = np.finfo(np.float32).eps.item()
    returns_t = torch.tensor(returns)
    returns_t = (returns_t - returns_t.mean()) / (returns_t.std() + eps)
    return torch.cat([-log_prob * g for log_prob, g in zip(saved_log_probs, returns_t)]).sum()


def train_per_step(
    policy: CategoricalPolicy,
    env: gym.Env,
    n_episodes: int,
    max_t: int,
    gamma: float,
    lr: float,
    seed: int | None = None,
    stop_average: float | None = None,
    on_episode: Callable[[int, int], bool] | None = None,
) -> list[float]:
    """The course's training loop. Returns each episode's total reward.

    ``on_episode(episode, length)`` is called after each update; returning True stops training.
    """
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    scores: list[float] = []
    window: deque[float] = deque(maxlen=100)
    for i in range(n_episodes):
        saved_log_probs, rewards = [], []
        state, _ = env.reset(seed=seed if i == 0 else None)
        for _ in range(max_t):
            action, log_prob = act_step(policy, state)
            saved_log_probs.append(log_prob)
            state, reward, terminated, truncated, _ = env.step(action)
            rewards.append(reward)
            if terminated or truncated:
                break
        scores.append(sum(rewards))
        window.append(sum(rewards))
        loss = per_step_loss(saved_log_probs, rewards, gamma)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if stop_average is not None and len(window) == 100 and np.mean(window) >= stop_average:
            break
        if on_episode is not None and on_episode(i + 1, len(rewards)):
            break
    return scores
