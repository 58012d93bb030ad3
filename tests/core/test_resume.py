"""Checkpoints and resume: an interrupted-and-resumed run equals an uninterrupted one."""

import csv
import os
import shutil
import signal

import numpy as np
import pytest

import reinforcelab
from reinforcelab.artifacts.checkpoint import load_resume_state
from reinforcelab.callbacks import Callback
from reinforcelab.config import preset
from reinforcelab.run import resume_run, train_run


class CtrlCAt(Callback):
    """Sends the process a real SIGINT after update ``n`` (as a user's Ctrl-C would)."""

    def __init__(self, n):
        self.n = n

    def on_update(self, trainer, records):
        if trainer.updates == self.n:
            os.kill(os.getpid(), signal.SIGINT)


def rows(folder):
    return [
        (r["episode"], r["return"], r["length"], r["env_steps"])
        for r in csv.DictReader((folder / "metrics.csv").open())
    ]


CONFIGS = {
    "course": preset("course-cartpole").replace(seed=3, n_episodes=40),
    "fast": preset("fast-cartpole").replace(
        seed=3, num_envs=8, total_env_steps=3000, baseline="value", normalize_obs=True
    ),
}


@pytest.mark.parametrize("mode", ["course", "fast"])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, mode):
    config = CONFIGS[mode]
    full = train_run(config, tmp_path / "full", progress=False, device="cpu")

    part = train_run(
        config,
        tmp_path / "part",
        progress=False,
        checkpoint_every=3,
        device="cpu",
        extra_callbacks=[CtrlCAt(5)],
    )
    assert part.summary["interrupted"] and part.summary["train_updates"] == 5
    assert "Ctrl-C" in part.summary["stop_reason"]
    # The interrupted folder is complete and loadable.
    loaded = reinforcelab.load(tmp_path / "part")
    for a, b in zip(loaded.weights().values(), part.agent.weights().values()):
        assert np.array_equal(a, b)

    resumed = resume_run(tmp_path / "part", progress=False, device="cpu")
    assert not resumed.summary["interrupted"]
    for (ka, a), (kb, b) in zip(full.agent.weights().items(), resumed.agent.weights().items()):
        assert ka == kb and np.array_equal(a, b), ka
    assert rows(tmp_path / "full") == rows(tmp_path / "part")
    assert full.evaluation.returns == resumed.evaluation.returns


class SnapshotResumeStateAt(Callback):
    """Copies resume.safetensors right after the periodic checkpoint at update ``n``."""

    def __init__(self, folder, n):
        self.folder, self.n = folder, n

    def on_update(self, trainer, records):
        if trainer.updates == self.n:
            shutil.copy(self.folder / "resume.safetensors", self.folder / "resume-at-n.safetensors")


def test_resume_after_a_crash_between_checkpoints_drops_unsaved_rows(tmp_path):
    config = CONFIGS["course"]
    full = train_run(config, tmp_path / "full", progress=False, device="cpu")
    part = tmp_path / "part"
    train_run(
        config.replace(n_episodes=7),
        part,
        progress=False,
        checkpoint_every=5,
        device="cpu",
        extra_callbacks=[SnapshotResumeStateAt(part, 5)],
    )
    # As if the process died after episode 7: metrics.csv has 7 rows, the last checkpoint is at 5,
    # and there is no results.json (written once training ends).
    shutil.move(part / "resume-at-n.safetensors", part / "resume.safetensors")
    (part / "results.json").unlink()
    assert len(rows(part)) == 7
    resumed = resume_run(part, progress=False, device="cpu", n_episodes=40)
    assert rows(part) == rows(tmp_path / "full")
    for a, b in zip(full.agent.weights().values(), resumed.agent.weights().values()):
        assert np.array_equal(a, b)


def test_resume_without_state_is_a_clear_error(tmp_path):
    agent = reinforcelab.Reinforce("CartPole-v1", seed=0)
    agent.save(tmp_path / "bare")
    from reinforcelab.artifacts.checkpoint import CheckpointError

    with pytest.raises(CheckpointError, match="cannot be resumed"):
        resume_run(tmp_path / "bare", progress=False)


# ----------------------------------------------------------------------------- any discrete env
@pytest.mark.parametrize(
    "preset_name, options",
    [
        ("fast-cartpole", {"total_env_steps": 12_000, "num_envs": 8}),
        ("course-cartpole", {"n_episodes": 4}),
    ],
)
def test_acrobot_trains_checkpoints_and_resumes_like_an_uninterrupted_run(
    tmp_path, preset_name, options
):
    budget = {k: v for k, v in options.items() if k != "num_envs"}
    config = preset(preset_name).replace(env_id="Acrobot-v1", seed=3, max_t=300, **options)
    whole = train_run(config.replace(**budget), tmp_path / "whole", progress=False)
    half = {k: v // 2 for k, v in budget.items()}
    train_run(config.replace(**half), tmp_path / "part", progress=False)
    resumed = resume_run(tmp_path / "part", progress=False, **budget)
    for name, array in whole.agent.weights().items():
        assert np.array_equal(array, resumed.agent.weights()[name]), name
    assert rows(tmp_path / "whole") == rows(tmp_path / "part")


# ----------------------------------------------------------------------------- Ctrl-C early
class InterruptAtStart(Callback):
    def on_training_start(self, trainer):
        raise KeyboardInterrupt


def test_ctrl_c_before_the_first_update_leaves_a_resumable_folder(tmp_path):
    out = tmp_path / "early"
    config = preset("fast-cartpole").replace(seed=0, total_env_steps=5_000)
    with pytest.raises(KeyboardInterrupt):
        train_run(config, out, progress=False, extra_callbacks=[InterruptAtStart()])
    assert load_resume_state(out)["counters"]["updates"] == 0
    resumed = resume_run(out, progress=False)
    whole = train_run(config, tmp_path / "whole", progress=False)
    for name, array in whole.agent.weights().items():
        assert np.array_equal(array, resumed.agent.weights()[name])


def test_ctrl_c_while_setting_up_leaves_nothing_behind(tmp_path, monkeypatch):
    def interrupted(agent):
        raise KeyboardInterrupt

    monkeypatch.setattr("reinforcelab.agent.Reinforce.training_loop", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_run(preset("fast-cartpole"), tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()
