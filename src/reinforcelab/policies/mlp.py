"""The built-in networks: ReLU MLPs whose weights live in numpy, with hand-written gradients, and
the built-in policy, acting by a categorical distribution over the MLP's logits.

numpy, not torch, holds the weights: networks this small (a few hundred to a few thousand
parameters) run faster as a handful of numpy products than through autograd, and a process that
only trains in fast mode, evaluates or plays back never pays torch's multi-second import. Fast mode
on the CPU trains them with hand-written gradients (``engines/numpy_engine.py``); course mode and
CUDA train them through a torch view of the same arrays (``torch_mlp.py``), sharing their memory.

Batches are laid out as [features, n]: reductions over actions then run along the long, contiguous
axis (numpy is slow along a short last axis).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .base import CategoricalActor, Normalizer, categorical_terms

if TYPE_CHECKING:
    import torch
    from torch import nn


MLPType = TypeVar("MLPType", bound="MLP")


class MLP:
    """Linear layers with a ReLU after each hidden layer. Weights are [out, in] float32 and biases
    [out] float32, named as torch's ``nn.Sequential`` would name them (``net.0.weight``, ...)."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.layers = layers

    @classmethod
    def random(
        cls: type[MLPType],
        in_dim: int,
        hidden_sizes: Sequence[int],
        out_dim: int,
        rng: np.random.Generator,
    ) -> MLPType:
        """torch.nn.Linear's default initialisation: weights and biases uniform in
        +/- 1/sqrt(fan_in)."""
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

    def torch_view(self, kind: str = "policy", device: str = "cpu") -> nn.Module:
        """A torch module computing this MLP (``kind``: a ``policy`` giving logits, or a ``value``
        giving V(s) [n]). On the CPU its parameters share the numpy arrays' memory, so a torch
        optimizer step updates the MLP in place; on another device they are copies (bring them
        back with ``copy_from``)."""
        import torch
        from torch import nn

        from .torch_mlp import CategoricalPolicy, ValueBaseline

        module = (
            CategoricalPolicy(self.in_dim, self.out_dim, self.hidden_sizes)
            if kind == "policy"
            else ValueBaseline(self.in_dim, self.hidden_sizes)
        )
        for linear, (weight, bias) in zip(linear_layers(module), self.layers):
            linear.weight = nn.Parameter(torch.from_numpy(weight).to(device))
            linear.bias = nn.Parameter(torch.from_numpy(bias).to(device))
        return module

    def copy_from(self, module: nn.Module) -> None:
        """Write a torch view's weights back into the numpy arrays (in place)."""
        import torch

        with torch.no_grad():
            for linear, (weight, bias) in zip(linear_layers(module), self.layers):
                weight[...] = linear.weight.cpu().numpy()
                bias[...] = linear.bias.cpu().numpy()


def linear_layers(module: nn.Module) -> list[nn.Linear]:
    from torch import nn

    return [m for m in module.modules() if isinstance(m, nn.Linear)]


class MLPPolicy(MLP):
    """state -> hidden (ReLU) ... -> action logits, as numpy arrays."""

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
        module = self.torch_view("policy", device)
        self._torch_view = (device, module)
        return module

    def after_torch_step(self) -> None:
        if self._torch_view is not None and self._torch_view[0] != "cpu":
            self.copy_from(self._torch_view[1])

    def spec(self) -> dict[str, Any]:
        return {"kind": "mlp", "hidden_sizes": list(self.hidden_sizes)}

    def describe(self) -> str:
        widths = " -> ".join(str(w) for w in (self.in_dim, *self.hidden_sizes, self.out_dim))
        return f"MLP {widths}, ReLU after each hidden layer, a softmax over the actions"
