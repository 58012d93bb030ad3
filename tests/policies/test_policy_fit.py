"""A policy module that does not fit the env is one PolicyError line (the module, the observation
shape it was given, the original error's first line), and a policy whose outputs are NaN or
infinite is refused while acting, in course mode, fast mode, predict and evaluate, instead of
sampling an invalid action or quietly acting 0."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_helpers import invoke, one_line_error
from torch import nn

import reinforcelab
from reinforcelab.loops import TrainingDiverged
from reinforcelab.policies.base import NonFiniteOutputs
from reinforcelab.policies.torch_module import PolicyError


class Images(nn.Module):
    """Expects (C, H, W) frames: a Conv2d on CartPole's vectors."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean((2, 3))


class Picky(nn.Module):
    """Raises its own error, over several lines."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise KeyError("wants a dict of observations\nwith 'pos' and 'vel'")


class Constant(nn.Module):
    """Returns ``value`` for every output (NaN, inf, ...), as logits, probabilities or means."""

    def __init__(self, n_out: int, value: float, log_std: bool = False) -> None:
        super().__init__()
        self.n_out, self.value = n_out, value
        self.bias = nn.Parameter(torch.zeros(n_out))
        if log_std:
            self.log_std = nn.Parameter(torch.zeros(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((len(x), self.n_out), self.value) + self.bias


class NaNAfter(nn.Module):
    """A fine policy for its first ``steps`` forwards of one observation, NaN afterwards: the
    check runs on every step, not only on the first."""

    def __init__(self, steps: int) -> None:
        super().__init__()
        self.net, self.calls, self.steps = nn.Linear(4, 2), 0, steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        out = self.net(x)
        return out if self.calls <= self.steps else out * float("nan")


@pytest.mark.parametrize(
    "policy, words",
    [
        (nn.Linear(5, 2), ["Linear(in_features=5, out_features=2, bias=True)", "mat1 and mat2"]),
        (Images(), ["policy Images does not fit", "RuntimeError"]),
        (Picky(), ["Picky", "raised KeyError: wants a dict of observations"]),
        (nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(7, 2)), ["Sequential", "mat1"]),
    ],
)
def test_a_module_that_cannot_take_the_observations_is_one_line(policy, words):
    with pytest.raises(PolicyError) as caught:
        reinforcelab.Reinforce("CartPole-v1", policy=policy)
    message = str(caught.value)
    assert "\n" not in message
    assert "its forward on a batch of shape (8, 4) (observations of shape (4,))" in message
    for word in words:
        assert word in message


def test_a_class_that_cannot_take_the_observations_is_one_line_on_the_command_line(tmp_path):
    line = one_line_error(
        invoke(
            "train",
            "CartPole-v1",
            "--policy",
            "torch.nn:Linear",
            "--policy-kwargs",
            '{"in_features": 5, "out_features": 2}',
            "--out",
            tmp_path / "r",
        )
    )
    assert "Linear(in_features=5, out_features=2, bias=True) does not fit" in line
    assert "mat1 and mat2 shapes cannot be multiplied (8x4 and 5x2)" in line
    assert not (tmp_path / "r").exists()


def test_a_module_of_the_wrong_frames_is_one_line_on_images():
    # CarRacing's frames, transposed to (3, 96, 96), into a network for 48x48 grayscale ones
    from reinforcelab.policies.cnn import CNNPolicy

    with pytest.raises(PolicyError, match=r"batch of shape \(8, 3, 96, 96\)"):
        reinforcelab.Reinforce("CarRacing-v3", policy=CNNPolicy((1, 48, 48), 3))


NON_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("value", NON_FINITE, ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("output", ["logits", "probs"])
def test_non_finite_outputs_are_refused_by_predict_and_evaluate(value, output):
    agent = reinforcelab.Reinforce(
        "CartPole-v1", policy=Constant(2, value), policy_output=output, seed=0
    )
    obs = np.zeros(4, dtype=np.float32)
    for deterministic in (False, True):
        with pytest.raises(NonFiniteOutputs, match="NaN or infinite"):
            agent.predict(obs, deterministic=deterministic)  # was: 0, quietly
        with pytest.raises(NonFiniteOutputs, match="the observations are finite"):
            agent.evaluate(3, deterministic=deterministic)  # was: scored
    with pytest.raises(NonFiniteOutputs):
        agent.predict(np.zeros((5, 4), dtype=np.float32))


@pytest.mark.parametrize("preset", ["course-cartpole", "fast-cartpole"])
def test_non_finite_outputs_are_refused_while_training(preset):
    agent = reinforcelab.Reinforce("CartPole-v1", preset=preset, policy=Constant(2, np.nan))
    # course mode sampled an invalid action and failed inside Gymnasium
    with pytest.raises(NonFiniteOutputs, match="the policy returned"):
        agent.learn(**{agent.config.mode.budget_field: 50})


def test_a_policy_that_turns_nan_later_is_caught_when_it_does():
    agent = reinforcelab.Reinforce("CartPole-v1", policy=NaNAfter(6), seed=0)
    with pytest.raises(NonFiniteOutputs, match="2 NaN or infinite logits of 2"):
        agent.evaluate(1, max_t=200, seed=0)  # a CartPole episode lasts 8 steps or more
    assert agent.policy.module.calls == 7  # the check at construction, 5 steps, the 6th NaN


@pytest.mark.parametrize("value", NON_FINITE, ids=["nan", "inf", "-inf"])
def test_non_finite_gaussian_means_are_refused(value):
    policy = Constant(1, value, log_std=True)
    agent = reinforcelab.Reinforce(
        "Pendulum-v1", preset="fast-lunarlander-continuous", policy=policy
    )
    with pytest.raises(NonFiniteOutputs, match="action means"):
        agent.predict(np.zeros(3, dtype=np.float32))
    with pytest.raises(NonFiniteOutputs, match="action means"):
        agent.evaluate(2)
    with pytest.raises(NonFiniteOutputs, match="action means"):
        agent.learn(total_env_steps=100)


def test_nan_observations_are_named_as_a_cause():
    agent = reinforcelab.Reinforce("CartPole-v1", seed=0)  # the built-in numpy MLP
    with pytest.raises(NonFiniteOutputs, match="the observations have NaN or infinite values too"):
        agent.predict(np.array([0.0, np.nan, 0.0, 0.0], dtype=np.float32))


def test_weights_too_large_to_act_with_end_training_as_a_divergence():
    # Finite weights whose logits overflow: a divergence, not the policy's fault
    agent = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", lr=1e30, seed=0)
    with pytest.raises(TrainingDiverged, match="weights, or outputs"):
        agent.learn()
    assert agent.loop.updates >= 1


def test_a_nan_module_class_is_one_line_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nanpolicy.py").write_text(
        "import torch\n"
        "class NaNPolicy(torch.nn.Module):\n"
        "    def __init__(self, n_actions=2):\n"
        "        super().__init__()\n"
        "        self.n_actions = n_actions\n"
        "        self.net = torch.nn.Linear(4, n_actions)\n"
        "    def forward(self, x):\n"
        "        return self.net(x) * float('nan')\n"
    )
    line = one_line_error(
        invoke("train", "CartPole-v1", "--policy", "nanpolicy:NaNPolicy", "--episodes", 5)
    )
    assert "the policy returned 2 NaN or infinite logits of 2" in line
