"""Update engines: numpy (hand-written gradients, the built-in MLP on the CPU) and torch (autograd,
any torch module, CPU or CUDA). An engine receives the parts it updates, never the agent."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import TrainConfig
from ..nets import MLP, ObsNorm

if TYPE_CHECKING:
    from ..policies.base import Policy


def fast_engine(
    policy: Policy, value: MLP | None, obs_norm: ObsNorm | None, config: TrainConfig, device: str
):
    """Fast mode's engine: numpy for the built-in MLP (and MLP baseline) on the CPU, torch otherwise."""
    if policy.kind == "mlp" and device == "cpu" and (value is None or isinstance(value, MLP)):
        from .numpy_engine import NumpyEngine

        return NumpyEngine(policy, value, obs_norm, config)
    from .torch_engine import TorchEngine

    return TorchEngine(policy, value, obs_norm, config, device)
