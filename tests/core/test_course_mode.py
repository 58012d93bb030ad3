"""Course mode: the batched loss is the course's loss; seeded runs are bit-identical."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from course_reference import act_step, per_step_loss

import reinforcelab
from reinforcelab.policies.base import categorical_terms
from reinforcelab.policies.torch_mlp import CategoricalPolicy
from reinforcelab.rollout import Episode, collect_episode


def course_loop_gradients(policy, episode, gamma):
    """Course mode's update of ``policy`` on ``episode``: the gradients it stepped with."""
    agent = reinforcelab.Reinforce(
        "CartPole-v1", preset="course-cartpole", gamma=gamma, policy=policy, policy_output="logits"
    )
    stats = agent.training_loop().update(episode)
    return stats, [p.grad for p in policy.parameters()]


def play_per_step(policy, seed):
    """One episode the course's way: log-probs collected step by step with autograd."""
    torch.manual_seed(seed)
    saved = []

    def act(obs):
        action, log_prob = act_step(policy, obs)
        saved.append(log_prob)
        return action

    episode = collect_episode(gym.make("CartPole-v1"), act, 1000, seed=seed)
    return saved, episode.rewards.tolist(), episode


@pytest.mark.parametrize(
    "seed,gamma,hidden", [(0, 1.0, (16,)), (3, 0.99, (64, 128)), (7, 0.9, (16,))]
)
def test_batched_gradient_equals_per_step_gradient(seed, gamma, hidden):
    torch.manual_seed(100 + seed)
    policy = CategoricalPolicy(4, 2, hidden)
    saved, rewards, episode = play_per_step(policy, seed)
    assert episode.length > 5

    policy.zero_grad()
    per_step_loss(saved, rewards, gamma).backward()
    reference = [p.grad.clone() for p in policy.parameters()]

    _, ours = course_loop_gradients(policy, episode, gamma)
    for a, b in zip(ours, reference, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_one_step_episode_gives_no_update_instead_of_nan():
    policy = CategoricalPolicy(4, 2, (16,))
    before = [p.detach().clone() for p in policy.parameters()]
    episode = Episode(np.zeros((1, 4), np.float32), np.array([0]), np.array([1.0]), True, False)
    stats, grads = course_loop_gradients(policy, episode, 1.0)
    assert stats == {} and all(g is None for g in grads)
    assert all(torch.equal(a, b) for a, b in zip(before, policy.parameters()))
    # The course's own formula gives NaN here.
    lp = torch.log_softmax(policy(torch.zeros(1, 4)), -1)[:, 0]
    with pytest.warns(UserWarning, match="degrees of freedom"):
        assert torch.isnan(per_step_loss([lp], [1.0], 1.0))


def train_small(seed):
    agent = reinforcelab.Reinforce(
        "CartPole-v1", preset="course-cartpole", seed=seed, n_episodes=25
    )
    agent.learn()
    return agent


def test_same_seed_is_bit_identical():
    a, b = train_small(5), train_small(5)
    assert list(a.loop.recent_returns) == list(b.loop.recent_returns)
    for (ka, va), (kb, vb) in zip(a.weights().items(), b.weights().items()):
        assert ka == kb and np.array_equal(va, vb)
    assert a.evaluate(3, seed=1).returns == b.evaluate(3, seed=1).returns
    c = train_small(6)
    assert not all(
        np.array_equal(va, vc) for va, vc in zip(a.weights().values(), c.weights().values())
    )


def test_course_mode_learns_cartpole():
    """A short, seeded run improves well above the random policy's ~22."""
    agent = reinforcelab.Reinforce("CartPole-v1", preset="course-cartpole", seed=0, n_episodes=200)
    agent.learn()
    assert agent.loop.average_return > 60
    assert agent.evaluate(10, seed=0).mean_reward > 60


def test_learn_continues_where_it_stopped():
    agent = reinforcelab.Reinforce("CartPole-v1", preset="course-cartpole", seed=1, n_episodes=10)
    agent.learn()
    agent.learn(n_episodes=15)
    assert agent.loop.episodes == 15


def test_saturated_policy_gives_finite_log_probs():
    policy = CategoricalPolicy(4, 2, (16,))
    with torch.no_grad():
        policy.net[-1].bias.copy_(torch.tensor([200.0, -200.0]))  # softmax underflows to exactly 0
        policy.net[-1].weight.zero_()
    log_pi = torch.log_softmax(policy(torch.zeros(3, 4)), dim=-1)
    lp, _ = categorical_terms(log_pi, torch.tensor([0, 1, 1]))
    assert torch.isfinite(lp).all()
    assert lp[0] == 0 and lp[1] < -300
    lp.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in policy.parameters())
