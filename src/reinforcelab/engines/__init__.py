"""Update engines: what computes the gradients of an update (``base.py`` says what an engine is).

- ``NumpyEngine``: the built-in MLP on the CPU, with hand-written gradients (fast mode);
- ``TorchEngine``: autograd, for any ``torch.nn.Module`` policy, on the CPU or CUDA (course mode
  always; fast mode for torch policies and on CUDA).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import OptionError
from .base import (
    LR_SCHEDULES,
    Engine,
    PolicyTargets,
    apply_gradients,
    clip_by_global_norm,
    global_norm,
)

if TYPE_CHECKING:
    from ..policies.factory import AgentParts

__all__ = [
    "LR_SCHEDULES",
    "Engine",
    "PolicyTargets",
    "apply_gradients",
    "clip_by_global_norm",
    "global_norm",
    "make_engine",
    "resolve_device",
]


def make_engine(parts: AgentParts, lr: float, value_lr: float, device: str) -> Engine:
    """The numpy engine for the built-in numpy policies (and MLP baseline) on the CPU, torch
    otherwise (the actor-critic engine for a shared body, which ignores ``value_lr``)."""
    from ..policies.mlp import MLP, GaussianPolicy, MLPPolicy

    if (
        isinstance(parts.policy, (MLPPolicy, GaussianPolicy))
        and device == "cpu"
        and (parts.value is None or isinstance(parts.value, MLP))
    ):
        from .numpy_engine import NumpyEngine

        return NumpyEngine(parts.policy, parts.value, lr, value_lr)
    from .torch_engine import ActorCriticEngine, TorchEngine

    if parts.shared_body:
        return ActorCriticEngine(parts.policy, lr, device)
    return TorchEngine(parts.policy, parts.value, lr, value_lr, device)


def check_device(device: str) -> None:
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise OptionError(f"device must be auto, cpu or cuda[:N]; got {device!r}")


def resolve_device(device: str) -> str:
    """``auto``: CUDA when an NVIDIA driver is loaded and torch can use it, else the CPU. The driver
    check comes first so that a CPU-only machine never pays torch's import just to ask."""
    check_device(device)
    if device == "cpu":
        return device
    if device == "auto" and not os.path.exists("/proc/driver/nvidia/version"):
        return "cpu"
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise OptionError(
            f"device {device!r} was asked for, but torch finds no CUDA GPU; use device='cpu'"
        )
    return device
