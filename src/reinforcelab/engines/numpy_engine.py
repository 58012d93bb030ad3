"""The numpy engine: gradients of the built-in MLP policy (and MLP value baseline), written out by
hand, on the CPU.

For networks this small a handful of numpy products beats autograd several times over; the torch
engine is the reference these gradients are tested against. Inputs are laid out [features, n]
inside (see ``policies/mlp.py``) and run forward and backward in chunks (``chunks.py``).
"""

from __future__ import annotations

import numpy as np

from ..policies.mlp import MLP, GaussianPolicy, MLPPolicy
from ..returns import standardize
from .base import PolicyTargets
from .chunks import chunks
from .numpy_adam import NumpyAdam


class NumpyEngine:
    """Gradients of the numpy MLPs; Adam steps through :class:`NumpyAdam`."""

    uses_torch = False

    def __init__(
        self, policy: MLPPolicy | GaussianPolicy, value: MLP | None, lr: float, value_lr: float
    ) -> None:
        self.policy, self.value = policy, value
        self.optimizers = [NumpyAdam(policy.parameters(), lr=lr)]
        if value is not None:
            self.optimizers.append(NumpyAdam(value.parameters(), lr=value_lr))

    @property
    def has_value(self) -> bool:
        return self.value is not None

    def standardized(self, returns: np.ndarray) -> np.ndarray:
        return standardize(returns)

    def values(self, obs: np.ndarray) -> np.ndarray:
        assert self.value is not None
        return self.value.forward(obs.T)[0]

    def value_gradients(
        self, obs: np.ndarray, returns: np.ndarray
    ) -> tuple[list[np.ndarray], np.ndarray]:
        assert self.value is not None
        n, x, grads, values = len(returns), obs.T, None, []
        for c in chunks(n):
            activations = self.value.forward_keep(x[:, c])
            v = activations[-1][0]
            d_out = ((v - returns[c]) / n)[None, :].astype(np.float32)  # d 0.5 * mean((V - G)^2)
            grads = add_into(grads, self.value.backward(activations, d_out))
            values.append(v)
        assert grads is not None
        return grads, np.concatenate(values)

    def policy_gradients(self, targets: PolicyTargets, stats: dict[str, float]) -> list[np.ndarray]:
        if targets.reduction != "mean":
            raise ValueError(
                "the numpy engine averages over the batch (fast mode); course mode's sum "
                "runs on the torch engine"
            )
        actions, weights, entropy_coef = targets.actions, targets.weights, targets.entropy_coef
        assert isinstance(weights, np.ndarray)
        n, x, grads = len(actions), targets.obs.T, None
        stats.setdefault("policy_loss", 0.0)
        stats.setdefault("entropy", 0.0)
        for c in chunks(n):
            activations = self.policy.forward_keep(x[:, c])
            # the distribution's own part: d loss / d outputs, and its other parameters' gradients
            d_out, extra = self.policy.output_gradient(
                activations[-1], actions[c], weights[c], entropy_coef, n, stats
            )
            grads = add_into(grads, [*self.policy.backward(activations, d_out), *extra])
        assert grads is not None
        return grads

    def after_step(self) -> None:
        pass


def add_into(total: list[np.ndarray] | None, grads: list[np.ndarray]) -> list[np.ndarray]:
    """Sum per-chunk gradients: ``total += grads`` in place (the first chunk's arrays are
    reused)."""
    if total is None:
        return grads
    for t, g in zip(total, grads):
        t += g
    return total
