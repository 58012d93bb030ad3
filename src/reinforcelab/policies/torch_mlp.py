"""The networks as torch modules: for course mode's update, fast mode on CUDA, and as the
autograd reference that the hand-written numpy gradients are tested against.

The numpy ``MLP`` (``nets.py``) owns the weights; ``as_torch`` views them as parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nets import MLP
from .base import categorical_terms


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
        return categorical_terms(torch.log_softmax(self.net(obs), dim=-1), actions)[0]


class ValueBaseline(nn.Module):
    """State-value network V(s) used as a REINFORCE baseline (fast mode)."""

    def __init__(self, obs_dim: int, hidden_sizes: Sequence[int]) -> None:
        super().__init__()
        self.net = mlp(obs_dim, hidden_sizes, 1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.net if isinstance(m, nn.Linear)]


def as_torch(net: MLP, kind: str = "policy", device: str | torch.device = "cpu") -> nn.Module:
    """A torch module computing ``net``. On the CPU its parameters share the numpy arrays' memory,
    so a torch optimizer step updates ``net`` in place; on another device they are copies (bring
    them back with ``copy_to_numpy``)."""
    module = (
        CategoricalPolicy(net.in_dim, net.out_dim, net.hidden_sizes)
        if kind == "policy"
        else ValueBaseline(net.in_dim, net.hidden_sizes)
    )
    for linear, (weight, bias) in zip(linears(module), net.layers):
        linear.weight = nn.Parameter(torch.from_numpy(weight).to(device))
        linear.bias = nn.Parameter(torch.from_numpy(bias).to(device))
    return module


@torch.no_grad()
def copy_to_numpy(module: nn.Module, net: MLP) -> None:
    """Write a module's weights back into the numpy network (in place)."""
    for linear, (weight, bias) in zip(linears(module), net.layers):
        weight[...] = linear.weight.cpu().numpy()
        bias[...] = linear.bias.cpu().numpy()


@torch.no_grad()
def to_mlp(module: nn.Module) -> MLP:
    """A numpy copy of a torch policy or value network."""
    return MLP(
        [(m.weight.cpu().numpy().copy(), m.bias.cpu().numpy().copy()) for m in linears(module)]
    )
