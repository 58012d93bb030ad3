"""Continuous actions: the built-in Gaussian policy (state-dependent mean, learned log-std, numpy
with hand-written gradients) and a user's torch Gaussian module."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import reinforcelab
from reinforcelab.cli import app
from reinforcelab.config import preset
from reinforcelab.engines import PolicyTargets
from reinforcelab.engines.numpy_engine import NumpyEngine
from reinforcelab.engines.torch_engine import TorchEngine
from reinforcelab.envs.make import make_vector_env
from reinforcelab.policies.gaussian import GaussianMLP
from reinforcelab.policies.mlp import GaussianPolicy
from reinforcelab.policies.torch_module import PolicyError, TorchPolicy
from reinforcelab.rollout import collect_batch
from reinforcelab.run import train_run

runner = CliRunner()


def test_log_probability_gradients_match_the_direct_formula():
    torch.manual_seed(0)
    module = GaussianMLP(3, 2, (8,), log_std=0.3)
    policy = TorchPolicy(module, 2, np.zeros((4, 3), np.float32), distribution="normal")
    assert policy.distribution == "normal" and policy.output == "mean"
    obs = torch.randn(5, 3)
    actions = torch.randn(5, 2) * 2
    mean = module(obs).detach().requires_grad_(True)
    log_prob, entropy = policy.log_prob_and_entropy(mean, actions)
    log_prob.sum().backward()
    std = module.log_std.detach().exp()
    torch.testing.assert_close(mean.grad, (actions - mean.detach()) / std**2)
    expected_log_std_grad = (((actions - mean.detach()) / std) ** 2 - 1).sum(0)
    torch.testing.assert_close(module.log_std.grad, expected_log_std_grad)
    direct = (
        -0.5 * ((actions - mean.detach()) / std) ** 2
        - module.log_std.detach()
        - 0.5 * np.log(2 * np.pi)
    ).sum(-1)
    torch.testing.assert_close(log_prob.detach(), direct)
    torch.testing.assert_close(
        entropy, (0.5 + 0.5 * np.log(2 * np.pi) + module.log_std.detach()).sum().expand(5)
    )


@pytest.mark.parametrize("entropy_coef", [0.0, 0.05])
def test_the_numpy_gaussians_gradients_equal_autograd(entropy_coef):
    """The hand-written gradients (mean and log-std, in half-range units) against autograd on the
    policy's torch view, and the same loss and entropy reported."""
    rng = np.random.default_rng(0)
    low, high = np.array([-2.0, -1.0]), np.array([2.0, 3.0])
    policy = GaussianPolicy.random(5, (16, 8), low, high, -0.3, rng)
    weight, bias = policy.net.layers[-1]
    policy.net.layers[-1] = (weight * 50, bias)  # a mean away from the middle
    twin = GaussianPolicy(policy.net.copy(), policy.log_std.copy(), low, high)
    obs = rng.normal(size=(300, 5)).astype(np.float32)
    actions = rng.uniform(-3, 4, size=(300, 2)).astype(np.float32)  # some beyond the bounds
    adv = rng.normal(size=300).astype(np.float32)
    targets = PolicyTargets(obs, actions, adv, entropy_coef)
    ours, ours_stats = NumpyEngine(policy, None, 0.1, 0.1), {}
    theirs, their_stats = TorchEngine(twin, None, 0.1, 0.1), {}
    grads = ours.policy_gradients(targets, ours_stats)
    reference = theirs.policy_gradients(targets, their_stats)
    reference = [*reference[1:], reference[0]]  # torch lists a module's own log_std first
    for a, b in zip(grads, reference, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-5)
    for name in ("policy_loss", "entropy"):
        assert ours_stats[name] == pytest.approx(their_stats[name], rel=1e-5)


def test_samples_are_scored_unclipped_and_clipped_only_for_the_env():
    agent = reinforcelab.Reinforce(
        "Pendulum-v1", preset="fast-cartpole", seed=0, num_envs=8, log_std_init=1.5
    )  # std 4.5 half-ranges: most samples leave [-2, 2]
    envs = make_vector_env("Pendulum-v1", 8, allow_envpool=False)
    actor, rng = agent.actor(), np.random.default_rng(0)
    batch = collect_batch(envs, lambda o: actor.act_batch(o, rng), 20, seed=0)
    assert batch.actions.shape == (20, 8, 1) and batch.actions.dtype == np.float32
    assert np.abs(batch.actions).max() > 2  # the sample itself is stored (and scored by the update)
    # The env sees the clipped action: stepping with 10 is stepping with the bound 2, on every
    # backend the vector env may use.
    for vectorization in ("sync", "envpool"):
        a, b = (make_vector_env("Pendulum-v1", 2, vectorization) for _ in range(2))
        a.reset(seed=[1, 2]), b.reset(seed=[1, 2])
        stepped = a.step(np.array([[10.0], [-10.0]], np.float32))[0]
        assert np.allclose(stepped, b.step(np.array([[2.0], [-2.0]], np.float32))[0])


def test_predict_deterministic_is_the_mean():
    agent = reinforcelab.Reinforce("Pendulum-v1", preset="course-cartpole", seed=0)
    obs = np.array([1.0, 0.0, 0.5], np.float32)
    mean = 2.0 * agent.policy.net.forward(obs[:, None])[:, 0]  # Pendulum's torque is in [-2, 2]
    action = agent.predict(obs, deterministic=True)
    assert action.shape == (1,) and action.dtype == np.float32 and np.allclose(action, mean)
    assert agent.predict(np.stack([obs, obs])).shape == (2, 1)


def test_a_module_without_log_std_is_refused_for_continuous_actions():
    with pytest.raises(PolicyError, match="needs a log_std parameter of shape \\(1,\\)"):
        reinforcelab.Reinforce("Pendulum-v1", preset="fast-cartpole", policy=torch.nn.Linear(3, 1))


@pytest.mark.parametrize(
    "preset_name, budget",
    [
        ("fast-cartpole", {"total_env_steps": 8_000, "num_envs": 16}),
        ("course-cartpole", {"n_episodes": 4}),
    ],
)
def test_gaussian_policy_trains_saves_loads_and_works_from_the_cli(tmp_path, preset_name, budget):
    config = preset(preset_name).replace(
        env_id="Pendulum-v1", seed=0, hidden_sizes=(16,), lr=3e-3, **budget
    )
    before = reinforcelab.Reinforce(config=config)
    result = train_run(config, tmp_path / "run", progress=False)
    assert any(
        not np.array_equal(before.weights()[k], v) for k, v in result.agent.weights().items()
    )
    spec = json.loads((tmp_path / "run" / "config.json").read_text())["policy"]
    assert spec == {"kind": "gaussian", "hidden_sizes": [16]}
    loaded = reinforcelab.load(tmp_path / "run")
    obs = np.random.default_rng(0).normal(size=(16, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        loaded.predict(obs, deterministic=True), result.agent.predict(obs, deterministic=True)
    )
    for args in (
        ["evaluate", tmp_path / "run", "--deterministic", "--episodes", 2],
        ["record", tmp_path / "run", "--out", tmp_path / "p.mp4", "--max-steps", 20],
        [
            "push",
            tmp_path / "run",
            "--repo-id",
            "me/pendulum",
            "--dry-run",
            tmp_path / "hub",
            "--eval-episodes",
            2,
            "--no-video",
        ],
    ):
        out = runner.invoke(app, [str(a) for a in args])
        assert out.exit_code == 0, out.output
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "a Gaussian over the continuous actions: mean MLP 3 -> 16 -> 1 (Tanh)" in card
