"""reinforcelab.course: the course's helpers on Gymnasium 1.x, checked against the course's own
cells.

The course's cells below are transcribed from the Unit 4 notebook (Policy, reinforce,
evaluate_agent) and run unchanged on the pre-0.26 gym API through a small adapter, with the global
``env`` they read. The library's functions must compute exactly what they compute.
"""

from __future__ import annotations

import copy
import json
import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

import reinforcelab
from reinforcelab.artifacts.hub import HUB_FILES, find_pickles
from reinforcelab.course import evaluate_agent, push_to_hub, record_video, reinforce

# ----------------------------------------------------------------------------- the course's cells
COURSE_CELLS = """
import numpy as np
from collections import deque
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical

device = torch.device("cpu")

class Policy(nn.Module):
    def __init__(self, s_size, a_size, h_size):
        super(Policy, self).__init__()
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

class PixelcopterPolicy(nn.Module):  # the course names it Policy too
    def __init__(self, s_size, a_size, h_size):
        super(PixelcopterPolicy, self).__init__()
        self.fc1 = nn.Linear(s_size, h_size)
        self.fc2 = nn.Linear(h_size, h_size*2)
        self.fc3 = nn.Linear(h_size*2, a_size)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return F.softmax(x, dim=1)

    def act(self, state):
        state = torch.from_numpy(state).float().unsqueeze(0).to(device)
        probs = self.forward(state).cpu()
        m = Categorical(probs)
        action = m.sample()
        return action.item(), m.log_prob(action)

def reinforce(policy, optimizer, n_training_episodes, max_t, gamma, print_every):
    scores_deque = deque(maxlen=100)
    scores = []
    for i_episode in range(1, n_training_episodes+1):
        saved_log_probs = []
        rewards = []
        state = env.reset()
        for t in range(max_t):
            action, log_prob = policy.act(state)
            saved_log_probs.append(log_prob)
            state, reward, done, _ = env.step(action)
            rewards.append(reward)
            if done:
                break
        scores_deque.append(sum(rewards))
        scores.append(sum(rewards))
        returns = deque(maxlen=max_t)
        n_steps = len(rewards)
        for t in range(n_steps)[::-1]:
            disc_return_t = (returns[0] if len(returns)>0 else 0)
            returns.appendleft( gamma*disc_return_t + rewards[t]   )
        eps = np.finfo(np.float32).eps.item()
        returns = torch.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        policy_loss = []
        for log_prob, disc_return in zip(saved_log_probs, returns):
            policy_loss.append(-log_prob * disc_return)
        policy_loss = torch.cat(policy_loss).sum()
        optimizer.zero_grad()
        policy_loss.backward()
        optimizer.step()
        if i_episode % print_every == 0:
            print('Episode {}\\tAverage Score: {:.2f}'.format(i_episode, np.mean(scores_deque)))
    return scores

def evaluate_agent(env, max_steps, n_eval_episodes, policy):
  episode_rewards = []
  for episode in range(n_eval_episodes):
    state = env.reset()
    step = 0
    done = False
    total_rewards_ep = 0
    for step in range(max_steps):
      action, _ = policy.act(state)
      new_state, reward, done, info = env.step(action)
      total_rewards_ep += reward
      if done:
        break
      state = new_state
    episode_rewards.append(total_rewards_ep)
  mean_reward = np.mean(episode_rewards)
  std_reward = np.std(episode_rewards)
  return mean_reward, std_reward
"""


class OldGymAPI:
    """The pre-0.26 gym API the course's cells use: reset() -> obs, step() -> (obs, reward, done,
    info). The first reset is seeded so that a run can be compared with the library's."""

    def __init__(self, env: gym.Env, seed: int) -> None:
        self.env, self.seed = env, seed

    def reset(self):
        obs, _ = self.env.reset(seed=self.seed)
        self.seed = None
        return obs

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated or truncated, info


@pytest.fixture
def course():
    """The course's cells, executed in a fresh namespace (its functions read the global ``env``)."""
    namespace: dict = {}
    exec(COURSE_CELLS, namespace)
    return namespace


def weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


# ----------------------------------------------------------------------------- reinforce
@pytest.mark.parametrize(
    "env_id,gamma,hidden", [("CartPole-v1", 1.0, 16), ("Pixelcopter-PLE-v0", 0.99, 8)]
)
def test_reinforce_computes_what_the_course_computes(course, capsys, env_id, gamma, hidden):
    env = gym.make(env_id)
    n_obs, n_actions = env.observation_space.shape[0], env.action_space.n
    cls = course["Policy"] if env_id == "CartPole-v1" else course["PixelcopterPolicy"]
    torch.manual_seed(0)
    theirs = cls(n_obs, n_actions, hidden)
    ours = copy.deepcopy(theirs)

    torch.manual_seed(1)
    course["env"] = OldGymAPI(gym.make(env_id), seed=3)
    their_scores = course["reinforce"](
        theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2), 40, 1000, gamma, 10
    )
    their_output = capsys.readouterr().out

    torch.manual_seed(1)
    our_scores = reinforce(
        ours, torch.optim.Adam(ours.parameters(), lr=1e-2), 40, 1000, gamma, 10, env=env, seed=3
    )
    assert capsys.readouterr().out == their_output
    assert our_scores == their_scores
    assert their_output.count("Average Score") == 4
    for a, b in zip(weights(ours), weights(theirs)):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert any(
        not torch.equal(a, b) for a, b in zip(weights(ours), weights(cls(n_obs, n_actions, hidden)))
    )


class OneStepEnv(gym.Env):
    """Every episode ends after one step: the case where the course's standardisation divides by
    NaN."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action):
        return np.zeros(4, np.float32), 1.0, True, False, {}


def test_a_one_step_episode_leaves_the_policy_unchanged_instead_of_nan(course):
    policy = course["Policy"](4, 2, 16)
    before = weights(policy)
    scores = reinforce(
        policy, torch.optim.Adam(policy.parameters(), lr=1e-2), 3, 100, 1.0, 100, env=OneStepEnv()
    )
    assert scores == [1.0, 1.0, 1.0]
    for a, b in zip(weights(policy), before):
        assert torch.equal(a, b)
    # The course's loop turns the same episodes into NaN weights.
    course["env"] = OldGymAPI(OneStepEnv(), seed=0)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        course["reinforce"](
            policy, torch.optim.Adam(policy.parameters(), lr=1e-2), 1, 100, 1.0, 100
        )
    assert any(torch.isnan(p).any() for p in weights(policy))


# ----------------------------------------------------------------------------- evaluate_agent
def test_evaluate_agent_computes_what_the_course_computes(course):
    torch.manual_seed(0)
    policy = course["Policy"](4, 2, 16)
    torch.manual_seed(5)
    theirs = course["evaluate_agent"](OldGymAPI(gym.make("CartPole-v1"), seed=2), 1000, 6, policy)
    torch.manual_seed(5)
    ours = evaluate_agent(gym.make("CartPole-v1"), 1000, 6, policy, seed=2)
    assert ours == (float(theirs[0]), float(theirs[1]))
    assert ours[1] > 0  # sampled actions: the episodes differ
    assert evaluate_agent(gym.make("CartPole-v1"), 3, 2, policy) == (
        3.0,
        0.0,
    )  # capped at max_steps


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda p, env: evaluate_agent(env, 100, 0, p),
            "n_eval_episodes must be a whole number of at least 1; got 0",
        ),
        (
            lambda p, env: evaluate_agent(env, 0, 10, p),
            "max_steps must be a whole number of at least 1; got 0",
        ),
        (lambda p, env: evaluate_agent(env, 100, 10, object()), "policy must have a method act"),
        (
            lambda p, env: reinforce(p, torch.optim.Adam(p.parameters()), 10, 100, 1.5, 10, env),
            "gamma must be in",
        ),
        (
            lambda p, env: reinforce(p, torch.optim.Adam(p.parameters()), 10, 100, 1.0, 0, env),
            "print_every must be",
        ),
        (
            lambda p, env: reinforce(p, torch.optim.Adam(p.parameters()), 0, 100, 1.0, 10, env),
            "n_training_episodes must",
        ),
        (lambda p, env: record_video(env, p, "replay.avi"), "must end in .mp4"),
        (
            lambda p, env: push_to_hub("not a repo id", p, {}, env, dry_run="x"),
            "is not a Hub repo id",
        ),
        (
            lambda p, env: push_to_hub("me/cp", p, {"env_id": "CartPole-v1"}, env, dry_run="x"),
            "missing max_t, n_eval",
        ),
    ],
)
def test_bad_input_gets_one_clear_line(course, call, message):
    with pytest.raises((ValueError, TypeError, RuntimeError)) as info:
        call(course["Policy"](4, 2, 16), gym.make("CartPole-v1"))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- record_video
def test_record_video_works_with_the_course_env_and_is_step_capped(course, tmp_path):
    policy = course["Policy"](4, 2, 16)
    env = gym.make("CartPole-v1")  # as the course makes it: no render_mode
    info = record_video(env, policy, tmp_path / "replay.mp4", fps=30, max_steps=5, seed=0)
    assert (tmp_path / "replay.mp4").stat().st_size > 0
    assert info["steps"] == 5 and info["frames"] == 6  # the reset frame, then one per step
    info = record_video(
        gym.make("CartPole-v1", render_mode="rgb_array"), policy, tmp_path / "full.mp4", seed=0
    )
    assert 5 < info["steps"] <= 500  # an untrained policy drops the pole long before 1000 steps


# ----------------------------------------------------------------------------- push_to_hub
CARTPOLE_HP = {
    "h_size": 16,
    "n_training_episodes": 1000,
    "n_evaluation_episodes": 10,
    "max_t": 1000,
    "gamma": 1.0,
    "lr": 1e-2,
    "env_id": "CartPole-v1",
    "state_space": 4,
    "action_space": 2,
}


def front_matter(readme: str) -> dict:
    return yaml.safe_load(readme.split("---")[1])


def test_push_to_hub_dry_run_writes_a_safetensors_folder_that_reinforcelab_loads(
    course, tmp_path, capsys
):
    torch.manual_seed(0)
    policy = course["Policy"](4, 2, 16)
    folder = push_to_hub(
        "me/Reinforce-CartPole-v1",
        policy,
        CARTPOLE_HP,
        gym.make("CartPole-v1"),
        dry_run=tmp_path / "hub",
        seed=0,
    )
    assert folder == tmp_path / "hub"
    assert sorted(p.name for p in folder.iterdir()) == sorted(HUB_FILES)
    assert find_pickles(folder) == []
    assert (tmp_path / "hub-manifest.json").is_file()
    results = json.loads((folder / "results.json").read_text())
    assert results["n_evaluation_episodes"] == 10 and results["std_reward"] >= 0
    card = front_matter((folder / "README.md").read_text())
    value = card["model-index"][0]["results"][0]["metrics"][0]["value"]
    assert value == f"{results['mean_reward']:.2f} +/- {results['std_reward']:.2f}"
    assert "deep-rl-class" in card["tags"] and "CartPole-v1" in card["tags"]
    hyperparameters = json.loads((folder / "hyperparameters.json").read_text())
    assert {k: hyperparameters[k] for k in CARTPOLE_HP} == CARTPOLE_HP
    assert "Dry run" in capsys.readouterr().out

    agent = reinforcelab.load(folder)
    states = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    logits = agent.actor().logits(states)
    with torch.no_grad():
        probs = policy(torch.from_numpy(states)).numpy()
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(0), probs.T, atol=1e-6)


def test_push_to_hub_publishes_the_deeper_pixelcopter_policy(course, tmp_path):
    torch.manual_seed(0)
    policy = course["PixelcopterPolicy"](7, 2, 64)
    hp = {
        **CARTPOLE_HP,
        "h_size": 64,
        "max_t": 10000,
        "gamma": 0.99,
        "lr": 1e-4,
        "env_id": "Pixelcopter-PLE-v0",
        "state_space": 7,
        "n_evaluation_episodes": 2,
    }
    folder = push_to_hub(
        "me/Reinforce-Pixelcopter",
        policy,
        hp,
        gym.make("Pixelcopter-PLE-v0"),
        dry_run=tmp_path / "hub",
        seed=0,
        video_max_steps=20,
    )
    agent = reinforcelab.load(folder)
    assert agent.config.hidden_sizes == (64, 128) and agent.config.env_id == "Pixelcopter-PLE-v0"
    assert json.loads((folder / "hyperparameters.json").read_text())["h_size"] == 64


def test_push_to_hub_uploads_to_the_hub(course, hub_server, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
    policy = course["Policy"](4, 2, 16)
    hp = {**CARTPOLE_HP, "n_evaluation_episodes": 2}
    url = push_to_hub(
        "me/cartpole",
        policy,
        hp,
        gym.make("CartPole-v1"),
        token="good",
        endpoint=hub_server.endpoint,
        seed=0,
    )
    assert url == f"{hub_server.endpoint}/me/cartpole"
    assert set(hub_server.files("me/cartpole")) - {".gitattributes"} == set(HUB_FILES)


def test_a_failed_upload_keeps_the_folder_and_says_how_to_retry(course, hub_server):
    from reinforcelab.artifacts.hub import HubUploadError

    hp = {**CARTPOLE_HP, "n_evaluation_episodes": 2}
    with pytest.raises(HubUploadError) as info:
        push_to_hub(
            "me/cartpole",
            course["Policy"](4, 2, 16),
            hp,
            gym.make("CartPole-v1"),
            token="bad",
            endpoint=hub_server.endpoint,
            video_max_steps=5,
        )
    assert info.value.kind == "auth"
    assert sorted(p.name for p in info.value.folder.iterdir()) == sorted(HUB_FILES)
    assert "hf upload me/cartpole" in info.value.retry_command
    shutil.rmtree(info.value.folder.parent)


class TanhPolicy(torch.nn.Module):
    """Linear layers that chain, but with a tanh between them: not the built-in MLP."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(4, 8), torch.nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))  # logits

    def act(self, state):
        dist = torch.distributions.Categorical(
            logits=self(torch.from_numpy(state).float().unsqueeze(0))
        )
        action = dist.sample()
        return action.item(), dist.log_prob(action)


def test_push_to_hub_saves_any_other_module_as_its_own_state_dict(tmp_path):
    torch.manual_seed(0)
    policy = TanhPolicy()
    folder = push_to_hub(
        "me/tanh",
        policy,
        {**CARTPOLE_HP, "n_evaluation_episodes": 2},
        gym.make("CartPole-v1"),
        dry_run=tmp_path / "hub",
        seed=0,
        video_max_steps=5,
    )
    assert find_pickles(folder) == []
    agent = reinforcelab.load(
        folder, policy=TanhPolicy()
    )  # the same class, fresh weights, then loaded
    states = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    with torch.no_grad():
        expected = policy(torch.from_numpy(states)).numpy().T
    np.testing.assert_allclose(agent.actor().logits(states), expected, atol=1e-6)
