"""Run folders written by reinforcelab 0.1.0 (tests/fixtures/v0.1, made by make_v01_runs.py on the
code before the core redesign) load, act, evaluate, resume and publish with today's code exactly as
they did then."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import reinforcelab

FIXTURES = Path(__file__).parents[1] / "fixtures" / "v0.1"
NAMES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


def observations(agent: reinforcelab.Reinforce, seeds: list[int]) -> np.ndarray:
    env = gym.make(agent.config.env_id, **agent.config.env_kwargs)
    obs = np.stack([env.reset(seed=s)[0] for s in seeds])
    env.close()
    return obs


def test_every_fixture_is_here():
    assert NAMES == [
        "course-cartpole",
        "fast-cartpole-value-obsnorm",
        "fast-pendulum-gaussian",
        "fast-pixelcopter-pixels-cnn",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_v01_folder_acts_and_evaluates_as_it_did(name):
    expected = json.loads((FIXTURES / name / "expected.json").read_text())
    agent = reinforcelab.load(FIXTURES / name, device="cpu")
    obs = observations(agent, expected["obs_seeds"])
    # the last bits of a Gaussian's mean depend on the CPU's kernels; discrete actions must match
    np.testing.assert_allclose(
        np.asarray(agent.predict(obs, deterministic=False), dtype=np.float64),
        expected["predict_sampled"],
        rtol=1e-5,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        np.asarray(agent.predict(obs, deterministic=True), dtype=np.float64),
        expected["predict_deterministic"],
        rtol=1e-5,
        atol=1e-5,
    )
    ev = agent.evaluate(3, seed=7, max_t=60)
    saved = expected["evaluate_3_seed_7_max_t_60"]
    assert [int(x) for x in ev.lengths] == saved["lengths"]
    np.testing.assert_allclose(ev.returns, saved["returns"], rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_a_v01_folder_resumes_and_publishes(name, tmp_path):
    from reinforcelab.publish import publish_run
    from reinforcelab.run import resume_run

    run = tmp_path / name
    shutil.copytree(FIXTURES / name, run)
    config = json.loads((run / "config.json").read_text())["config"]
    trained = json.loads((run / "results.json").read_text())["training"]
    budget = (
        {"n_episodes": config["n_episodes"] + 2}
        if config["mode"] == "course"
        else {"total_env_steps": trained["train_env_steps"] + 200}
    )
    result = resume_run(run, progress=False, **budget)
    assert result.summary["stop_reason"] == "budget reached"
    # its pickled resume state is replaced by today's format at the first checkpoint
    assert (run / "resume.safetensors").is_file() and not (run / "resume.pkl").exists()
    assert result.summary["train_episodes"] > trained["train_episodes"]
    out = publish_run(
        FIXTURES / name, "user/fixture", dry_run=tmp_path / "hub", eval_episodes=2, video=False
    )
    assert out.dry_run
    files = {p.name for p in (tmp_path / "hub").iterdir()}
    assert {
        "README.md",
        "config.json",
        "model.safetensors",
        "results.json",
        "hyperparameters.json",
    } <= files
