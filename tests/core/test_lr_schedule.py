"""Fast mode's learning-rate schedule: ``lr_schedule="linear"`` scales both learning rates by the
share of the env-step budget left before each update, in both engines, and survives a resume."""

import numpy as np
import pytest
from typer.testing import CliRunner

import reinforcelab
from reinforcelab.callbacks import Callback
from reinforcelab.cli import app
from reinforcelab.config import ConfigError, preset
from reinforcelab.run import resume_run, train_run


class LearningRates(Callback):
    """Records (env steps before the update, policy lr, value lr) of every update."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, float | None]] = []
        self.steps_before = 0

    def on_update(self, trainer, records) -> None:
        lrs = [o.lr for o in trainer.engine.optimizers]
        self.rows.append((self.steps_before, lrs[0], lrs[1] if len(lrs) > 1 else None))
        self.steps_before = trainer.env_steps


class StopAfterUpdates(Callback):
    def __init__(self, updates: int) -> None:
        self.updates = updates

    def on_update(self, trainer, records) -> None:
        if trainer.updates >= self.updates:
            trainer.stop("test")


@pytest.mark.parametrize("torch_policy", [False, True])
def test_linear_schedule_scales_both_learning_rates_by_the_budget_left(torch_policy):
    total = 20_000
    options = dict(
        seed=0,
        num_envs=16,
        total_env_steps=total,
        lr_schedule="linear",
        baseline="value",
        value_lr=0.02,
        rollout_max_t=50,  # batches of at most 800 steps: the last update starts 800 or less
    )  # before the budget, whatever the weights learn
    if torch_policy:  # the torch engine (a user's module) follows the same schedule
        import torch

        options["policy"] = torch.nn.Sequential(
            torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
        )
    agent = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", device="cpu", **options)
    lrs = LearningRates()
    agent.learn([lrs])
    assert len(lrs.rows) >= 5
    for steps_before, lr, value_lr in lrs.rows:
        left = 1 - steps_before / total
        assert lr == pytest.approx(0.1 * left) and value_lr == pytest.approx(0.02 * left)
    assert lrs.rows[0][1] == 0.1  # the first update runs at the full rate
    assert lrs.rows[-1][1] <= 0.1 * 800 / total  # and the last one near zero
    assert agent.loop.update_stats["lr"] == lrs.rows[-1][1]


def test_constant_schedule_keeps_the_configured_rate():
    agent = reinforcelab.Reinforce(
        "CartPole-v1", preset="fast-cartpole", seed=0, device="cpu", total_env_steps=10_000
    )
    lrs = LearningRates()
    agent.learn([lrs])
    assert {lr for _, lr, _ in lrs.rows} == {0.1}


def test_a_resumed_linear_schedule_matches_an_uninterrupted_run(tmp_path):
    config = preset("fast-cartpole").replace(seed=1, total_env_steps=30_000, lr_schedule="linear")
    whole = train_run(config, tmp_path / "whole", progress=False)
    train_run(
        config,
        tmp_path / "part",
        progress=False,
        checkpoint_every=1,
        extra_callbacks=[StopAfterUpdates(3)],
    )
    resumed = resume_run(tmp_path / "part", progress=False)
    for name, array in whole.agent.weights().items():
        assert np.array_equal(array, resumed.agent.weights()[name]), name


def test_an_unknown_schedule_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="lr_schedule"):
        preset("fast-cartpole").replace(lr_schedule="cosine")
    result = CliRunner().invoke(
        app,
        [
            "train",
            "CartPole-v1",
            "--preset",
            "fast-cartpole",
            "--set",
            "lr_schedule=cosine",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 2 and "lr_schedule" in result.output and "constant" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
