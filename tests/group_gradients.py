"""Policy-gradient estimates of one fixed policy under several advantages, from the same batches:
what tests/core/test_group_baselines.py and benchmarks/group_baselines.py measure the bias and
the variance of the group baselines with.

Every estimate is the textbook per-episode one, (1/N) sum_i sum_t A_i(t) grad log pi(a_t|s_t)
over the batch's N episodes (negated: the gradient of the loss). The update itself divides by the
batch's counted steps instead of N, a step size shared by every advantage; dividing by a number
that depends on the episodes' lengths is not the estimator whose expectation is the policy
gradient, so the statistics here use N.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from scipy.special import gammaln

import reinforcelab
from reinforcelab.engines import PolicyTargets
from reinforcelab.envs.make import make_vector_env
from reinforcelab.returns import (
    advantages,
    batch_returns,
    group_standardize,
    leave_one_out,
    on_grid,
)
from reinforcelab.rollout import Batch, collect_batch
from reinforcelab.seeding import episode_seeds, group_seeds, vector_reset_seed

#: (batch, returns [S], values [S] or None, group size) -> advantages [S]
Advantage = Callable[[Batch, np.ndarray, "np.ndarray | None", int], np.ndarray]


def whole_episode_leave_one_out(batch: Batch, returns: np.ndarray, k: int) -> np.ndarray:
    """The other variant of RLOO: every step of episode i minus the mean of the other episodes'
    whole returns G_j(0), the same at every step."""
    grid = on_grid(batch, returns)
    totals = grid[0].reshape(-1, k)
    others = (totals.sum(axis=1, keepdims=True) - totals) / (k - 1)
    return batch.counted(grid - others.reshape(1, -1))


def self_inclusive_mean(batch: Batch, returns: np.ndarray, k: int) -> np.ndarray:
    """G minus the mean of the whole group, the episode itself included: a biased baseline (its
    expected gradient is (k - 1) / k of the true one), to show that the tests can see bias."""
    grid = on_grid(batch, returns)
    groups = grid.reshape(len(grid), -1, k)
    return batch.counted((groups - groups.mean(axis=2, keepdims=True)).reshape(grid.shape))


ADVANTAGES: dict[str, Advantage] = {
    "none": lambda b, g, v, k: advantages(b, g, None, "none"),
    "batch": lambda b, g, v, k: advantages(b, g, None, "batch"),
    "value": lambda b, g, v, k: advantages(b, g, v, "batch"),
    "value, no norm": lambda b, g, v, k: advantages(b, g, v, "none"),
    "leave-one-out": lambda b, g, v, k: advantages(b, g, None, "none", "leave-one-out", k),
    "leave-one-out, batch": lambda b, g, v, k: advantages(b, g, None, "batch", "leave-one-out", k),
    "leave-one-out, whole episode": lambda b, g, v, k: whole_episode_leave_one_out(b, g, k),
    "group (GRPO)": lambda b, g, v, k: advantages(b, g, None, "group", "none", k),
    "self-inclusive mean (biased)": lambda b, g, v, k: self_inclusive_mean(b, g, k),
}


def flat(grads: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(g, dtype=np.float64).ravel() for g in grads])


def gradient_samples(
    agent: reinforcelab.Reinforce,
    n_batches: int,
    names: list[str],
    num_envs: int = 64,
    group_size: int = 8,
    shared_starts: bool = True,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """[n_batches, n_params] policy-gradient estimates of a fast-mode agent's current policy for
    each advantage in ``names`` (keys of ``ADVANTAGES``), every one from the same batches of
    ``num_envs`` episodes in groups of ``group_size`` sharing their start (``shared_starts=False``:
    a seed per sub-env, the same groups). The policy does not change; the value baseline, if any,
    is the agent's.
    """
    loop = agent.training_loop()
    config, n, k = loop.config, num_envs, group_size
    max_t = loop.fast.rollout_max_t or config.max_t
    actor, engine = loop.parts.actor(), loop.engine
    normalize = loop.parts.normalizer() or (lambda obs: obs)
    rng = np.random.default_rng([seed, 1])
    samples: dict[str, list[np.ndarray]] = {name: [] for name in names}
    envs = make_vector_env(config.env_id, n, seed_each=True, **config.env_kwargs)
    try:
        for b in range(n_batches):
            seeds = (
                group_seeds(seed, n, k, 99, b) if shared_starts else episode_seeds(seed, n, 99, b)
            )
            batch = collect_batch(
                envs,
                lambda obs: actor.act_batch(obs, rng),
                max_t,
                seed=vector_reset_seed(envs, seeds),
            )
            obs = normalize(batch.counted_obs)
            returns = batch_returns(batch, config.gamma, None)
            values = engine.values(obs) if engine.has_value else None
            actions = batch.counted(batch.actions)
            scale = len(returns) / n  # the engine's mean over steps -> the sum over steps / N
            for name in names:
                adv = ADVANTAGES[name](batch, returns, values, k).astype(np.float32)
                grads = engine.policy_gradients(PolicyTargets(obs, actions, adv), {})
                samples[name].append(flat(grads) * scale)
    finally:
        envs.close()
    return {name: np.array(rows) for name, rows in samples.items()}


def paired_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per parameter, the z score of mean(a - b) over the batches (paired: the same batches)."""
    d = a - b
    se = d.std(axis=0, ddof=1) / np.sqrt(len(d))
    return d.mean(axis=0) / np.where(se > 0, se, np.inf)


# ----------------------------------------------------------------- a bandit, exactly
def bandit_expected_gradients(p: np.ndarray, pi: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Exact expected gradients [contexts, arms] of J = mean_c sum_a pi(a|c) p(c, a) on a
    contextual Bernoulli bandit with a tabular softmax policy, for the true gradient and for the
    estimates a group of ``k`` one-step episodes from the same context gives with each advantage
    (made by ``reinforcelab.returns``): every group outcome is enumerated, no sampling.

    ``p`` [contexts, arms]: the chance of reward 1; ``pi`` [contexts, arms]: the policy. An
    episode is one pull; its return is its reward, so per step and per episode are the same. A
    group's estimate depends only on how many members drew each (arm, reward), so the groups are
    enumerated as multisets, each with its multinomial probability.
    """
    contexts, arms = p.shape
    outcome_a = np.repeat(np.arange(arms), 2)  # one pull: (arm, reward) for reward 0 or 1
    outcome_r = np.tile([0.0, 1.0], arms)
    groups = np.array(list(itertools.combinations_with_replacement(range(2 * arms), k)))
    counts = np.stack([(groups == o).sum(axis=1) for o in range(2 * arms)], axis=1)
    log_ways = gammaln(k + 1) - gammaln(counts + 1).sum(axis=1)  # multinomial coefficients
    a, r = outcome_a[groups], outcome_r[groups]  # [groups, k]
    estimates = {
        "leave-one-out": lambda g: leave_one_out(g, k),
        "group (GRPO)": lambda g: group_standardize(g, k),
        "none": lambda g: g,
    }
    out = {name: np.zeros((contexts, arms)) for name in ["exact", *estimates]}
    for c in range(contexts):
        out["exact"][c] = pi[c] * (p[c] - pi[c] @ p[c]) / contexts
        q = pi[c][outcome_a] * np.where(outcome_r == 1, p[c][outcome_a], 1 - p[c][outcome_a])
        prob = np.exp(log_ways) * np.prod(q**counts, axis=1)  # [groups] (0 ** 0 is 1)
        score = np.eye(arms)[a] - pi[c]  # grad of log pi(a|c) wrt the logits: [groups, k, arms]
        for name, advantage in estimates.items():
            adv = advantage(r)  # rows: groups (as steps); columns: the group's members
            g = (adv[:, :, None] * score).mean(axis=1)  # each group's estimate [groups, arms]
            out[name][c] = prob @ g / contexts
    return out
