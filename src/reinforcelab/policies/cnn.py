"""Built-in convolutional networks for image observations (frames [n, C, H, W] uint8), e.g.
Pixelcopter with ``obs_type="pixels"`` or CarRacing (transposed to channels first by the env
factory): a policy for discrete actions (logits), one for continuous actions (Gaussian means and a
``log_std``), and a value baseline of the same shape. Pixels are scaled to [0, 1] inside the
network, so observations stay uint8 until then."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

#: The smallest image side the convolutions take (an 8-pixel kernel at stride 4, then a 3-pixel one
#: at stride 2).
MIN_SIDE = 16


def conv_body(obs_shape: Sequence[int]) -> tuple[nn.Sequential, int]:
    """Two strided convolutions with ReLUs (48x48 -> 11x11 -> 5x5), flattened; and their width.
    Small on purpose: a CPU trains on every frame of every episode in a batch."""
    channels = obs_shape[0]
    body = nn.Sequential(
        nn.Conv2d(channels, 16, 8, stride=4),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
    )
    with torch.no_grad():
        width = body(torch.zeros(1, *obs_shape)).shape[1]
    return body, width


class CNNPolicy(nn.Module):
    """frames -> convolutions -> hidden (ReLU) -> action logits."""

    def __init__(self, obs_shape: Sequence[int], n_actions: int, hidden: int = 128) -> None:
        super().__init__()
        self.obs_shape, self.n_actions, self.hidden = list(obs_shape), n_actions, hidden
        body, width = conv_body(obs_shape)
        self.net = nn.Sequential(
            body, nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, n_actions)
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames.float() / 255.0)


class CNNGaussianPolicy(CNNPolicy):
    """frames -> convolutions -> hidden (ReLU) -> action means, for continuous actions;
    ``log_std`` [action_dim] is a free parameter, as in ``GaussianMLP``."""

    def __init__(
        self, obs_shape: Sequence[int], action_dim: int, hidden: int = 128, log_std: float = -0.5
    ) -> None:
        super().__init__(obs_shape, action_dim, hidden)
        self.action_dim = action_dim
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std)))


class CNNValue(nn.Module):
    """frames -> convolutions -> hidden (ReLU) -> V(s): the policy's shape with one output."""

    def __init__(self, obs_shape: Sequence[int], hidden: int = 128) -> None:
        super().__init__()
        self.obs_shape, self.hidden = list(obs_shape), hidden
        body, width = conv_body(obs_shape)
        self.net = nn.Sequential(body, nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames.float() / 255.0).squeeze(-1)
