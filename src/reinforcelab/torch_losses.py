"""The REINFORCE losses in torch autograd: course mode's update, fast mode's update on CUDA, and
the reference the hand-written numpy gradients (``fast_update.py``) are tested against."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from .fast_update import advantages, batch_returns
from .returns import reward_to_go, standardize
from .rollout import Batch, Episode
from .torch_nets import CategoricalPolicy, as_torch, copy_to_numpy
from .torch_optim import Adam

if TYPE_CHECKING:
    from .agent import Reinforce


def course_loss(policy: CategoricalPolicy, episode: Episode, gamma: float) -> torch.Tensor | None:
    """The course's loss, sum_t -log pi(a_t|s_t) * standardised G_t, from one batched forward pass.

    Returns None for a 1-step episode: its standardised return is 0 by definition (the course gets a
    NaN there), so it carries no gradient and the caller skips the optimizer step.
    """
    if episode.length < 2:
        return None
    # float64 reward-to-go cast to float32, as the course's torch.tensor(list of floats) does.
    returns = torch.as_tensor(reward_to_go(episode.rewards, gamma), dtype=torch.float32)
    advantages = standardize(returns)
    log_probs = policy.log_probs(torch.from_numpy(episode.obs), torch.from_numpy(episode.actions))
    return -(log_probs * advantages).sum()


def policy_loss(policy: CategoricalPolicy, obs: torch.Tensor, actions: torch.Tensor, adv: torch.Tensor,
                entropy_coef: float) -> torch.Tensor:
    """-mean(A * log pi(a|s)) - entropy_coef * mean(H): a mean, not the course's sum, so the step
    size does not grow with the batch."""
    log_probs, entropy = policy.log_probs_and_entropy(obs, actions)
    return -(log_probs * adv).mean() - entropy_coef * entropy.mean()


class TorchFastUpdate:
    """Fast mode's update with torch modules on ``agent.device`` (CUDA); the numpy networks get
    the new weights after every step."""

    def __init__(self, agent: "Reinforce") -> None:
        cfg = agent.config
        self.agent = agent
        self.policy = as_torch(agent.policy, "policy", agent.device)
        self.value = as_torch(agent.value, "value", agent.device) if agent.value is not None else None
        self.optimizers = [Adam(self.policy.parameters(), lr=cfg.lr)]
        if self.value is not None:
            self.optimizers.append(Adam(self.value.parameters(), lr=cfg.value_lr))

    def tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, device=self.agent.device)

    def __call__(self, batch: Batch) -> None:
        agent, cfg = self.agent, self.agent.config
        normalize = agent.observation_normalizer() or (lambda obs: obs)
        obs = self.tensor(normalize(batch.counted_obs))
        values = None
        with torch.no_grad():
            value_at = None
            if self.value is not None and cfg.truncation == "bootstrap":
                value_at = lambda o: self.value(self.tensor(normalize(o))).cpu().numpy()  # noqa: E731
            returns = batch_returns(batch, cfg.gamma, value_at)
        losses = []
        if self.value is not None:
            v = self.value(obs)
            values = v.detach().cpu().numpy()
            losses.append(0.5 * (v - self.tensor(returns.astype(np.float32))).square().mean())
        adv = self.tensor(advantages(batch, returns, values, cfg.return_norm))
        losses.append(policy_loss(self.policy, obs, self.tensor(batch.counted(batch.actions)), adv, cfg.entropy_coef))
        for optimizer in self.optimizers:
            optimizer.zero_grad()
        sum(losses).backward()
        for optimizer in self.optimizers:
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(optimizer.params, cfg.max_grad_norm)
            optimizer.step()
        copy_to_numpy(self.policy, agent.policy)
        if self.value is not None:
            copy_to_numpy(self.value, agent.value)
