"""What an agent is made of: its policy, and the value baseline and observation statistics when
used. The agent, the trainers and the savers all pass this one object around."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .nets import MLP, ObsNorm
from .policies.base import Actor, Normalizer, Policy


@dataclass
class AgentParts:
    policy: Policy
    value: MLP | None = None
    obs_norm: ObsNorm | None = None

    def named(self) -> dict[str, Any]:
        """The saved parts by name (their weights are ``NAME.*`` in model.safetensors)."""
        parts = {"policy": self.policy, "value": self.value, "obs_norm": self.obs_norm}
        return {name: part for name, part in parts.items() if part is not None}

    def weights(self) -> dict[str, np.ndarray]:
        """Every saved array by its name in model.safetensors."""
        return {
            f"{name}.{k}": v
            for name, part in self.named().items()
            for k, v in part.state_dict().items()
        }

    def normalizer(self) -> Normalizer | None:
        """The current input normalisation (a frozen snapshot), or None without one."""
        return self.obs_norm.frozen() if self.obs_norm is not None else None

    def actor(self) -> Actor:
        """The policy acting on raw observations (take a new one after every update)."""
        return self.policy.actor(self.normalizer())
