"""Built-in convolutional networks for image observations (frames [n, C, H, W] uint8), e.g.
Pixelcopter with ``obs_type="pixels"`` or CarRacing (transposed to channels first by the env
factory): a policy for discrete actions (logits), one for continuous actions (Gaussian means and a
``log_std``), and a value baseline of the same shape; or, for discrete actions, one body with both
heads (``CNNActorCritic``). Pixels are scaled to [0, 1] inside the
network, so observations stay uint8 until then."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

#: The smallest image side the convolutions take (an 8-pixel kernel at stride 4, then a 3-pixel one
#: at stride 2).
MIN_SIDE = 16
#: Output channels of the two convolutions unless configured (``cnn_channels``).
CHANNELS = (16, 32)


def conv_body(
    obs_shape: Sequence[int], channels: Sequence[int] = CHANNELS
) -> tuple[nn.Sequential, int]:
    """Two strided convolutions with ReLUs (48x48 -> 11x11 -> 5x5), flattened; and their width.
    Small on purpose: a CPU trains on every frame of every episode in a batch."""
    body = nn.Sequential(
        nn.Conv2d(obs_shape[0], channels[0], 8, stride=4),
        nn.ReLU(),
        nn.Conv2d(channels[0], channels[1], 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
    )
    with torch.no_grad():
        width = body(torch.zeros(1, *obs_shape)).shape[1]
    return body, width


class CNNPolicy(nn.Module):
    """frames -> convolutions -> hidden (ReLU) -> action logits."""

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int,
        hidden: int = 128,
        channels: Sequence[int] = CHANNELS,
    ) -> None:
        super().__init__()
        self.obs_shape, self.n_actions, self.hidden = list(obs_shape), n_actions, hidden
        self.channels = list(channels)
        body, width = conv_body(obs_shape, channels)
        self.net = nn.Sequential(
            body, nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, n_actions)
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames.float() / 255.0)


class CNNGaussianPolicy(CNNPolicy):
    """frames -> convolutions -> hidden (ReLU) -> action means, for continuous actions;
    ``log_std`` [action_dim] is a free parameter, as in ``GaussianMLP``."""

    def __init__(
        self,
        obs_shape: Sequence[int],
        action_dim: int,
        hidden: int = 128,
        log_std: float = -0.5,
        channels: Sequence[int] = CHANNELS,
    ) -> None:
        super().__init__(obs_shape, action_dim, hidden, channels)
        self.action_dim = action_dim
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std)))


class CNNValue(nn.Module):
    """frames -> convolutions -> hidden (ReLU) -> V(s): the policy's shape with one output."""

    def __init__(
        self, obs_shape: Sequence[int], hidden: int = 128, channels: Sequence[int] = CHANNELS
    ) -> None:
        super().__init__()
        self.obs_shape, self.hidden, self.channels = list(obs_shape), hidden, list(channels)
        body, width = conv_body(obs_shape, channels)
        self.net = nn.Sequential(body, nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames.float() / 255.0).squeeze(-1)


def block_sums(frames: torch.Tensor) -> torch.Tensor:
    """Sums of the 2x2 pixel blocks of frames [n, C, H, W] (uint8 or float): [n, C, H/2, W/2]
    float. Rows, then columns, in int16 for uint8 frames (exact); several times faster than
    ``avg_pool2d`` on one thread (measured)."""
    n, c, h, w = frames.shape
    h, w = h // 2 * 2, w // 2 * 2
    x = frames[:, :, :h, :w]
    x = x.to(torch.int16) if x.dtype == torch.uint8 else x.float()
    x = x.reshape(n, c, h // 2, 2, w)
    rows = (x[:, :, :, 0] + x[:, :, :, 1]).view(n, c, h // 2, w // 2, 2)
    return (rows[..., 0] + rows[..., 1]).float()


class CNNActorCritic(nn.Module):
    """One convolutional body, two heads: frames -> convolutions -> hidden (ReLU) -> action logits,
    and V(s) from the same hidden layer (``cnn_shared``). Half the convolution work of a policy and
    a value network side by side, and the acting pass yields V(s) of every visited state.

    The 1/255 scaling is folded into the first convolution's weights: the same function and
    gradients as scaling the input, without dividing a float copy of every frame (measured: a
    quarter of the separate networks' update time went to that division).

    ``downsample`` (``cnn_downsample``): the mean of every 2x2 pixel block first (48x48 ->
    24x24; an odd last row or column is dropped), then a 4x4 stride-2 first convolution, which
    covers the same 8x8 pixels with a quarter of the multiplications (that layer is
    compute-bound, in the acting pass and in the update).
    """

    def __init__(
        self,
        obs_shape: Sequence[int],
        n_actions: int,
        hidden: int = 128,
        channels: Sequence[int] = CHANNELS,
        downsample: bool = False,
    ) -> None:
        super().__init__()
        self.obs_shape, self.n_actions, self.hidden = list(obs_shape), n_actions, hidden
        self.channels, self.downsample = list(channels), downsample
        if downsample:
            self.conv1 = nn.Conv2d(obs_shape[0], channels[0], 4, stride=2)
        else:
            self.conv1 = nn.Conv2d(obs_shape[0], channels[0], 8, stride=4)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 3, stride=2)
        with torch.no_grad():
            width = self.body(torch.zeros(1, *obs_shape)).shape[1]
        self.fc = nn.Linear(width, hidden)
        self.policy_head = nn.Linear(hidden, n_actions)
        self.value_head = nn.Linear(hidden, 1)

    def body(self, frames: torch.Tensor) -> torch.Tensor:
        """The hidden features [n, width] of frames [n, C, H, W] (uint8 0-255, or float)."""
        conv1, scale = self.conv1, 1 / 255.0
        if self.downsample:
            frames, scale = block_sums(frames), 1 / (4 * 255.0)
        x = nn.functional.conv2d(
            frames.float(), conv1.weight * scale, conv1.bias, stride=conv1.stride
        )
        return self.conv2(x.relu()).relu().flatten(1)

    def logits_and_value(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Action logits [n, A] and V(s) [n] from one pass through the body."""
        z = self.fc(self.body(frames)).relu()
        return self.policy_head(z), self.value_head(z).squeeze(-1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.logits_and_value(frames)[0]
