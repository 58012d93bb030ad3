"""The built-in policy: a ReLU MLP whose weights live in numpy, acting by a categorical
distribution over its logits.

Fast mode on the CPU trains it with hand-written gradients (``engines/numpy_engine.py``); course
mode and CUDA train it through a torch view of the same arrays (``torch_module``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..nets import MLP
from .base import CategoricalActor, Normalizer, categorical_terms

if TYPE_CHECKING:
    import torch
    from torch import nn


class MLPPolicy(MLP):
    """state -> hidden (ReLU) ... -> action logits, as numpy arrays (see ``nets.MLP``)."""

    kind = "mlp"
    distribution = "categorical"
    output = "logits"

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]]) -> None:
        super().__init__(layers)
        self._torch_view: tuple[Any, nn.Module] | None = None

    def actor(self, normalize: Normalizer | None = None) -> CategoricalActor:
        """A snapshot (a copy of the weights): acting costs a few small numpy products."""
        snapshot = self.copy()
        in_dim = self.in_dim

        def logits(obs: np.ndarray) -> np.ndarray:
            x = obs if normalize is None else normalize(obs)
            return snapshot.forward(np.asarray(x, dtype=np.float32).reshape(-1, in_dim).T)

        return CategoricalActor(logits)

    def log_prob_and_entropy(
        self, logits: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) [n] and the entropy [n] from the torch module's logits, by log-softmax: a
        saturated policy gives a log-probability of about -100 instead of NaN."""
        import torch

        return categorical_terms(torch.log_softmax(logits, dim=-1), actions)

    def torch_module(self, device: str = "cpu") -> nn.Module:
        """A torch module computing this MLP. On the CPU its parameters share the numpy arrays'
        memory, so a torch optimizer step updates the policy in place; elsewhere they are copies,
        written back by ``after_torch_step``."""
        from .torch_mlp import as_torch

        module = as_torch(self, "policy", device)
        self._torch_view = (device, module)
        return module

    def after_torch_step(self) -> None:
        if self._torch_view is not None and self._torch_view[0] != "cpu":
            from .torch_mlp import copy_to_numpy

            copy_to_numpy(self._torch_view[1], self)

    def spec(self) -> dict[str, Any]:
        return {"kind": "mlp", "hidden_sizes": list(self.hidden_sizes)}

    def describe(self) -> str:
        widths = " -> ".join(str(w) for w in (self.in_dim, *self.hidden_sizes, self.out_dim))
        return f"MLP {widths}, ReLU after each hidden layer, a softmax over the actions"
