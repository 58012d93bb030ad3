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

import functools
import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from .base import CategoricalActor, GaussianActor, Normalizer, categorical_terms

if TYPE_CHECKING:
    import torch
    from torch import nn


MLPType = TypeVar("MLPType", bound="MLP")


Activation = Literal["relu", "tanh"]


class MLP:
    """Linear layers with a ReLU (or Tanh) after each hidden layer. Weights are [out, in] float32
    and biases [out] float32, named as torch's ``nn.Sequential`` would name them (``net.0.weight``,
    ...)."""

    def __init__(
        self, layers: list[tuple[np.ndarray, np.ndarray]], activation: Activation = "relu"
    ) -> None:
        self.layers = layers
        self.activation = activation

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

    @classmethod
    def orthogonal(
        cls: type[MLPType],
        in_dim: int,
        hidden_sizes: Sequence[int],
        out_dim: int,
        rng: np.random.Generator,
        out_gain: float,
        activation: Activation = "tanh",
    ) -> MLPType:
        """Orthogonal weights (gain sqrt(2) for hidden layers, ``out_gain`` for the output) and zero
        biases: the initialisation of the usual policy-gradient baselines, whose small output gain
        starts a Gaussian policy near a mean of 0."""
        sizes = [in_dim, *hidden_sizes, out_dim]
        layers = []
        for i, (fan_in, width) in enumerate(itertools.pairwise(sizes)):
            gain = out_gain if i == len(sizes) - 2 else np.sqrt(2.0)
            a = rng.standard_normal((max(width, fan_in), min(width, fan_in)))
            q, r = np.linalg.qr(a)
            q *= np.sign(np.diag(r))
            q = q if width >= fan_in else q.T
            layers.append(
                ((gain * q[:width, :fan_in]).astype(np.float32), np.zeros(width, np.float32))
            )
        return cls(layers, activation)

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
        return MLP([(w.copy(), b.copy()) for w, b in self.layers], self.activation)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Outputs [out, n] for inputs [in, n]."""
        return self.forward_keep(x)[-1]

    def forward_keep(self, x: np.ndarray) -> list[np.ndarray]:
        """Every layer's output for inputs [in, n] (the inputs first, the outputs last): what
        ``backward`` needs."""
        activations = [np.asarray(x, dtype=np.float32)]
        for i, (_, bias) in enumerate(self.layers):
            activations.append(self.layer(i, activations[-1], bias[:, None]))
        return activations

    def layer(self, i: int, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """Layer ``i``'s outputs [out, n] for inputs [in, n], given its bias as [out, 1] or
        already tiled to [out, n]: the product, the bias, then the activation but on the last."""
        h = self.layers[i][0] @ x
        h += bias
        if i < len(self.layers) - 1:
            if self.activation == "relu":
                np.maximum(h, zeros(h.shape), out=h)
            else:
                np.tanh(h, out=h)
        return h

    def backward(self, activations: list[np.ndarray], grad_out: np.ndarray) -> list[np.ndarray]:
        """Gradients of a loss w.r.t. ``parameters()``, given d loss / d outputs ([out, n])."""
        grads: list[np.ndarray] = []
        g = grad_out
        for i in range(len(self.layers) - 1, -1, -1):
            weight, _ = self.layers[i]
            grads += [g.sum(1), g @ activations[i].T]  # bias, weight (reversed below)
            if i > 0:
                g = weight.T @ g
                if self.activation == "relu":
                    g *= activations[i] > 0  # no gradient where the unit was off
                else:
                    g *= 1 - activations[i] * activations[i]  # tanh' = 1 - tanh^2
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

        activation = nn.ReLU if self.activation == "relu" else nn.Tanh
        module = (
            CategoricalPolicy(self.in_dim, self.out_dim, self.hidden_sizes)
            if kind == "policy"
            else ValueBaseline(self.in_dim, self.hidden_sizes, activation)
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


@functools.lru_cache(maxsize=8)
def zeros(shape: tuple[int, ...]) -> np.ndarray:
    """A read-only float32 array of zeros: ``np.maximum(h, zeros(h.shape))`` gives the same ReLU
    as ``np.maximum(h, 0.0)`` several times faster (numpy's vectorised loop takes two arrays, not
    an array and a scalar)."""
    out = np.zeros(shape, np.float32)
    out.flags.writeable = False
    return out


class ActingForward:
    """``mlp.forward`` for acting, once per env step on batches of one size: the same products,
    sums and ReLUs, with the biases tiled to [out, n] once per batch size (at rollout batch sizes
    numpy adds a same-shape array several times faster than a broadcast column)."""

    def __init__(self, mlp: MLP) -> None:
        self.mlp = mlp
        self.bias_tiles: list[np.ndarray] = []  # for the last batch size

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[1]
        if not self.bias_tiles or self.bias_tiles[0].shape[1] != n:
            self.bias_tiles = [np.repeat(b[:, None], n, axis=1) for _, b in self.mlp.layers]
        for i, bias in enumerate(self.bias_tiles):
            x = self.mlp.layer(i, x, bias)
        return x


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
        forward = ActingForward(self.copy())
        in_dim = self.in_dim

        def logits(obs: np.ndarray) -> np.ndarray:
            x = obs if normalize is None else normalize(obs)
            return forward(np.asarray(x, dtype=np.float32).reshape(-1, in_dim).T)

        return CategoricalActor(logits)

    def output_gradient(
        self,
        logits: np.ndarray,
        actions: np.ndarray,
        adv: np.ndarray,
        entropy_coef: float,
        n: int,
        stats: dict[str, float],
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """d loss / d logits [A, m] of -sum(A log pi(a|s))/n - entropy_coef * sum(H)/n over a chunk
        of m samples (logits [A, m]); adds the chunk's share of ``policy_loss`` and ``entropy`` to
        ``stats``. No parameters besides the MLP's (the empty list)."""
        shifted = logits - logits.max(0)
        log_pi = shifted - np.log(np.exp(shifted).sum(0))
        pi = np.exp(log_pi)
        # (a_t, t) in the flattened [A, m] arrays: a 1-D index is several times faster than
        # indexing by [actions, columns]
        chosen = actions * len(actions) + np.arange(len(actions))
        # d(-log pi_a)/d logits = pi - onehot(a); dH/d logits = -pi * (log pi + H).
        d_logits = pi * adv
        d_logits.reshape(-1)[chosen] -= adv
        if entropy_coef:
            entropy = -(pi * log_pi).sum(0)
            d_logits += entropy_coef * pi * (log_pi + entropy)
        d_logits /= n
        stats["policy_loss"] -= float(adv @ np.take(log_pi, chosen)) / n
        stats["entropy"] -= float((pi * log_pi).sum()) / n
        return d_logits, []

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


class GaussianPolicy:
    """The built-in policy for continuous actions: a Gaussian whose mean is a Tanh MLP of the state
    and whose log standard deviation is a learned vector (one per action dimension), both in units
    of the action range's half-width, so that one setting (``log_std_init``) suits any bounds.

    Samples are scored as drawn; the env clips them to the bounds only on their way in. Its weights
    live in numpy and fast mode trains them with hand-written gradients (``output_gradient``), like
    the categorical MLP's; course mode and CUDA train a torch view of the same arrays.
    """

    kind = "mlp"
    distribution = "normal"
    output = "mean"

    def __init__(self, net: MLP, log_std: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
        self.net = net
        self.log_std = np.asarray(log_std, dtype=np.float32)
        self.low, self.high = np.asarray(low, np.float32), np.asarray(high, np.float32)
        self.center = (self.high + self.low) / 2
        self.half = (self.high - self.low) / 2
        self._torch_view: tuple[Any, nn.Module] | None = None

    @classmethod
    def random(
        cls,
        obs_dim: int,
        hidden_sizes: Sequence[int],
        low: np.ndarray,
        high: np.ndarray,
        log_std_init: float,
        rng: np.random.Generator,
    ) -> GaussianPolicy:
        """Orthogonal weights, the mean's output layer at gain 0.01 (a mean near 0 at first)."""
        net = MLP.orthogonal(obs_dim, hidden_sizes, len(low), rng, out_gain=0.01)
        return cls(net, np.full(len(low), log_std_init, np.float32), low, high)

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return self.net.hidden_sizes

    def parameters(self) -> list[np.ndarray]:
        return [*self.net.parameters(), self.log_std]

    def forward_keep(self, x: np.ndarray) -> list[np.ndarray]:
        return self.net.forward_keep(x)

    def backward(self, activations: list[np.ndarray], grad_out: np.ndarray) -> list[np.ndarray]:
        return self.net.backward(activations, grad_out)

    def actor(self, normalize: Normalizer | None = None) -> GaussianActor:
        """A snapshot acting in the env's units: mean center + half * mu(s), std half * sigma."""
        snapshot, center, half, in_dim = self.net.copy(), self.center, self.half, self.net.in_dim

        def mean(obs: np.ndarray) -> np.ndarray:
            x = obs if normalize is None else normalize(obs)
            mu = snapshot.forward(np.asarray(x, dtype=np.float32).reshape(-1, in_dim).T)
            return center + half * mu.T

        return GaussianActor(mean, half * np.exp(self.log_std))

    def output_gradient(
        self,
        mu: np.ndarray,
        actions: np.ndarray,
        adv: np.ndarray,
        entropy_coef: float,
        n: int,
        stats: dict[str, float],
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """d loss / d mu [d, m] and d loss / d log_std [d] of -sum(A log pi(a|s))/n -
        entropy_coef * sum(H)/n over a chunk of m samples, in half-range units, where log pi =
        sum_d(-z^2 / 2 - log sigma - log(2 pi) / 2) with z = (u - mu) / sigma and H = sum_d(log
        sigma) + const; adds the chunk's share of ``policy_loss`` and ``entropy`` to ``stats``."""
        u = ((actions - self.center) / self.half).T  # the samples in half-range units [d, m]
        inv_std = np.exp(-self.log_std)[:, None]
        z = (u - mu) * inv_std
        weight = adv / n
        d_mu = -weight * z * inv_std  # d(-A log pi)/d mu = -A (u - mu) / sigma^2
        d_log_std = -(weight * (z * z - 1)).sum(1) - entropy_coef * len(adv) / n
        log_pi = (
            -0.5 * (z * z).sum(0) - float(self.log_std.sum()) - 0.5 * len(u) * np.log(2 * np.pi)
        )
        stats["policy_loss"] -= float(weight @ log_pi)
        entropy = float(self.log_std.sum()) + 0.5 * len(u) * (1 + np.log(2 * np.pi))
        stats["entropy"] += float(entropy * len(adv) / n)
        return d_mu.astype(np.float32), [d_log_std.astype(np.float32)]

    def state_dict(self) -> dict[str, np.ndarray]:
        """Named as torch's ``GaussianMLP`` names its parameters (``mean.0.weight``, ...)."""
        out = {f"mean.{k.split('.', 1)[1]}": v for k, v in self.net.state_dict().items()}
        return {**out, "log_std": self.log_std}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.net.load_state_dict(
            {f"net.{k.split('.', 1)[1]}": v for k, v in state.items() if k.startswith("mean.")}
        )
        np.copyto(self.log_std, np.asarray(state["log_std"], dtype=np.float32))

    def log_prob_and_entropy(
        self, mu: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) [n] and the entropy [n] (half-range units) from the torch view's means."""
        import torch

        center, half = (torch.as_tensor(v, device=mu.device) for v in (self.center, self.half))
        log_std = self._torch_log_std().expand_as(mu)
        normal = torch.distributions.Normal(mu, log_std.exp())
        u = (actions - center) / half
        return normal.log_prob(u).sum(-1), normal.entropy().sum(-1)

    def _torch_log_std(self) -> torch.Tensor:
        import torch

        assert self._torch_view is not None
        log_std = self._torch_view[1].log_std
        assert isinstance(log_std, torch.Tensor)
        return log_std

    def torch_module(self, device: str = "cpu") -> nn.Module:
        """A torch ``GaussianMLP`` computing this policy (in half-range units); on the CPU its
        parameters share the numpy arrays, elsewhere they are copies written back by
        ``after_torch_step``."""
        import torch
        from torch import nn

        from .gaussian import GaussianMLP

        module = GaussianMLP(self.net.in_dim, len(self.log_std), self.hidden_sizes)
        for linear, (weight, bias) in zip(linear_layers(module), self.net.layers):
            linear.weight = nn.Parameter(torch.from_numpy(weight).to(device))
            linear.bias = nn.Parameter(torch.from_numpy(bias).to(device))
        module.log_std = nn.Parameter(torch.from_numpy(self.log_std).to(device))
        self._torch_view = (device, module)
        return module

    def after_torch_step(self) -> None:
        if self._torch_view is not None and self._torch_view[0] != "cpu":
            import torch

            with torch.no_grad():
                self.net.copy_from(self._torch_view[1])
                np.copyto(self.log_std, self._torch_log_std().cpu().numpy())

    def spec(self) -> dict[str, Any]:
        return {"kind": "gaussian", "hidden_sizes": list(self.hidden_sizes)}

    def describe(self) -> str:
        widths = " -> ".join(
            str(w) for w in (self.net.in_dim, *self.hidden_sizes, len(self.log_std))
        )
        return (
            f"Gaussian: mean MLP {widths} (Tanh), a learned log standard deviation per action, "
            "both in units of the action range's half-width; samples clipped to the bounds by the "
            "env"
        )
