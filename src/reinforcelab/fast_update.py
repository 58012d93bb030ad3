"""Fast mode's update on a batch of whole episodes: returns, advantages, and the policy-gradient
(and value) step with hand-written gradients in numpy.

Everything up to the advantages is shared with the torch path (``torch_losses.py``, used on CUDA),
which is also the autograd reference the gradients here are tested against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .nets import MLP
from .optim import NumpyAdam
from .returns import discounted_returns, standardize
from .rollout import Batch, accumulate_rows

if TYPE_CHECKING:
    from .agent import Reinforce


def episode_ids(valid: np.ndarray, episode_end: np.ndarray) -> np.ndarray:
    """[T, N] index of the episode each step belongs to (unique across envs)."""
    ends_before = accumulate_rows(np.add, episode_end.astype(np.int64)) - episode_end
    per_env = int(episode_end.sum(0).max(initial=0)) + 1
    return ends_before + np.arange(valid.shape[1]) * per_env


def per_episode_standardize(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Standardise each episode's values on their own (unbiased std; 1-step episodes give 0)."""
    _, ids = np.unique(ids, return_inverse=True)
    count = np.bincount(ids).astype(np.float64)
    mean = np.bincount(ids, values) / count
    centred = values - mean[ids]
    std = np.sqrt(np.bincount(ids, centred**2) / np.maximum(count - 1, 1))
    out = centred / (std[ids] + np.finfo(np.float32).eps)
    return np.where(count[ids] > 1, out, 0.0)


def batch_returns(batch: Batch, gamma: float, value_at: Callable[[np.ndarray], np.ndarray] | None) -> np.ndarray:
    """Discounted returns [S] of the counted steps, in ``batch.counted_obs`` order.

    ``value_at`` (raw observations [m, obs_dim] -> values [m]) bootstraps truncated episodes:
    G_T = r_T + gamma * V(s_T). Without it a truncation ends the return like a termination.
    """
    bootstrap = None
    if value_at is not None and batch.truncated.any():
        t, n = np.nonzero(batch.truncated)
        bootstrap = np.zeros(batch.rewards.shape)
        bootstrap[t, n] = gamma * np.asarray(value_at(batch.obs[t + 1, n]), dtype=np.float64)
    returns = discounted_returns(batch.rewards, batch.episode_end, gamma, bootstrap)
    return batch.counted(returns)


def advantages(batch: Batch, returns: np.ndarray, values: np.ndarray | None, return_norm: str) -> np.ndarray:
    """What each step's log-probability is weighted by: the return, minus the baseline if any,
    standardised over the batch, per episode (the course's choice) or not at all."""
    adv = returns - values if values is not None else returns
    if return_norm == "batch":
        adv = standardize(adv)
    elif return_norm == "episode":
        adv = per_episode_standardize(adv, batch.counted(episode_ids(batch.valid, batch.episode_end)))
    return adv.astype(np.float32)


def policy_gradient(policy: MLP, x: np.ndarray, actions: np.ndarray, adv: np.ndarray,
                    entropy_coef: float, n_total: int | None = None) -> list[np.ndarray]:
    """Gradients of -mean(A * log pi(a|s)) - entropy_coef * mean(H(pi(.|s))) for inputs x [obs_dim, S].

    With ``n_total``, x is one chunk of a batch that size: the sums are divided by n_total, so the
    chunks' gradients add up to the batch's.
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
    grad /= n_total or len(actions)
    return policy.backward(activations, grad)


def value_gradient(value: MLP, x: np.ndarray, returns: np.ndarray,
                   n_total: int | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Gradients of 0.5 * mean((V(s) - G)^2) for inputs x [obs_dim, S] (``n_total``: as above), and
    the values V(s) [S] that the same forward pass computed (the baseline of the advantages)."""
    activations = value.forward_keep(x)
    v = activations[-1][0]
    grads = value.backward(activations, ((v - returns) / (n_total or len(returns)))[None, :].astype(np.float32))
    return grads, v


def chunks(n: int, size: int = 16_384) -> list[slice]:
    """Slices of a batch to run forward and backward one at a time. Measured on CartPole's 16-unit
    and Pixelcopter's 64-unit networks, both were fastest at about 16k samples: whole-batch
    temporaries of many megabytes were each time fresh memory (page faults), and far smaller
    chunks pay numpy's per-call overhead too often."""
    return [slice(lo, lo + size) for lo in range(0, n, size)]


def add_into(total: list[np.ndarray] | None, grads: list[np.ndarray]) -> list[np.ndarray]:
    """Sum per-chunk gradients: ``total += grads`` in place (the first chunk's arrays are reused)."""
    if total is None:
        return grads
    for t, g in zip(total, grads):
        t += g
    return total


def clip_grad_norm(grads: list[np.ndarray], max_norm: float) -> None:
    """Scale gradients in place so that their global L2 norm is at most ``max_norm``."""
    total = np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads))
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for g in grads:
            g *= scale


class NumpyFastUpdate:
    """One Adam step of the policy (and of the value baseline) per batch, on the CPU."""

    def __init__(self, agent: "Reinforce") -> None:
        cfg = agent.config
        self.agent = agent
        self.optimizers = [NumpyAdam(agent.policy.parameters(), lr=cfg.lr)]
        if agent.value is not None:
            self.optimizers.append(NumpyAdam(agent.value.parameters(), lr=cfg.value_lr))

    def __call__(self, batch: Batch) -> None:
        agent, cfg = self.agent, self.agent.config
        normalize = agent.observation_normalizer()
        inputs = (lambda obs: obs.T) if normalize is None else (lambda obs: normalize(obs).T)
        x = inputs(batch.counted_obs)
        actions = batch.counted(batch.actions)
        n = len(actions)
        values = value_grads = None
        if agent.value is not None:
            bootstrap = cfg.truncation == "bootstrap"
            value_at = (lambda obs: agent.value.forward(inputs(obs))[0]) if bootstrap else None
            returns = batch_returns(batch, cfg.gamma, value_at)
            values = []
            for c in chunks(n):
                chunk_grads, chunk_values = value_gradient(agent.value, x[:, c], returns[c], n)
                value_grads = add_into(value_grads, chunk_grads)
                values.append(chunk_values)
            values = np.concatenate(values)
        else:
            returns = batch_returns(batch, cfg.gamma, None)
        adv = advantages(batch, returns, values, cfg.return_norm)
        policy_grads = None
        for c in chunks(n):
            policy_grads = add_into(policy_grads, policy_gradient(agent.policy, x[:, c], actions[c], adv[c],
                                                                  cfg.entropy_coef, n))
        grads = [policy_grads] if value_grads is None else [policy_grads, value_grads]
        for optimizer, g in zip(self.optimizers, grads):
            if cfg.max_grad_norm is not None:
                clip_grad_norm(g, cfg.max_grad_norm)
            optimizer.step(g)


def fast_update_for(agent: "Reinforce"):
    """The update engine for the agent's device: numpy on the CPU, torch elsewhere."""
    if agent.device == "cpu":
        return NumpyFastUpdate(agent)
    from .torch_losses import TorchFastUpdate

    return TorchFastUpdate(agent)

