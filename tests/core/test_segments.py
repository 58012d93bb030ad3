"""``segment_steps``: continuing episodes, each update taking the next T steps of every sub-env."""

import numpy as np
import pytest
from test_fast_mode import ScriptedVectorEnv

import reinforcelab
from reinforcelab.config import ConfigError
from reinforcelab.rollout import SegmentCollector


def zeros(obs):
    return np.zeros(len(obs), dtype=np.int64)


def test_episodes_go_on_across_segments_and_are_cut_at_their_ends():
    # sub-env 0: 3-step episodes; sub-env 1: one 7-step episode, then 7-step ones
    envs = ScriptedVectorEnv([[3, 3, 3, 3, 3], [7, 7]])
    segments = SegmentCollector(envs, seed=0)
    first = segments.collect(zeros, 5)
    # sub-env 0: an episode of 3, the dead step of the autoreset, one step of the next
    assert first.valid[:, 0].tolist() == [True, True, True, False, True]
    assert first.episode_end[:, 0].tolist() == [False, False, True, False, True]  # ended, cut
    assert first.truncated[:, 0].tolist() == [False, False, False, False, True]  # the cut
    assert first.valid[:, 1].all() and first.episode_end[:, 1].tolist() == [0, 0, 0, 0, 1]
    assert first.episode_lengths == [3] and first.episode_returns == [0 + 1 + 2]
    last = first.obs[-1].copy()  # a batch's arrays are views into storage the next one reuses
    second = segments.collect(zeros, 5)
    # sub-env 1's first episode ends 2 steps in, with its return over both segments
    assert sorted(second.episode_lengths) == [3, 7]
    assert sum(range(7)) in second.episode_returns
    # the observation the second segment starts from is the one the first ended on
    np.testing.assert_array_equal(second.obs[0], last)


def test_segments_train_and_need_the_value_bootstrap():
    agent = reinforcelab.Reinforce(
        "Pendulum-v1", preset="fast-pendulum", seed=0, num_envs=4, total_env_steps=2000
    )
    agent.learn()
    loop = agent.training_loop()
    # every step trained on counts towards the budget (the dead steps of the resets do not), also
    # the steps of episodes that have not ended yet
    assert 2000 <= loop.env_steps <= loop.simulated_env_steps - loop.episodes + 4
    assert loop.env_steps > sum(200 for _ in range(loop.episodes))
    with pytest.raises(ConfigError, match="segment_steps needs truncation='bootstrap'"):
        reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", segment_steps=50)
    with pytest.raises(ConfigError, match="segment_steps replaces rollout_steps"):
        reinforcelab.Reinforce("Pendulum-v1", preset="fast-pendulum", rollout_steps=100)
