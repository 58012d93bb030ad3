"""Fast mode's update in numpy: the policy-gradient (and value) step with hand-written gradients,
on the CPU, for the built-in MLP.

For networks this small a handful of numpy products beats autograd several times over; the torch
engine (``torch_engine.py``) is the reference these gradients are tested against.
"""

from __future__ import annotations

import numpy as np

from ..config import TrainConfig
from ..nets import MLP, ObsNorm
from ..optim import NumpyAdam
from ..returns import advantages, batch_returns
from ..rollout import Batch
from .chunks import chunks


def policy_gradient(
    policy: MLP,
    x: np.ndarray,
    actions: np.ndarray,
    adv: np.ndarray,
    entropy_coef: float,
    n_total: int | None = None,
    stats: dict[str, float] | None = None,
) -> list[np.ndarray]:
    """Gradients of -mean(A * log pi(a|s)) - entropy_coef * mean(H(pi(.|s))) for inputs x [obs_dim, S].

    With ``n_total``, x is one chunk of a batch that size: the sums are divided by n_total, so the
    chunks' gradients add up to the batch's. ``stats`` accumulates the batch's ``policy_loss`` (the
    first term) and mean ``entropy``.
    """
    activations = policy.forward_keep(x)
    logits = activations[-1]
    shifted = logits - logits.max(0)
    log_pi = shifted - np.log(np.exp(shifted).sum(0))
    pi = np.exp(log_pi)
    columns = np.arange(len(actions))
    # d(-log pi_a)/d logits = pi - onehot(a); dH/d logits = -pi * (log pi + H).
    grad = pi * adv
    grad[actions, columns] -= adv
    if entropy_coef:
        entropy = -(pi * log_pi).sum(0)
        grad += entropy_coef * pi * (log_pi + entropy)
    n = n_total or len(actions)
    grad /= n
    if stats is not None:
        stats["policy_loss"] = (
            stats.get("policy_loss", 0.0) - float(adv @ log_pi[actions, columns]) / n
        )
        stats["entropy"] = stats.get("entropy", 0.0) - float((pi * log_pi).sum()) / n
    return policy.backward(activations, grad)


def value_gradient(
    value: MLP, x: np.ndarray, returns: np.ndarray, n_total: int | None = None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Gradients of 0.5 * mean((V(s) - G)^2) for inputs x [obs_dim, S] (``n_total``: as above), and
    the values V(s) [S] that the same forward pass computed (the baseline of the advantages)."""
    activations = value.forward_keep(x)
    v = activations[-1][0]
    grads = value.backward(
        activations, ((v - returns) / (n_total or len(returns)))[None, :].astype(np.float32)
    )
    return grads, v


def add_into(total: list[np.ndarray] | None, grads: list[np.ndarray]) -> list[np.ndarray]:
    """Sum per-chunk gradients: ``total += grads`` in place (the first chunk's arrays are reused)."""
    if total is None:
        return grads
    for t, g in zip(total, grads):
        t += g
    return total


def global_norm(grads: list[np.ndarray]) -> float:
    """The L2 norm of all gradients together."""
    return float(np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads)))


def clip_grad_norm(grads: list[np.ndarray], max_norm: float) -> None:
    """Scale gradients in place so that their global L2 norm is at most ``max_norm``."""
    total = global_norm(grads)
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            g *= scale


class NumpyEngine:
    """One Adam step of the policy (and of the value baseline) per batch; then the observation
    statistics take in the batch (they apply from the next rollout on)."""

    uses_torch = False

    def __init__(
        self, policy: MLP, value: MLP | None, obs_norm: ObsNorm | None, config: TrainConfig
    ) -> None:
        self.policy, self.value, self.obs_norm, self.config = policy, value, obs_norm, config
        self.optimizers = [NumpyAdam(policy.parameters(), lr=config.lr)]
        if value is not None:
            self.optimizers.append(NumpyAdam(value.parameters(), lr=config.value_lr))

    def update(self, batch: Batch) -> dict[str, float]:
        """One update; returns its statistics (losses, entropy, the policy's gradient norm)."""
        cfg = self.config
        stats: dict[str, float] = {}
        normalize = self.obs_norm.frozen() if self.obs_norm is not None else None
        inputs = (lambda obs: obs.T) if normalize is None else (lambda obs: normalize(obs).T)
        x = inputs(batch.counted_obs)
        actions = batch.counted(batch.actions)
        n = len(actions)
        values = value_grads = None
        if self.value is not None:
            value = self.value
            bootstrap = cfg.truncation == "bootstrap"
            value_at = (lambda obs: value.forward(inputs(obs))[0]) if bootstrap else None
            returns = batch_returns(batch, cfg.gamma, value_at)
            values = []
            for c in chunks(n):
                chunk_grads, chunk_values = value_gradient(value, x[:, c], returns[c], n)
                value_grads = add_into(value_grads, chunk_grads)
                values.append(chunk_values)
            values = np.concatenate(values)
            stats["value_loss"] = 0.5 * float(np.mean(np.square(values - returns)))
        else:
            returns = batch_returns(batch, cfg.gamma, None)
        adv = advantages(batch, returns, values, cfg.return_norm)
        policy_grads = None
        for c in chunks(n):
            policy_grads = add_into(
                policy_grads,
                policy_gradient(
                    self.policy, x[:, c], actions[c], adv[c], cfg.entropy_coef, n, stats
                ),
            )
        stats["grad_norm"] = global_norm(policy_grads)
        grads = [policy_grads] if value_grads is None else [policy_grads, value_grads]
        for optimizer, g in zip(self.optimizers, grads):
            if cfg.max_grad_norm is not None:
                clip_grad_norm(g, cfg.max_grad_norm)
            optimizer.step(g)
        if self.obs_norm is not None:
            self.obs_norm.update(batch.counted_obs)
        return stats
