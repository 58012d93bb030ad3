"""The agent's networks as numpy arrays: ReLU MLPs with hand-written gradients, and running
observation statistics.

numpy, not torch, holds the weights: networks this small (a few hundred to a few thousand
parameters) run faster as a handful of numpy products than through autograd, and a process that
only trains in fast mode, evaluates or plays back never pays torch's multi-second import. Course
mode trains the same arrays through torch (``policies/torch_mlp.py``), sharing their memory.

Batches are laid out as [features, n]: reductions over actions then run along the long, contiguous
axis (numpy is slow along a short last axis).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class MLP:
    """Linear layers with a ReLU after each hidden layer. Weights are [out, in] float32 and biases
    [out] float32, named as torch's ``nn.Sequential`` would name them (``net.0.weight``, ...)."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.layers = layers

    @classmethod
    def random(
        cls, in_dim: int, hidden_sizes: Sequence[int], out_dim: int, rng: np.random.Generator
    ) -> MLP:
        """torch.nn.Linear's default initialisation: weights and biases uniform in +/- 1/sqrt(fan_in)."""
        layers = []
        for width in [*hidden_sizes, out_dim]:
            bound = 1.0 / np.sqrt(in_dim)
            weight = rng.uniform(-bound, bound, (width, in_dim)).astype(np.float32)
            bias = rng.uniform(-bound, bound, width).astype(np.float32)
            layers.append((weight, bias))
            in_dim = width
        return cls(layers)

    @property
    def in_dim(self) -> int:
        return self.layers[0][0].shape[1]

    @property
    def out_dim(self) -> int:
        return self.layers[-1][0].shape[0]

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return tuple(w.shape[0] for w, _ in self.layers[:-1])

    def parameters(self) -> list[np.ndarray]:
        return [p for layer in self.layers for p in layer]

    def copy(self) -> MLP:
        return MLP([(w.copy(), b.copy()) for w, b in self.layers])

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs [out, n] for inputs [in, n]."""
        return self.forward_keep(x)[-1]

    def forward_keep(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for inputs [in, n] (the inputs first, the outputs last): what
        ``backward`` needs."""
        activations = [np.asarray(x, dtype=np.float32)]
        for i, (weight, bias) in enumerate(self.layers):
            h = weight @ activations[-1]
            h += bias[:, None]
            if i < len(self.layers) - 1:
                np.maximum(h, 0.0, out=h)
            activations.append(h)
        return activations

    def backward(self, activations: list[np.ndarray], grad_out: np.ndarray) -> list[np.ndarray]:
        """Gradients of a loss w.r.t. ``parameters()``, given d loss / d outputs ([out, n])."""
        grads: list[np.ndarray] = []
        g = grad_out
        for i in range(len(self.layers) - 1, -1, -1):
            weight, _ = self.layers[i]
            grads += [g.sum(1), g @ activations[i].T]  # bias, weight (reversed below)
            if i > 0:
                g = weight.T @ g
                g *= activations[i] > 0  # ReLU: no gradient where the unit was off
        return grads[::-1]

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {}
        for i, (weight, bias) in enumerate(self.layers):
            out[f"net.{2 * i}.weight"], out[f"net.{2 * i}.bias"] = weight, bias
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy ``state`` into the existing arrays (in place: torch views of them stay valid)."""
        for name, array in self.state_dict().items():
            np.copyto(array, np.asarray(state[name], dtype=np.float32))


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

    def frozen(self):
        """The current normalisation as a function of observations [..., obs_dim] (a snapshot)."""
        mean = self.mean.astype(np.float32)
        std = np.sqrt(self.var + self.eps).astype(np.float32)
        clip = self.clip
        return lambda obs: np.clip((np.asarray(obs, dtype=np.float32) - mean) / std, -clip, clip)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.frozen()(obs)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        for name, array in self.state_dict().items():
            np.copyto(array, np.asarray(state[name], dtype=np.float64))
