"""Running observation normalisation (fast mode), saved with the model and applied at inference."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class RunningObsNorm(nn.Module):
    """Normalises inputs with a running mean and variance, clipped to +/- ``clip``.

    Statistics are merged per batch (Chan et al.'s parallel update) and live in buffers, so they are
    saved and loaded with the model's weights.
    """

    def __init__(self, obs_dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        super().__init__()
        self.clip = clip
        self.eps = eps
        self.register_buffer("mean", torch.zeros(obs_dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(obs_dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, batch: torch.Tensor) -> None:
        batch = batch.reshape(-1, self.mean.numel()).to(torch.float64)
        n = batch.shape[0]
        if n == 0:
            return
        batch_mean = batch.mean(0)
        batch_var = batch.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.var.copy_((self.var * self.count + batch_var * n + delta.square() * self.count * n / total) / total)
        self.count.copy_(total)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        mean = self.mean.to(obs.dtype)
        std = (self.var + self.eps).sqrt().to(obs.dtype)
        return ((obs - mean) / std).clamp(-self.clip, self.clip)

    def numpy_fn(self):
        """The same normalisation as a numpy function of observations (a frozen snapshot)."""
        mean = self.mean.cpu().numpy().astype(np.float32)
        std = np.sqrt(self.var.cpu().numpy() + self.eps).astype(np.float32)
        clip = self.clip
        return lambda obs: np.clip((np.asarray(obs, dtype=np.float32) - mean) / std, -clip, clip)
