"""The built-in policy for continuous actions: a Gaussian whose mean is an MLP of the state and
whose log standard deviation is learned on its own (one per action dimension).

Actions are sampled unclipped; the env's ``ClipAction`` wrapper clips them only when they are sent
to the env, so the log-probabilities are those of the actions actually sampled.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .torch_mlp import mlp


class GaussianMLP(nn.Module):
    """state -> hidden (Tanh) ... -> action mean; ``log_std`` [action_dim] is a free parameter.

    A module used as a Gaussian policy returns the mean [n, action_dim] and has a ``log_std``
    parameter: write your own with the same two parts.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_sizes: Sequence[int] = (64, 64),
        log_std: float = -0.5,
    ) -> None:
        super().__init__()
        self.obs_dim, self.action_dim, self.hidden_sizes = obs_dim, action_dim, list(hidden_sizes)
        self.mean = mlp(obs_dim, hidden_sizes, action_dim, activation=nn.Tanh)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std)))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.mean(obs)
