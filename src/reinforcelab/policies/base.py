"""What the training loops, the engines, playback and the savers need of a policy, and the actors
that pick actions from its outputs.

Two kinds of policy sit behind this interface: the built-in MLP (numpy weights, hand-written
gradients; ``mlp.py``) and any ``torch.nn.Module`` (``torch_module.py``), which may be categorical
(logits or probabilities) or Gaussian (a mean and a ``log_std`` parameter, e.g. ``gaussian.py``'s
``GaussianMLP``). The distribution is part of the policy: it computes its own log-probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..errors import UserError

if TYPE_CHECKING:
    import torch
    from torch import nn

Normalizer = Callable[[np.ndarray], np.ndarray]


class PolicyError(UserError, ValueError):
    """A policy module that cannot be used, rebuilt or loaded as asked, or whose outputs cannot be
    acted on."""


class NonFiniteOutputs(PolicyError):
    """A policy's outputs (logits, probabilities, means) that are NaN or infinite."""


def check_finite(outputs: np.ndarray, what: str, obs: np.ndarray) -> None:
    """A NonFiniteOutputs error unless every one of a policy's ``outputs`` is finite: a NaN or
    infinite logit, probability or mean has no action to sample (numpy would quietly pick action
    0, Gymnasium fail on a NaN). Acting checks every step, so the common case costs one BLAS call:
    the squared norm, which any NaN or inf makes NaN or inf (only then are the outputs looked at
    one by one: a norm may also overflow)."""
    if math.isfinite(np.vdot(outputs, outputs)) or np.isfinite(outputs).all():
        return
    bad = int(np.count_nonzero(~np.isfinite(outputs)))
    cause = (
        "the observations have NaN or infinite values too"
        if not np.isfinite(np.asarray(obs, dtype=np.float64)).all()
        else "the observations are finite"
    )
    raise NonFiniteOutputs(
        f"the policy returned {bad} NaN or infinite {what} of {outputs.size} for a batch of "
        f"{len(obs)} observations ({cause}); its forward must give finite values"
    )


class Actor(Protocol):
    """A frozen view of a policy that picks actions for numpy observations."""

    def act(
        self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False
    ) -> Any: ...

    def act_batch(
        self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False
    ) -> np.ndarray: ...


class Policy(Protocol):
    """The policy interface.

    Attributes:
        kind: ``"mlp"`` (trained in numpy on the CPU) or ``"torch"`` (trained by autograd).
        distribution: ``"categorical"`` (discrete actions) or ``"normal"`` (continuous actions).
        output: what the torch module returns: ``"logits"``, ``"probs"`` (after a softmax) or
            ``"mean"`` (of a Gaussian).
    """

    kind: str
    distribution: str
    output: str

    def actor(self, normalize: Normalizer | None = None) -> Actor:
        """A view that acts: a snapshot for the numpy MLP, the live module for torch (take a new one
        after every update)."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights as numpy arrays, by name (what model.safetensors holds under ``policy.``)."""

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...

    def log_prob_and_entropy(
        self, out: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) [n] of the actions taken and the entropy of pi(.|s) [n], from the torch
        module's output, computed stably (the distribution is part of the policy)."""

    def torch_module(self, device: str = "cpu") -> nn.Module:
        """The module the torch engine trains (for the MLP: a view sharing its arrays on the
        CPU)."""

    def after_torch_step(self) -> None:
        """Called after each torch optimizer step (the MLP copies weights back from a GPU)."""

    def spec(self) -> dict[str, Any]:
        """How to rebuild it, as JSON (config.json's ``"policy"``)."""

    def describe(self) -> str:
        """The architecture in words, for the model card."""


class CategoricalActor:
    """Picks actions from a policy's logits (``logits_fn``: observations [n, ...] -> logits [A, n]).

    Rollouts act once per environment step, so acting must cost a few small numpy operations.
    """

    def __init__(self, logits_fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.logits = logits_fn

    def act(self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False) -> int:
        """The action for one observation."""
        batch = np.asarray(obs)[None]
        logits = self.logits(batch)[:, 0]
        check_finite(logits, "logits", batch)
        if deterministic:
            return int(np.argmax(logits))
        # Inverse-CDF sampling from softmax(logits); shifting by the max keeps exp() finite.
        cdf = np.cumsum(np.exp(logits - logits.max()))
        return int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))

    def act_batch(
        self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False
    ) -> np.ndarray:
        """Actions [n] for a batch of observations [n, ...]."""
        logits = self.logits(obs)
        check_finite(logits, "logits", obs)
        if deterministic:
            return logits.argmax(0)
        if len(logits) == 2:  # half the numpy calls: action 1 iff u < 1 / (1 + exp(l0 - l1))
            odds = logits[0] - logits[1]
            np.minimum(odds, 80.0, out=odds)  # exp stays finite in float32
            np.exp(odds, out=odds)
            odds += 1.0
            odds *= rng.random(len(odds), dtype=np.float32)
            return (odds < 1.0).astype(np.int64)
        logits -= logits.max(0)
        probs = np.exp(logits, out=logits)
        u = rng.random(probs.shape[1], dtype=np.float32) * probs.sum(0)
        # The action is the number of cdf entries at or below u (as searchsorted side="right").
        actions = np.zeros(probs.shape[1], dtype=np.int64)
        cdf = np.zeros(probs.shape[1], dtype=np.float32)
        for j in range(probs.shape[0] - 1):
            cdf += probs[j]
            actions += u >= cdf
        return actions


class GaussianActor:
    """Samples continuous actions mean + std * N(0, 1) (``mean_fn``: observations [n, ...] -> means
    [n, d]); deterministic acting takes the mean. Actions are not clipped here: the env's
    ClipAction wrapper clips what it is sent, and the sample itself is what the update scores."""

    def __init__(self, mean_fn: Callable[[np.ndarray], np.ndarray], std: np.ndarray) -> None:
        self.mean = mean_fn
        self.std = np.asarray(std, dtype=np.float32)

    def act(
        self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False
    ) -> np.ndarray:
        return self.act_batch(np.asarray(obs)[None], rng, deterministic)[0]

    def act_batch(
        self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False
    ) -> np.ndarray:
        mean = self.mean(obs)
        check_finite(mean, "action means", obs)
        if deterministic:
            return mean
        return (mean + self.std * rng.standard_normal(mean.shape, dtype=np.float32)).astype(
            np.float32
        )


def categorical_terms(
    log_pi: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """log pi(a_t|s_t) [n] of the actions taken and the entropy [n], from log pi(.|s) [n, A]."""
    chosen = log_pi.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)
    return chosen, -(log_pi.exp() * log_pi).sum(-1)
