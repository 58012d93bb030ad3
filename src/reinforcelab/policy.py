"""The categorical MLP policy and the optional state-value baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn


def mlp(in_dim: int, hidden_sizes: Sequence[int], out_dim: int) -> nn.Sequential:
    """Linear layers with a ReLU after each hidden layer and none after the output."""
    layers: list[nn.Module] = []
    for width in hidden_sizes:
        layers += [nn.Linear(in_dim, width), nn.ReLU()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class CategoricalPolicy(nn.Module):
    """state -> hidden (ReLU) ... -> action logits.

    Everything is computed from logits with log-softmax, so a saturated policy (a probability that
    underflows to 0) gives a log-probability of about -100 instead of NaN.
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.net = mlp(obs_dim, hidden_sizes, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)

    def log_probs(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log pi(a|s) for a batch of observations and the actions taken in them."""
        log_pi = torch.log_softmax(self.net(obs), dim=-1)
        return log_pi.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def log_probs_and_entropy(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        log_pi = torch.log_softmax(self.net(obs), dim=-1)
        chosen = log_pi.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
        entropy = -(log_pi.exp() * log_pi).sum(-1)
        return chosen, entropy

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False,
            generator: torch.Generator | None = None) -> torch.Tensor:
        """Actions for a batch of observations: sampled, or the most likely one."""
        logits = self.net(obs)
        if deterministic:
            return logits.argmax(-1)
        # Gumbel-max sampling: one uniform draw per logit, no softmax needed.
        u = torch.rand(logits.shape, generator=generator, dtype=logits.dtype, device=logits.device)
        gumbel = -torch.log(-torch.log(u.clamp_min(torch.finfo(u.dtype).tiny)))
        return (logits + gumbel).argmax(-1)


class NumpyActor:
    """A frozen numpy copy of a policy's weights, for acting during rollouts.

    Rollouts act once per environment step; a torch call costs several times more than these few
    small numpy products, so rollouts run here and only the update uses torch. Refresh it
    (``NumpyActor(policy)``) after every optimizer step.
    """

    def __init__(self, policy: CategoricalPolicy,
                 normalize: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        linears = [m for m in policy.net if isinstance(m, nn.Linear)]
        # Weights as (out, in) and biases as columns: a batch is processed as [features, n], so
        # the softmax's reductions run along the long, contiguous axis (numpy is slow along a
        # short last axis).
        self.layers = [
            (m.weight.detach().cpu().numpy().astype(np.float32),
             m.bias.detach().cpu().numpy().astype(np.float32)[:, None])
            for m in linears
        ]
        self.normalize = normalize

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """Logits [n_actions, n] for observations [n, obs_dim] (or [n_actions, 1] for one)."""
        x = obs if self.normalize is None else self.normalize(obs)
        x = np.asarray(x, dtype=np.float32).reshape(-1, self.layers[0][0].shape[1]).T
        for weight, bias in self.layers[:-1]:
            x = weight @ x
            x += bias
            np.maximum(x, 0.0, out=x)
        weight, bias = self.layers[-1]
        x = weight @ x
        x += bias
        return x

    def act(self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False) -> int:
        """The action for one observation."""
        logits = self.logits(obs)[:, 0]
        if deterministic:
            return int(np.argmax(logits))
        # Inverse-CDF sampling from softmax(logits); shifting by the max keeps exp() finite.
        cdf = np.cumsum(np.exp(logits - logits.max()))
        return int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))

    def act_batch(self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False) -> np.ndarray:
        """Actions [n] for a batch of observations [n, obs_dim]."""
        logits = self.logits(obs)
        if deterministic:
            return logits.argmax(0)
        logits -= logits.max(0)
        probs = np.exp(logits, out=logits)
        u = rng.random(probs.shape[1], dtype=np.float32) * probs.sum(0)
        # The action is the number of cdf entries at or below u (as searchsorted side="right").
        actions = np.zeros(probs.shape[1], dtype=np.int64)
        cdf = np.zeros(probs.shape[1], dtype=np.float32)
        for j in range(probs.shape[0] - 1):
            cdf += probs[j]
            actions += u >= cdf
        return actions


class ValueBaseline(nn.Module):
    """State-value network V(s) used as a REINFORCE baseline (fast mode)."""

    def __init__(self, obs_dim: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden_sizes, 1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)
