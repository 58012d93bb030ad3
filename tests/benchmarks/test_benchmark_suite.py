"""benchmarks/suite.py's pieces, without Stable-Baselines3: reinforcelab's runs through the
subprocess runner (with the lock), the page and the plot; the zoo's settings as SB3 arguments;
the table's cells; the one-line refusal when SB3 is missing."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import suite  # noqa: E402
from suite_report import cell, solved_seconds, steps_text  # noqa: E402
from suite_run import Judge  # noqa: E402
from suite_zoo import zoo_setup  # noqa: E402


def test_tiny_suite_runs_each_run_in_its_process_and_writes_page_and_plot(tmp_path):
    page, results = tmp_path / "docs" / "suite.md", tmp_path / "results"
    minutes = 0.02
    done = subprocess.run(
        [
            sys.executable, str(BENCHMARKS / "suite.py"),
            "--envs", "CartPole-v1", "Pendulum-v1", "--methods", "reinforcelab",
            "--seeds", "1", "--minutes", str(minutes), "--results", str(results),
            "--lock", str(tmp_path / "cpu.lock"), "--write", str(page),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr

    runs = {}
    for env_id in ("CartPole-v1", "Pendulum-v1"):
        run = json.loads((results / f"{env_id}-reinforcelab-seed0.json").read_text())
        runs[env_id] = run
        evaluations = run["evaluations"]
        assert run["final"] == evaluations[-1]
        assert run["env_steps"] == evaluations[-1]["steps"] > 0
        assert [e["steps"] for e in evaluations] == sorted(e["steps"] for e in evaluations)
        assert run["best"]["score"] == max(e["score"] for e in evaluations)
        assert run["peak_rss_mb"] > 50  # a Python process with numpy and Gymnasium loaded
        if run["solved"]:
            assert run["stop_reason"] == "threshold"
            assert run["solved"]["score"] >= run["threshold"]
            assert run["solved"] == evaluations[-1]
        else:
            assert run["stop_reason"] in ("time cap", "step budget")
            assert all(e["score"] < run["threshold"] for e in evaluations)
        if run["stop_reason"] == "time cap":
            assert run["train_seconds"] >= 60 * minutes

    # fast-pendulum does not swing the pendulum up in a second of training: a run stopped at its cap
    pendulum = runs["Pendulum-v1"]
    assert pendulum["solved"] is None and pendulum["stop_reason"] == "time cap"
    assert pendulum["final"]["mean_length"] == 200  # Pendulum's time limit, within eval_max_t

    text = page.read_text()
    assert text.startswith("# Benchmark suite")
    assert "## Measured" in text and "- command: `python " in text
    assert "| Pendulum-v1 | reinforcelab | 0/1 | not reached (>" in text
    cartpole_solved = "1/1" if runs["CartPole-v1"]["solved"] else "0/1"
    assert f"| CartPole-v1 | reinforcelab | {cartpole_solved} |" in text
    label = suite.reinforcelab_config(suite.ENV_BY_ID["Pendulum-v1"])[1]
    assert f"| Pendulum-v1 | mean >= -200 | {label}: " in text
    images = list((page.parent / "suite").glob("*.png"))
    assert len(images) == 1 and f"](suite/{images[0].name})" in text
    assert images[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # --report-only runs nothing: the results there are reported, a run without one as not run
    later = tmp_path / "later.md"
    argv = ["--envs", "CartPole-v1", "Acrobot-v1", "--methods", "reinforcelab", "--seeds", "1"]
    argv += ["--minutes", str(minutes), "--results", str(results), "--report-only"]
    assert suite.main([*argv, "--write", str(later)]) == 0
    text = later.read_text()
    assert f"| CartPole-v1 | reinforcelab | {cartpole_solved} |" in text
    assert "| Acrobot-v1 | reinforcelab | not run | - |" in text
    assert "| Acrobot-v1 | reinforcelab | 0 | not run |" in text
    assert "**1 run(s) not run**" in text and "nothing run here" in text
    assert not (results / "Acrobot-v1-reinforcelab-seed0.json").exists()

    # a result trained with other settings (a preset changed since) is not reused
    stored = results / "CartPole-v1-reinforcelab-seed0.json"
    run = json.loads(stored.read_text())
    stored.write_text(json.dumps(run | {"settings": run["settings"] | {"lr": 0.5}}))
    assert suite.main([*argv, "--write", str(later)]) == 0
    assert "| CartPole-v1 | reinforcelab | 0 | not run |" in later.read_text()


def test_a_stored_result_is_reused_only_with_the_settings_it_was_trained_with():
    spec = suite.RunSpec("Acrobot-v1", "reinforcelab", 3, 5.0, 0.1)
    settings = suite.method_settings(spec)
    stored = {"spec": suite.spec_dict(spec), "settings": settings}
    assert settings["seed"] == 3 and suite.reusable(stored, spec)
    # a field added to the config since, at its default, changes nothing
    older = {k: v for k, v in settings.items() if k != "cnn_downsample"}
    assert suite.reusable(stored | {"settings": older}, spec)
    assert not suite.reusable(stored | {"settings": settings | {"gamma": 0.9}}, spec)
    assert not suite.reusable(stored | {"settings": settings | {"no_such_field": 1}}, spec)
    assert not suite.reusable({"spec": stored["spec"]}, spec)  # no settings recorded
    assert not suite.reusable(stored, suite.RunSpec("Acrobot-v1", "reinforcelab", 3, 10.0, 0.1))
    peer = suite.RunSpec("Acrobot-v1", "sb3-ppo", 0, 5.0, 0.1)
    entry = suite.method_settings(peer)
    assert suite.reusable({"spec": suite.spec_dict(peer), "settings": entry}, peer)
    changed = entry | {"n_envs": 1}
    assert not suite.reusable({"spec": suite.spec_dict(peer), "settings": changed}, peer)


def slow_random_actor():
    """CartPole at random (never near 475), a millisecond a step: evaluations take time."""
    rng = np.random.default_rng(0)

    def act(obs):
        time.sleep(0.001)
        return rng.integers(0, 2, len(obs))

    return act


def balancing_actor():
    """A hand-tuned linear controller that holds CartPole up for all 500 steps."""
    return lambda obs: (obs @ np.array([0.1, 0.5, 10.0, 2.0]) > 0).astype(np.int64)


def test_judge_evaluates_when_due_off_the_clock_and_stops_at_threshold_or_cap():
    entered = []

    @contextmanager
    def learner_state_kept():
        entered.append(len(entered))
        yield

    env = suite.ENV_BY_ID["CartPole-v1"]  # threshold 475, precheck 150
    judge = Judge(env, seed=0, cap_seconds=1.0, growth=0.5, evaluation_context=learner_state_kept)
    try:
        judge.clock.start()
        time.sleep(0.3)  # "training"
        assert not judge.after_update(100, 149.0, slow_random_actor)  # below the precheck
        assert judge.evaluations == []
        assert not judge.after_update(200, 150.0, slow_random_actor)
        first = judge.evaluations[0]
        assert entered == [0]  # once around a whole evaluation, not once per step
        assert first.eval_seconds > 0.02 and first.seconds >= 0.3
        assert judge.clock.wall < first.seconds + first.eval_seconds  # its time is off the clock
        assert first.score == first.mean < 475 and first.training_mean == 150.0
        time.sleep(0.05)
        assert not judge.after_update(300, 150.0, slow_random_actor)  # not due before 0.45 s
        assert len(judge.evaluations) == 1
        time.sleep(0.15)
        assert not judge.after_update(400, 150.0, slow_random_actor)  # due: the clock grew by 50%
        assert [e.steps for e in judge.evaluations] == [200, 400]
        time.sleep(0.55)
        assert judge.after_update(500, 100.0, slow_random_actor)  # past the 1 s cap
        assert judge.stop_reason == "time cap" and judge.solved is None
        judge.finish(520, 100.0, slow_random_actor, budget_spent=False)  # a step past the stop
        assert [e.steps for e in judge.evaluations] == [200, 400, 500]  # final at the stop
    finally:
        judge.close()

    judge = Judge(env, seed=0, cap_seconds=60, growth=0.1)
    try:
        judge.clock.start()
        assert judge.after_update(1000, 500.0, balancing_actor)
        assert judge.stop_reason == "threshold" and judge.solved is judge.evaluations[0]
        assert judge.solved.mean == 500.0 and judge.solved.mean_length == 500
        judge.finish(1000, 500.0, balancing_actor, budget_spent=False)
        assert len(judge.evaluations) == 1  # the last evaluation saw the final policy
    finally:
        judge.close()


def test_every_suite_env_trains_its_own_preset():
    for env in suite.ENVS:
        config, label = suite.reinforcelab_config(env)
        assert config.env_id == env.env_id and label == f"`{env.preset}`"


def test_zoo_entries_become_sb3_arguments():
    a2c = zoo_setup("a2c", "Pendulum-v1")
    assert (a2c.n_envs, a2c.n_timesteps, a2c.normalize) == (8, 1_000_000, {"gamma": 0.9})
    lr = a2c.model_kwargs["learning_rate"]  # lin_7e-4: falls to 0 over the run
    assert lr(1.0) == pytest.approx(7e-4) and lr(0.5) == pytest.approx(3.5e-4) and lr(0.0) == 0
    assert a2c.model_kwargs["policy_kwargs"] == {"log_std_init": -2, "ortho_init": False}
    assert "n_envs" not in a2c.model_kwargs and "normalize" not in a2c.model_kwargs
    # normalize without a gamma in the entry: VecNormalize's own default
    assert zoo_setup("a2c", "Acrobot-v1").normalize == {}
    assert zoo_setup("ppo", "LunarLander-v3").normalize is None
    # the zoo's lists are left as they are
    assert zoo_setup("a2c", "Pendulum-v1").entry["learning_rate"] == "lin_7e-4"
    pixelcopter = zoo_setup("ppo", "Pixelcopter-PLE-v0")  # not in the zoo: its default entry
    assert not pixelcopter.in_zoo
    assert (pixelcopter.n_envs, pixelcopter.n_timesteps, pixelcopter.model_kwargs) == (
        1, 1_000_000, {},
    )  # fmt: skip


def test_cells_show_the_median_and_every_seed_with_unsolved_seeds_as_never():
    def run(solved_at, stopped_at):
        solved = {"seconds": solved_at, "steps": 1000} if solved_at is not None else None
        return {"solved": solved, "train_seconds": stopped_at, "env_steps": 5000}

    two_of_three = [run(10.0, 10.0), run(30.0, 30.0), run(None, 60.0)]
    assert cell(two_of_three, solved_seconds, lambda x: f"{x:.0f}") == "30 (10, 30, >60)"
    one_of_three = [run(10.0, 10.0), run(None, 60.0), run(None, 61.0)]
    assert cell(one_of_three, solved_seconds, lambda x: f"{x:.0f}") == (
        "not reached (10, >60, >61)"
    )
    assert math.isinf(solved_seconds(run(None, 1.0)))
    assert steps_text(1_234_567) == "1.23M" and steps_text(61_440) == "61.4k"


def test_without_sb3_the_suite_refuses_in_one_line(monkeypatch, capsys):
    monkeypatch.setattr(suite, "module_installed", lambda name: name != "stable_baselines3")
    assert suite.main(["--methods", "reinforcelab", "sb3-a2c", "--envs", "CartPole-v1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("suite.py: Stable-Baselines3 is not installed")


def test_minutes_caps_every_env_or_one(capsys):
    def caps(*minutes):
        args = suite.parse_args(["--envs", "CartPole-v1", "Pixelcopter-PLE-v0", *minutes])
        return {group[0].env_id: group[0].minutes for group in suite.plan(args)}

    assert caps() == {"CartPole-v1": 5.0, "Pixelcopter-PLE-v0": 15.0}  # the envs' defaults
    assert caps("--minutes", "2") == {"CartPole-v1": 2.0, "Pixelcopter-PLE-v0": 2.0}
    assert caps("--minutes", "2", "Pixelcopter-PLE-v0=20") == {
        "CartPole-v1": 2.0,
        "Pixelcopter-PLE-v0": 20.0,
    }
    assert caps("--minutes", "CartPole-v1=1") == {"CartPole-v1": 1.0, "Pixelcopter-PLE-v0": 15.0}
    assert caps("--quick", "--minutes", "CartPole-v1=1") == {
        "CartPole-v1": 1.0,
        "Pixelcopter-PLE-v0": suite.QUICK_MINUTES,
    }
    for bad, problem in (("Pong=3", "'Pong' is not a suite env"), ("CartPole-v1=0", "positive")):
        with pytest.raises(SystemExit) as exit_:
            suite.parse_args(["--minutes", bad])
        assert exit_.value.code == 2 and problem in capsys.readouterr().err
