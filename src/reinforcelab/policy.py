"""Acting with a categorical MLP policy, in numpy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .nets import MLP


class NumpyActor:
    """A frozen snapshot of a policy (and its observation normalisation) that picks actions.

    Rollouts act once per environment step, so acting must cost a few small numpy products and
    nothing more. Take a new snapshot (``agent.actor()``) after every update.
    """

    def __init__(self, policy: MLP, normalize: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.policy = policy.copy()
        self.normalize = normalize

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """Logits [n_actions, n] for observations [n, obs_dim] (or [n_actions, 1] for one)."""
        x = obs if self.normalize is None else self.normalize(obs)
        x = np.asarray(x, dtype=np.float32).reshape(-1, self.policy.in_dim).T
        return self.policy.forward(x)

    def act(self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False) -> int:
        """The action for one observation."""
        logits = self.logits(obs)[:, 0]
        if deterministic:
            return int(np.argmax(logits))
        # Inverse-CDF sampling from softmax(logits); shifting by the max keeps exp() finite.
        cdf = np.cumsum(np.exp(logits - logits.max()))
        return int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))

    def act_batch(self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False) -> np.ndarray:
        """Actions [n] for a batch of observations [n, obs_dim]."""
        logits = self.logits(obs)
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
