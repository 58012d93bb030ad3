"""The MLPs as torch modules: the one MLP builder, and the modules that view the built-in numpy
MLPs (``MLP.torch_view``) for course mode's update, fast mode on CUDA, and as the autograd reference
that the hand-written numpy gradients are tested against."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def mlp(
    in_dim: int, hidden_sizes: Sequence[int], out_dim: int, activation: type[nn.Module] = nn.ReLU
) -> nn.Sequential:
    """Linear layers with ``activation`` after each hidden layer and none after the output."""
    layers: list[nn.Module] = []
    for width in hidden_sizes:
        layers += [nn.Linear(in_dim, width), activation()]
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class CategoricalPolicy(nn.Module):
    """state -> hidden (ReLU) ... -> action logits: the built-in policy as a torch module."""

    def __init__(self, obs_dim: int, n_actions: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.net = mlp(obs_dim, hidden_sizes, n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


class ValueBaseline(nn.Module):
    """State-value network V(s) used as a REINFORCE baseline (fast mode)."""

    def __init__(
        self, obs_dim: int, hidden_sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU
    ) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden_sizes, 1, activation)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)
