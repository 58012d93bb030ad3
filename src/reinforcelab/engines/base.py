"""The engine protocol: what computes the gradients of an update, and the one place they are
applied.

An engine turns observations, actions and per-step weights (advantages) into the policy's
gradients, and returns into the value baseline's; :func:`apply_gradients` then clips each
network's gradients and steps its optimizer, whichever engine made them. Two engines:

- ``NumpyEngine``: the built-in MLP on the CPU, with hand-written gradients (fast mode);
- ``TorchEngine``: autograd, for any ``torch.nn.Module`` policy, on the CPU or CUDA (course mode
  always; fast mode for torch policies and on CUDA). It is also the reference the numpy
  engine's gradients are tested against.

The training loops (``loops.py``) hold the update's skeleton: batch -> returns and advantages ->
engine gradients -> ``apply_gradients``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import torch

#: An array an engine computes with: numpy for the numpy engine, a torch tensor for the torch
#: engine (where a parameter the loss does not reach has the gradient None).
Array: TypeAlias = "np.ndarray | torch.Tensor"
Gradients: TypeAlias = "Sequence[np.ndarray | torch.Tensor | None]"
Reduction = Literal["mean", "sum"]


@dataclass(frozen=True)
class PolicyTargets:
    """What the policy's loss is made of: -reduce(weights * log pi(a|s)) - entropy_coef * mean(H).

    ``obs`` [n, ...] as the policy sees them (normalised when the agent normalises), ``actions``
    [n] or [n, action_dim], ``weights`` [n] (advantages); ``reduction``: ``mean`` (fast mode,
    so the step size does not grow with the batch) or ``sum`` (the course's loss).
    """

    obs: np.ndarray
    actions: np.ndarray
    weights: Array
    entropy_coef: float = 0.0
    reduction: Reduction = "mean"


class Optimizer(Protocol):
    """Adam over one network's parameters. ``lr`` is the step size in use, ``base_lr`` the
    configured one, which the learning-rate schedule scales."""

    lr: float
    base_lr: float

    def step(self, grads: Gradients) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, saved: dict[str, Any]) -> None: ...


class Engine(Protocol):
    """Computes an update's gradients. Observations come in as the policy sees them (normalised
    when the agent normalises), numpy [n, ...]; returns [n]."""

    #: whether the engine runs torch (the loop then limits torch's threads too)
    uses_torch: bool

    @property
    def optimizers(self) -> Sequence[Optimizer]:
        """The policy's optimizer, then the value baseline's when there is one."""

    @property
    def has_value(self) -> bool: ...

    def standardized(self, returns: np.ndarray) -> Array:
        """(G - mean) / (std + eps) of one episode's returns [n] (float32) in the engine's own
        arithmetic: course mode standardises in torch, as the course does."""

    def values(self, obs: np.ndarray) -> np.ndarray:
        """V(s) [n] of the value baseline (to bootstrap at cuts)."""

    def value_gradients(self, obs: np.ndarray, returns: np.ndarray) -> tuple[Gradients, np.ndarray]:
        """Gradients of 0.5 * mean((V(s) - G)^2), and the values V(s) [n] of the same forward
        pass."""

    def policy_gradients(self, targets: PolicyTargets, stats: dict[str, float]) -> Gradients:
        """Gradients of the policy's loss; adds its ``policy_loss`` (the first term) and mean
        ``entropy`` to ``stats``."""

    def after_step(self) -> None:
        """Called after the optimizer steps (a GPU copy of the numpy MLP is written back)."""


#: Learning-rate schedules: the factor on ``base_lr`` at a fraction of the budget used.
LR_SCHEDULES: dict[str, Callable[[float], float]] = {
    "constant": lambda progress: 1.0,
    "linear": lambda progress: max(0.0, 1.0 - progress),
}


def global_norm(grads: Gradients) -> float:
    """The L2 norm of all gradients together (numpy arrays or torch tensors; None skipped)."""
    return math.sqrt(sum(float(g.ravel() @ g.ravel()) for g in grads if g is not None))


def clip_by_global_norm(grads: Gradients, max_norm: float) -> None:
    """Scale gradients in place so that their global L2 norm is at most ``max_norm``."""
    scale = max_norm / (global_norm(grads) + 1e-6)
    if scale < 1.0:
        for g in grads:
            if g is not None:
                g *= scale


def apply_gradients(
    engine: Engine,
    grads: Sequence[Gradients | None],
    max_grad_norm: float | None = None,
    lr_factor: float = 1.0,
) -> None:
    """One optimizer step per network: ``grads[i]`` for ``engine.optimizers[i]`` (None: no step of
    that one), each clipped to ``max_grad_norm`` (if set) on its own, at ``lr_factor`` times its
    base learning rate."""
    for optimizer, group in zip(engine.optimizers, grads):
        if group is None:
            continue
        if max_grad_norm is not None:
            clip_by_global_norm(group, max_grad_norm)
        optimizer.lr = optimizer.base_lr * lr_factor
        optimizer.step(group)
    engine.after_step()
