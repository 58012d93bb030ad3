import numpy as np
import pytest
import torch

from reinforcelab.returns import EPS, discounted_returns, reward_to_go, standardize


def test_reward_to_go_hand_computed():
    # G_2 = 3, G_1 = 2 + 0.5*3 = 3.5, G_0 = 1 + 0.5*3.5 = 2.75
    np.testing.assert_allclose(reward_to_go([1.0, 2.0, 3.0], 0.5), [2.75, 3.5, 3.0])
    np.testing.assert_allclose(reward_to_go([1.0, 1.0, 1.0, 1.0], 1.0), [4.0, 3.0, 2.0, 1.0])
    assert reward_to_go([], 0.99).shape == (0,)


def test_standardize_uses_unbiased_std_and_float32_eps():
    g = torch.tensor([4.0, 3.0, 2.0, 1.0])
    # mean 2.5, unbiased std sqrt(5/3)
    expected = (np.array([4, 3, 2, 1]) - 2.5) / (np.sqrt(5 / 3) + np.finfo(np.float32).eps)
    np.testing.assert_allclose(standardize(g).numpy(), expected, rtol=1e-6)
    assert np.finfo(np.float32).eps == EPS


def test_standardize_one_step_episode_is_zero_not_nan():
    out = standardize(torch.tensor([7.0]))
    assert out.tolist() == [0.0]
    # Equal returns: std 0, the eps keeps it finite.
    assert torch.isfinite(standardize(torch.tensor([2.0, 2.0]))).all()


def test_discounted_returns_restart_at_episode_ends():
    # env 0: episode [1, 1] then [1]; env 1: one episode [2, 2, 2]
    rewards = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    ends = np.array([[False, False], [True, False], [True, True]])
    out = discounted_returns(rewards, ends, gamma=0.5)
    np.testing.assert_allclose(out[:, 0], [1.5, 1.0, 1.0])
    np.testing.assert_allclose(out[:, 1], [3.5, 3.0, 2.0])


def test_discounted_returns_bootstrap_adds_value_at_truncation():
    rewards = np.array([[1.0], [1.0]])
    ends = np.array([[False], [True]])
    bootstrap = np.array([[0.0], [0.5 * 10.0]])  # gamma * V(s_T) at the truncated end
    out = discounted_returns(rewards, ends, gamma=0.5, bootstrap=bootstrap)
    np.testing.assert_allclose(out[:, 0], [1 + 0.5 * 6.0, 6.0])


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_discounted_returns_match_per_episode_reward_to_go(gamma):
    rng = np.random.default_rng(0)
    rewards = rng.normal(size=(12, 3))
    ends = np.zeros((12, 3), dtype=bool)
    ends[[3, 7, 11], 0] = True
    ends[[11], 1] = True
    ends[[0, 5, 11], 2] = True
    out = discounted_returns(rewards, ends, gamma)
    for n in range(3):
        start = 0
        for end in np.flatnonzero(ends[:, n]):
            np.testing.assert_allclose(
                out[start : end + 1, n], reward_to_go(rewards[start : end + 1, n], gamma)
            )
            start = end + 1
