"""Running observation statistics: inputs normalised by a running mean and variance."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class ObsNorm:
    """Normalises observations with a running mean and variance, clipped to +/- ``clip``.

    Statistics are merged per batch (Chan et al.'s parallel update) in float64 and are saved with
    the weights, so inference normalises exactly as the last training rollout did.
    """

    def __init__(self, obs_dim: int, clip: float = 10.0, eps: float = 1e-8) -> None:
        self.clip = clip
        self.eps = eps
        self.mean = np.zeros(obs_dim, dtype=np.float64)
        self.var = np.ones(obs_dim, dtype=np.float64)
        self.count = np.zeros((), dtype=np.float64)

    def update(self, batch: np.ndarray) -> None:
        batch = np.asarray(batch, dtype=np.float64).reshape(-1, self.mean.size)
        n = batch.shape[0]
        if n == 0:
            return
        batch_mean = batch.mean(0)
        batch_var = batch.var(0)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.var[:] = (
            self.var * self.count + batch_var * n + delta**2 * self.count * n / total
        ) / total
        self.count[()] = total

    def frozen(self) -> Callable[[np.ndarray], np.ndarray]:
        """The current normalisation as a function of observations [..., obs_dim] (a snapshot)."""
        mean = self.mean.astype(np.float32)
        std = np.sqrt(self.var + self.eps).astype(np.float32)
        clip = self.clip
        return lambda obs: np.clip((np.asarray(obs, dtype=np.float32) - mean) / std, -clip, clip)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for name, array in self.state_dict().items():
            np.copyto(array, np.asarray(state[name], dtype=np.float64))
