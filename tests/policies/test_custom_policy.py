"""Bring your own PyTorch policy: the course's Policy class as the course writes it, and a Tanh
net."""

import json
from collections import deque

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical
from typer.testing import CliRunner

import reinforcelab
from reinforcelab.artifacts.checkpoint import CheckpointError
from reinforcelab.cli import app
from reinforcelab.config import preset
from reinforcelab.policies.torch_module import PolicyError
from reinforcelab.rollout import Episode
from reinforcelab.run import train_run

runner = CliRunner()

# ------------------------------------------------- the course's code (Unit 4), as written there
device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")


class Policy(nn.Module):
    def __init__(self, s_size, a_size, h_size):
        super().__init__()
        self.fc1 = nn.Linear(s_size, h_size)
        self.fc2 = nn.Linear(h_size, a_size)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return F.softmax(x, dim=1)

    def act(self, state):
        state = torch.from_numpy(state).float().unsqueeze(0).to(device)
        probs = self.forward(state).cpu()
        m = Categorical(probs)
        action = m.sample()
        return action.item(), m.log_prob(action)


def course_policy_loss(saved_log_probs, rewards, gamma, max_t):
    """The loss part of the course's reinforce(), line for line."""
    returns = deque(maxlen=max_t)
    n_steps = len(rewards)
    for t in range(n_steps)[::-1]:
        disc_return_t = returns[0] if len(returns) > 0 else 0
        returns.appendleft(gamma * disc_return_t + rewards[t])
    eps = np.finfo(np.float32).eps.item()
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    policy_loss = []
    for log_prob, disc_return in zip(saved_log_probs, returns):
        policy_loss.append(-log_prob * disc_return)
    policy_loss = torch.cat(policy_loss).sum()
    return policy_loss


# ------------------------------------------------------------------ end of the course's code


class TanhPolicy(nn.Module):
    """Another user's policy: two Tanh hidden layers, logits out; it keeps its arguments."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 32):
        super().__init__()
        self.obs_dim, self.n_actions, self.hidden = obs_dim, n_actions, hidden
        self.body = nn.Sequential(
            nn.Linear(obs_dim, hidden),
            nn.Tanh(),
            nn.Linear(hidden, hidden),
            nn.Tanh(),
            nn.Linear(hidden, n_actions),
        )

    def forward(self, x):
        return self.body(x)


def play_the_course_way(policy, seed, max_t=1000):
    env = gym.make("CartPole-v1")
    torch.manual_seed(seed)
    state, _ = env.reset(seed=seed)
    states, actions, rewards, saved_log_probs = [], [], [], []
    for _ in range(max_t):
        action, log_prob = policy.act(state)
        states.append(state)
        actions.append(action)
        saved_log_probs.append(log_prob)
        state, reward, terminated, truncated, _ = env.step(action)
        rewards.append(reward)
        if terminated or truncated:
            break
    episode = Episode(
        np.asarray(states, np.float32),
        np.asarray(actions),
        np.asarray(rewards, np.float64),
        True,
        False,
    )
    return episode, saved_log_probs, rewards


@pytest.mark.parametrize("seed,gamma", [(0, 1.0), (1, 0.99), (5, 0.9)])
def test_course_mode_gives_the_courses_gradient_for_the_courses_policy(seed, gamma):
    torch.manual_seed(100 + seed)
    policy = Policy(4, 2, 16)
    episode, saved_log_probs, rewards = play_the_course_way(policy, seed)
    assert episode.length > 5
    policy.zero_grad()
    course_policy_loss(saved_log_probs, rewards, gamma, 1000).backward()
    theirs = [p.grad.clone() for p in policy.parameters()]

    agent = reinforcelab.Reinforce(
        "CartPole-v1", preset="course-cartpole", gamma=gamma, policy=policy
    )
    assert agent.policy.output == "probs"  # detected: the course's forward ends in a softmax
    policy.zero_grad()
    agent.training_loop().update(episode)  # leaves the gradients it stepped with in .grad
    for ours, reference in zip((p.grad for p in policy.parameters()), theirs, strict=True):
        torch.testing.assert_close(ours, reference, atol=1e-6, rtol=1e-5)


def test_course_mode_update_is_the_courses_adam_step():
    torch.manual_seed(3)
    theirs = Policy(4, 2, 16)
    agent = reinforcelab.Reinforce("CartPole-v1", preset="course-cartpole", policy=Policy(4, 2, 16))
    agent.policy.module.load_state_dict(theirs.state_dict())
    episode, saved_log_probs, rewards = play_the_course_way(theirs, 3)
    optimizer = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    optimizer.zero_grad()
    course_policy_loss(saved_log_probs, rewards, 1.0, 1000).backward()
    optimizer.step()
    agent.training_loop().update(episode)
    for name, value in theirs.state_dict().items():
        torch.testing.assert_close(
            agent.policy.module.state_dict()[name], value, atol=1e-6, rtol=1e-5
        )


def test_the_courses_policy_trains_in_course_mode_and_loads_back_without_pickles(tmp_path):
    agent = reinforcelab.Reinforce(
        "CartPole-v1", preset="course-cartpole", policy=Policy(4, 2, 16), seed=0, n_episodes=20
    )
    before = {k: v.copy() for k, v in agent.weights().items()}
    agent.learn()
    assert any(not np.array_equal(before[k], v) for k, v in agent.weights().items())
    agent.save(tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["policy"] == {
        "kind": "torch",
        "class": f"{__name__}:Policy",
        "kwargs": None,
        "output": "probs",
        "distribution": "categorical",
    }
    assert sorted(agent.weights()) == [
        "policy.fc1.bias",
        "policy.fc1.weight",
        "policy.fc2.bias",
        "policy.fc2.weight",
    ]
    assert not list((tmp_path / "run").glob("*.p*"))  # no .pt/.pkl: weights are safetensors

    # The course's Policy keeps no constructor arguments: loading asks for the module, in one line.
    with pytest.raises(
        CheckpointError, match=r"arguments of .*Policy are unknown.*policy=Policy\(\.\.\.\)"
    ):
        reinforcelab.load(tmp_path / "run")
    loaded = reinforcelab.load(tmp_path / "run", policy=Policy(4, 2, 16))
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert (loaded.predict(obs, deterministic=True) == agent.predict(obs, deterministic=True)).all()
    with pytest.raises(
        CheckpointError,
        match=(
            r"does not match the policy passed \(Policy\): "
            r"shape mismatch for .*policy\.fc1\.weight"
        ),
    ):
        reinforcelab.load(tmp_path / "run", policy=Policy(4, 2, 32))


def test_a_policy_class_with_its_arguments_is_rebuilt_on_load(tmp_path):
    agent = reinforcelab.Reinforce(
        "CartPole-v1",
        preset="course-cartpole",
        policy=Policy,
        policy_kwargs={"s_size": 4, "a_size": 2, "h_size": 8},
        seed=1,
        n_episodes=5,
    )
    agent.learn().save(tmp_path / "run")
    loaded = reinforcelab.load(tmp_path / "run")
    assert isinstance(loaded.policy.module, Policy) and loaded.policy.module.fc1.out_features == 8
    for name, value in agent.weights().items():
        np.testing.assert_array_equal(loaded.weights()[name], value)
    # Same seed, same class: the same initial weights.
    again = reinforcelab.Reinforce(
        "CartPole-v1",
        preset="course-cartpole",
        policy=Policy,
        policy_kwargs={"s_size": 4, "a_size": 2, "h_size": 8},
        seed=1,
    )
    first = reinforcelab.Reinforce(
        "CartPole-v1",
        preset="course-cartpole",
        policy=Policy,
        policy_kwargs={"s_size": 4, "a_size": 2, "h_size": 8},
        seed=1,
    )
    for name, value in first.weights().items():
        np.testing.assert_array_equal(again.weights()[name], value)


def test_a_class_that_cannot_be_imported_is_named_with_the_fix(tmp_path):
    class NotebookPolicy(nn.Module):  # like a class defined in a notebook: not importable elsewhere
        def __init__(self, hidden=8):
            super().__init__()
            self.hidden = hidden
            self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 2))

        def forward(self, x):
            return self.net(x)

    reinforcelab.Reinforce("CartPole-v1", preset="course-cartpole", policy=NotebookPolicy()).save(
        tmp_path / "nb"
    )
    with pytest.raises(
        CheckpointError,
        match=r"cannot import the policy class .*NotebookPolicy.*reinforcelab.load\("
        r"path, policy=",
    ):
        reinforcelab.load(tmp_path / "nb")
    assert reinforcelab.load(tmp_path / "nb", policy=NotebookPolicy()).policy.output == "logits"


def test_bad_policies_are_clear_errors():
    with pytest.raises(PolicyError, match=r"must return \(8, 2\) logits or probabilities"):
        reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", policy=Policy(4, 3, 16))
    with pytest.raises(PolicyError, match=r"torch\.nn\.Module"):
        reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", policy=dict)
    with pytest.raises(PolicyError, match="policy_kwargs only apply"):
        reinforcelab.Reinforce(
            "CartPole-v1", preset="fast-cartpole", policy=Policy(4, 2, 16), policy_kwargs={"a": 1}
        )
    with pytest.raises(PolicyError, match="cannot build Policy"):
        reinforcelab.Reinforce(
            "CartPole-v1", preset="fast-cartpole", policy=Policy, policy_kwargs={"size": 4}
        )


def test_saturated_probabilities_give_finite_log_probabilities_and_gradients():
    policy = Policy(4, 2, 16)
    with torch.no_grad():
        policy.fc2.bias[:] = torch.tensor(
            [200.0, -200.0]
        )  # softmax underflows to exactly 0 for action 1
    agent = reinforcelab.Reinforce(
        "CartPole-v1", preset="course-cartpole", gamma=0.9, policy=policy, policy_output="probs"
    )
    episode = Episode(
        np.zeros((3, 4), np.float32), np.array([1, 0, 1]), np.array([1.0, 1.0, 1.0]), True, False
    )
    stats = agent.training_loop().update(episode)
    assert np.isfinite(stats["policy_loss"])
    assert all(torch.isfinite(p.grad).all() for p in policy.parameters())


def test_fast_mode_with_the_courses_policy_solves_cartpole(tmp_path):
    config = preset("fast-cartpole").replace(seed=0, total_env_steps=3_000_000)
    result = train_run(
        config,
        tmp_path / "fast",
        stop_reward=475,
        stop_eval_episodes=100,
        progress=False,
        policy={"policy": Policy, "policy_kwargs": {"s_size": 4, "a_size": 2, "h_size": 16}},
    )
    assert result.summary["solved"], result.summary  # a 100-episode sampled evaluation reached 475
    assert result.summary["early_stop_evaluations"][-1]["mean_return"] >= 475
    assert reinforcelab.load(tmp_path / "fast").evaluate(20, seed=1).mean_reward > 400


@pytest.fixture(scope="module")
def tanh_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tanh") / "run"
    config = preset("fast-cartpole").replace(seed=0, total_env_steps=40_000, num_envs=32)
    train_run(
        config,
        out,
        progress=False,
        policy={"policy": TanhPolicy, "policy_kwargs": {"obs_dim": 4, "n_actions": 2}},
    )
    return out


def test_a_tanh_policy_trains_in_both_modes_and_the_cli_uses_it(tanh_run, tmp_path):
    course = reinforcelab.Reinforce(
        "CartPole-v1", preset="course-cartpole", policy=TanhPolicy(4, 2), n_episodes=5
    )
    course.learn()
    assert course.loop.episodes == 5
    agent = reinforcelab.load(tanh_run)  # TanhPolicy keeps its arguments: rebuilt from config.json
    assert isinstance(agent.policy.module, TanhPolicy) and agent.policy.output == "logits"

    def ok(*args):
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "mean_reward=" in ok("evaluate", tanh_run, "--episodes", 3, "--seed", 0)
    assert "frames" in ok("record", tanh_run, "--out", tmp_path / "tanh.mp4", "--max-steps", 50)
    assert "episode 1:" in ok("enjoy", tanh_run, "--episodes", 1)
    assert "wrote" in ok("plot", tanh_run, "--out", tmp_path / "curve.png")
    ok(
        "push",
        tanh_run,
        "--repo-id",
        "me/tanh",
        "--dry-run",
        tmp_path / "hub",
        "--eval-episodes",
        2,
    )
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "## Policy architecture" in card and "Tanh()" in card
    assert f"from {__name__} import TanhPolicy" in card
    for path in (tanh_run / "model.safetensors", tmp_path / "hub" / "model.safetensors"):
        assert path.read_bytes()[:8] and not list(path.parent.glob("*.pt"))
