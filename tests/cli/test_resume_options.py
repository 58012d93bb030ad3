"""``train --resume RUN`` (and ``resume_run``) honours what it can, a larger budget, and refuses in
one line everything else, changing nothing: the run continues as it was trained, config.json is
rewritten only to record a larger budget, and metrics are never duplicated."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from cli_helpers import invoke, one_line_error

import reinforcelab
from reinforcelab.callbacks import Callback
from reinforcelab.checks import ConfigError
from reinforcelab.cli import app
from reinforcelab.config import preset
from reinforcelab.run import ResumeRefused, resume_run, train_run

CONFIG = preset("fast-cartpole").replace(seed=3, num_envs=8, total_env_steps=3000)
EVERY = 5


class StopAfter(Callback):
    """Stops training after update ``n`` (as an interrupted run)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def on_update(self, trainer, records):
        if trainer.updates == self.n:
            trainer.stop(f"stopped after {self.n} updates")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("resume") / "run"
    train_run(CONFIG, out, progress=False, checkpoint_every=EVERY)
    return out


@pytest.fixture
def run(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time: what "changes nothing" compares."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def metrics(folder: Path) -> list[tuple[str, ...]]:
    with (folder / "metrics.csv").open() as f:
        return [tuple(row[:4]) for row in csv.reader(f)]


# Every option of `train` is here: refused with --resume (values that differ from the run's), or
# one that only shapes this session's output.
REFUSED = {
    "env_id": [["Acrobot-v1"]],
    "preset": [["--preset", "fast-cartpole"]],
    "seed": [["--seed", 4], ["--seed", 0]],
    "out": [["--out", "elsewhere"]],
    "overwrite": [["--overwrite"]],
    "episodes": [["--episodes", 5000]],  # a fast-mode run's budget is --total-steps
    # below what is done, the run's budget, exactly what is done
    "total_steps": [["--total-steps", 1000], ["--total-steps", 3000], ["--total-steps", "DONE"]],
    "stop_reward": [["--stop-reward", 100]],
    "eval_episodes": [["--eval-episodes", 5]],
    "lr": [["--lr", 0.5]],
    "gamma": [["--gamma", 0.5]],
    "hidden": [["--hidden", "32"]],
    "max_t": [["--max-t", 100]],
    "set_": [
        ["--set", "entropy_coef=0.1"],
        ["--set", "num_envs=4"],
        ["--set", "mode=course"],
        ["--set", "total_env_steps=100"],
        ["--set", 'env_kwargs={"sutton_barto_reward": true}'],
        ["--set", "eval_episodes=3"],
    ],
    "policy": [["--policy", "torch.nn:Linear"]],
    "policy_kwargs": [["--policy-kwargs", "{}"]],
    "checkpoint_every": [["--checkpoint-every", 7]],
    "tensorboard": [["--tensorboard", "tb"]],
}
SESSION_ONLY = {"progress", "plot", "record", "resume"}


def test_every_train_option_is_either_refused_on_resume_or_only_shapes_the_output():
    train = typer.main.get_command(app).commands["train"]
    assert {p.name for p in train.params} == set(REFUSED) | SESSION_ONLY


CASES = [(name, args) for name, cases in REFUSED.items() for args in cases]


@pytest.mark.parametrize("name, args", CASES, ids=[" ".join(map(str, a)) for _, a in CASES])
def test_resume_refuses_what_it_cannot_honour_and_changes_nothing(run, tmp_path, name, args):
    before = state(run)
    done = json.loads((run / "results.json").read_text())["training"]["train_env_steps"]
    args = [tmp_path / a if a in ("elsewhere", "tb") else done if a == "DONE" else a for a in args]
    line = one_line_error(invoke("train", "--resume", run, *args, "--no-progress"))
    assert state(run) == before
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "tb").exists()
    if name == "env_id":
        assert "the env id ('CartPole-v1' -> 'Acrobot-v1')" in line
    elif name in ("seed", "lr", "gamma", "hidden", "max_t"):
        assert f"--{name.replace('_', '-')} (" in line and "only its budget may grow" in line
    elif name == "total_steps":
        assert line.startswith("error: --total-steps must be above 3,")


def test_a_larger_budget_continues_the_run_as_one_uninterrupted_run(run, tmp_path):
    config_before = json.loads((run / "config.json").read_text())
    result = invoke(
        "train", "--resume", run, "--total-steps", 6000, "--no-progress", "--no-plot",
        "--seed", 3, "--checkpoint-every", EVERY, "--out", run, "CartPole-v1",  # the run's own
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config_after = json.loads((run / "config.json").read_text())
    assert config_after["config"].pop("total_env_steps") == 6000
    assert config_before["config"].pop("total_env_steps") == 3000
    assert config_after == config_before  # nothing else was rewritten
    whole = train_run(CONFIG.replace(total_env_steps=6000), tmp_path / "whole", progress=False)
    assert metrics(run) == metrics(tmp_path / "whole")  # every episode once, in order
    resumed = reinforcelab.load(run).weights()
    for key, array in whole.agent.weights().items():
        np.testing.assert_array_equal(resumed[key], array, err_msg=key)
    results = json.loads((run / "results.json").read_text())
    assert results["training"]["train_episodes"] == len(metrics(run)) - 1


def test_resuming_an_interrupted_run_never_rewrites_its_config(tmp_path):
    out = tmp_path / "part"
    train_run(CONFIG, out, progress=False, checkpoint_every=EVERY, extra_callbacks=[StopAfter(7)])
    config = (out / "config.json").stat()
    assert invoke("train", "--resume", out, "--no-progress").exit_code == 0
    after = (out / "config.json").stat()
    assert (after.st_mtime_ns, after.st_ino) == (config.st_mtime_ns, config.st_ino)
    rows = metrics(out)
    assert [int(r[0]) for r in rows[1:]] == list(range(1, len(rows)))
    # Finished now: a resume without a larger budget has nothing to do, and says so.
    line = one_line_error(invoke("train", "--resume", out))
    assert "--total-steps above" in line and "trained its whole budget" in line


# ----------------------------------------------------------------------------- the Python API
def test_resume_run_follows_the_same_rules(run):
    before = state(run)
    for changes in ({"seed": 4}, {"lr": 0.5, "gamma": 0.5}, {"checkpoint_every": 7},
                    {"stop_reward": 100.0}, {"env_id": "Acrobot-v1"}, {"num_envs": 4}):  # fmt: skip
        with pytest.raises(ResumeRefused) as caught:
            resume_run(run, progress=False, total_env_steps=6000, **changes)
        assert set(caught.value.changes) == set(changes)
    for changes in ({}, {"total_env_steps": 100}, {"n_episodes": 9000}, {"no_such_field": 1}):
        with pytest.raises(ConfigError):
            resume_run(run, progress=False, **changes)
    assert state(run) == before
    # The run's own values are honoured as they are.
    resumed = resume_run(
        run, progress=False, total_env_steps=4000, seed=3, lr=CONFIG.lr, checkpoint_every=EVERY
    )
    assert resumed.summary["train_env_steps"] >= 4000


def test_course_mode_budget_rules(tmp_path):
    config = preset("course-cartpole").replace(seed=1, n_episodes=6)
    train_run(config, tmp_path / "c", progress=False)
    for episodes in (3, 6):
        line = one_line_error(invoke("train", "--resume", tmp_path / "c", "--episodes", episodes))
        assert "--episodes must be above 6" in line
    line = one_line_error(invoke("train", "--resume", tmp_path / "c", "--total-steps", 10_000))
    assert "--total-steps applies to fast mode only" in line
    result = resume_run(tmp_path / "c", progress=False, n_episodes=9)
    assert result.summary["train_episodes"] == 9 and len(metrics(tmp_path / "c")) == 10
    assert os.listdir(tmp_path) == ["c"]
