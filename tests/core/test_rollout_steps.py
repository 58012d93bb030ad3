"""``rollout_steps``: sub-envs play whole episodes back to back instead of waiting idle for the
batch's longest episode, and the counted episodes stay an unbiased sample of the policy's."""

import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from scipy import stats
from test_fast_mode import ScriptedVectorEnv

import reinforcelab
from reinforcelab.config import ConfigError
from reinforcelab.envs.make import make_vector_env
from reinforcelab.rollout import collect_batch


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_a_sub_env_starts_episodes_until_it_has_used_its_steps(mode):
    # sub-env 0 plays 3-step episodes, sub-env 1 one long episode of 9 steps
    envs = ScriptedVectorEnv([[3, 3, 3, 3, 3], [9, 9]], mode=mode)
    batch = collect_batch(envs, lambda o: np.zeros(len(o), dtype=np.int64), 100, rollout_steps=5)
    # sub-env 0: episodes start after 0 and 3 counted steps (< 5), not after 6: two episodes;
    # sub-env 1: one episode of 9 steps; start order: first episodes env by env, then second ones
    assert batch.episode_lengths == [3, 9, 3]
    assert batch.episode_returns == [sum(range(3)), sum(range(9)), sum(10 + s for s in range(3))]
    assert batch.valid[:, 0].sum() == 6 and batch.valid[:, 1].sum() == 9


def test_it_keeps_sub_envs_busy_on_cartpole():
    envs = make_vector_env("CartPole-v1", 256)
    rng = np.random.default_rng(0)

    def act(obs):
        return rng.integers(0, 2, len(obs))

    idle = collect_batch(envs, act, 500, seed=1)
    busy = collect_batch(envs, act, 500, seed=1, rollout_steps=200)
    share = [b.valid.sum() / b.valid.size for b in (idle, busy)]
    assert share[1] > 0.75 > 0.4 > share[0]  # measured: about 0.28 and 0.79


def random_policy_lengths(scheme, n_batches=30):
    """Episode lengths a fixed random policy gives on CartPole, from batches of 64 sub-envs."""
    envs = make_vector_env("CartPole-v1", 64)
    rng = np.random.default_rng(3)
    lengths = []
    for k in range(n_batches):
        batch = collect_batch(
            envs, lambda o: rng.integers(0, 2, len(o)), 500, seed=1000 + k, **scheme
        )
        lengths += batch.episode_lengths
    return np.array(lengths)


def ends_within_window(window=40, n_batches=30):
    """A biased scheme, to show the test has power: the episodes that *finish* within the first
    ``window`` steps of each sub-env (a fixed-length rollout that drops unfinished episodes)."""
    envs = make_vector_env("CartPole-v1", 64)
    rng = np.random.default_rng(3)
    lengths = []
    for k in range(n_batches):
        batch = collect_batch(
            envs, lambda o: rng.integers(0, 2, len(o)), 500, seed=1000 + k, rollout_steps=window
        )
        for i in range(64):  # start order within a sub-env is time order
            ends = np.flatnonzero(batch.episode_end[:, i])
            starts = np.r_[0, ends[:-1] + 1]
            counted = np.cumsum(batch.valid[:, i])
            lengths += [
                int(counted[e] - (counted[s - 1] if s else 0))
                for s, e in zip(starts, ends)
                if counted[e] <= window
            ]
    return np.array(lengths)


def test_counted_episodes_have_the_policys_length_distribution():
    independent = random_policy_lengths({"episodes_per_env": 1})  # first episode from a reset
    busy = random_policy_lengths({"rollout_steps": 150})
    assert len(busy) > 5 * len(independent)
    assert stats.ks_2samp(busy, independent).pvalue > 0.01
    assert abs(busy.mean() - independent.mean()) < 3 * independent.std() / np.sqrt(len(independent))
    # the same test rejects a scheme that keeps episodes by when they end
    biased = ends_within_window()
    assert stats.ks_2samp(biased, independent).pvalue < 1e-6
    assert biased.mean() < independent.mean() - 2


def test_rollout_steps_trains_and_replaces_episodes_per_env():
    agent = reinforcelab.Reinforce(
        "CartPole-v1",
        preset="fast-cartpole",
        seed=0,
        num_envs=64,
        rollout_steps=200,
        total_env_steps=100_000,
    )
    agent.learn()
    loop = agent.training_loop()
    assert loop.env_steps >= 100_000 and loop.env_steps / loop.simulated_env_steps > 0.6
    with pytest.raises(ConfigError, match="rollout_steps replaces episodes_per_env"):
        reinforcelab.Reinforce(
            "CartPole-v1", preset="fast-cartpole", rollout_steps=100, episodes_per_env=2
        )
    with pytest.raises(ConfigError, match="applies to fast mode only"):
        reinforcelab.Reinforce("CartPole-v1", preset="course-cartpole", rollout_steps=100)
