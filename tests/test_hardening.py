"""Honest numbers, every discrete Gymnasium env, and a clear error for every bad input."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from typer.testing import CliRunner

import reinforcelab
from reinforcelab.artifacts.checkpoint import CheckpointError, load_resume_state
from reinforcelab.artifacts.plots import learning_curve_figure
from reinforcelab.callbacks import Callback
from reinforcelab.cli import app
from reinforcelab.config import preset
from reinforcelab.playback import evaluate_policy, evaluation_seeds
from reinforcelab.envs.make import make_vector_env
from reinforcelab.run import resume_run, train_run
from reinforcelab.seeding import vector_reset_seed
from reinforcelab.loops import TrainingDiverged

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cp"
    result = invoke(
        "train",
        "CartPole-v1",
        "--preset",
        "fast-cartpole",
        "--seed",
        0,
        "--total-steps",
        20_000,
        "--out",
        out,
        "--no-progress",
        "--no-plot",
    )
    assert result.exit_code == 0, result.output
    return out


# ----------------------------------------------------------------------------- 1. distinct episodes
def levels(envs, reset_seed):
    """Each sub-env's level: its first screen (12 cave columns and the block) after the reset."""
    envs.reset(seed=reset_seed)
    return [frame.tobytes() for frame in envs.render()]


def evaluation_levels(seed, n=10):
    envs = make_vector_env("Pixelcopter-PLE-v0", n, render_mode="rgb_array")
    try:
        return levels(envs, vector_reset_seed(envs, evaluation_seeds(seed, n)))
    finally:
        envs.close()


def test_unseeded_pixelcopter_evaluation_plays_distinct_levels():
    assert len(set(evaluation_levels(None))) == 10
    assert set(evaluation_levels(None)).isdisjoint(evaluation_levels(None))


def test_adjacent_evaluation_seeds_share_no_episode():
    assert evaluation_levels(0) == evaluation_levels(0)
    assert set(evaluation_levels(0)).isdisjoint(evaluation_levels(1))


def test_fixed_random_policy_unseeded_evaluation_returns_are_not_all_equal():
    agent = reinforcelab.Reinforce("Pixelcopter-PLE-v0", preset="fast-pixelcopter", seed=0)
    # Thrust one step in six, whatever the observation: the episodes differ only by their level.
    steps = {"t": 0}

    def act(obs):
        steps["t"] += 1
        return np.full(len(obs), 0 if steps["t"] % 6 == 0 else 1)

    envs = make_vector_env("Pixelcopter-PLE-v0", 10)
    result = evaluate_policy(act, envs, "Pixelcopter-PLE-v0", max_t=2000)
    assert len(set(zip(result.returns, result.lengths))) > 1
    first, again = agent.evaluate(10, seed=5), agent.evaluate(10, seed=5)
    assert (first.returns, first.lengths) == (again.returns, again.lengths)


def test_training_batches_and_early_stop_use_fresh_levels():
    def trainer_for(**options):
        agent = reinforcelab.Reinforce(
            "Pixelcopter-PLE-v0", preset="fast-pixelcopter", num_envs=8, **options
        )
        return agent.training_loop()

    trainer = trainer_for(env_kwargs={"render_mode": "rgb_array"})
    batch0 = levels(trainer.envs, vector_reset_seed(trainer.envs, trainer.reset_seeds(8)))
    trainer.updates = 1
    batch1 = levels(trainer.envs, vector_reset_seed(trainer.envs, trainer.reset_seeds(8)))
    assert len(set(batch0)) == 8 and set(batch0).isdisjoint(batch1)
    seed0, seed1 = (trainer_for(seed=s, env_kwargs={"render_mode": "rgb_array"}) for s in (0, 1))
    assert set(levels(seed0.envs, seed0.reset_seeds(8))).isdisjoint(
        levels(seed1.envs, seed1.reset_seeds(8))
    )


# ----------------------------------------------------------------------------- 2. enjoy --record
def test_enjoy_record_films_the_printed_episodes(cartpole_run, tmp_path):
    video = tmp_path / "enjoy.mp4"
    result = invoke("enjoy", cartpole_run, "--episodes", 3, "--seed", 1, "--record", video)
    assert result.exit_code == 0, result.output
    lengths = [
        int(line.split(" in ")[1].split()[0])
        for line in result.output.splitlines()
        if line.startswith("episode ")
    ]
    frames = int(result.output.split("(")[-1].split()[0])
    assert len(lengths) == 3 and frames == sum(n + 1 for n in lengths)
    import imageio.v2 as iio

    assert iio.get_reader(str(video), format="FFMPEG").count_frames() == frames


# ----------------------------------------------------------------------------- 3. plot to the end
def write_metrics(folder: Path, env_steps: list[int], returns: list[float]) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"env_id": "CartPole-v1", "config": {"mode": "fast", "seed": 0}})
    )
    rows = ["episode,return,length,env_steps,wall_seconds"]
    rows += [f"{i + 1},{r},{int(r)},{s},0" for i, (s, r) in enumerate(zip(env_steps, returns))]
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_plot_of_several_runs_shows_each_run_to_its_end(tmp_path):
    short = write_metrics(tmp_path / "a", list(range(100, 10_100, 100)), [400.0] * 100)
    long = write_metrics(tmp_path / "b", list(range(100, 30_100, 100)), [500.0] * 300)
    fig = learning_curve_figure([short, long], window=10, x="env_steps")
    ends = {float(line.get_xdata()[-1]) for line in fig.axes[0].get_lines()}
    assert {10_000.0, 30_000.0} <= ends
    last_points = {
        float(line.get_xdata()[-1]): float(line.get_ydata()[-1]) for line in fig.axes[0].get_lines()
    }
    assert last_points[30_000.0] == 500.0


# ----------------------------------------------------------------------------- 5. any discrete env
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
    rows = lambda p: [
        line.rsplit(",", 1)[0] for line in (p / "metrics.csv").read_text().splitlines()
    ]
    assert rows(tmp_path / "whole") == rows(tmp_path / "part")


# ----------------------------------------------------------------------------- 6. numbers
@pytest.mark.parametrize(
    "args, option",
    [
        (["train", "CartPole-v1", "--lr", "nan"], "--lr"),
        (["train", "CartPole-v1", "--lr", "inf"], "--lr"),
        (["train", "CartPole-v1", "--lr", "0"], "--lr"),
        (["train", "CartPole-v1", "--lr", "-1"], "--lr"),
        (["train", "CartPole-v1", "--set", "lr=abc"], "--lr"),
        (
            ["train", "CartPole-v1", "--preset", "fast-cartpole", "--total-steps", "-1"],
            "--total-steps",
        ),
        (["train", "CartPole-v1", "--episodes", "0"], "--episodes"),
        (["train", "CartPole-v1", "--max-t", "0"], "--max-t"),
        (["train", "CartPole-v1", "--gamma", "1.5"], "--gamma"),
        (
            ["train", "CartPole-v1", "--preset", "fast-cartpole", "--set", "entropy_coef=-0.1"],
            "entropy_coef",
        ),
        (["train", "CartPole-v1", "--stop-reward", "nan"], "--stop-reward"),
        (["train", "CartPole-v1", "--hidden", "16,x"], "--hidden"),
    ],
)
def test_bad_training_numbers_are_one_line_errors_before_anything_is_written(in_tmp, args, option):
    line = one_line_error(invoke(*args, "--out", in_tmp / "run"))
    assert option in line and ("must be" in line)
    assert not (in_tmp / "run").exists() and not (in_tmp / "runs").exists()


@pytest.mark.parametrize(
    "args, option",
    [
        (["evaluate", "{run}", "--episodes", "0"], "--episodes"),
        (["evaluate", "{run}", "--episodes", "-2"], "--episodes"),
        (["evaluate", "{run}", "--max-t", "0"], "--max-t"),
        (["record", "{run}", "--max-steps", "0"], "--max-steps"),
        (["record", "{run}", "--episodes", "0"], "--episodes"),
        (["enjoy", "{run}", "--episodes", "0"], "--episodes"),
    ],
)
def test_bad_evaluation_numbers_are_one_line_errors(cartpole_run, in_tmp, args, option):
    line = one_line_error(invoke(*[a.format(run=cartpole_run) for a in args]))
    assert option in line and ">= 1" in line
    assert not (in_tmp / "replay.mp4").exists()


def test_diverging_training_stops_and_keeps_the_last_finite_checkpoint(tmp_path):
    out = tmp_path / "div"
    line = one_line_error(
        invoke(
            "train",
            "CartPole-v1",
            "--preset",
            "fast-cartpole",
            "--lr",
            "1e30",
            "--out",
            out,
            "--no-progress",
        )
    )
    assert "diverged" in line and "last finite checkpoint" in line
    agent = reinforcelab.load(out)  # refuses non-finite weights, so this checks the file is finite
    assert all(np.isfinite(w).all() for w in agent.weights().values())
    assert load_resume_state(out)["counters"]["updates"] >= 0
    with pytest.raises(TrainingDiverged):
        reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", lr=1e30, seed=0).learn()


def test_loading_refuses_non_finite_weights(cartpole_run, tmp_path):
    agent = reinforcelab.load(cartpole_run)
    agent.policy.layers[0][0][0, 0] = np.nan
    agent.save(tmp_path / "nan")
    with pytest.raises(CheckpointError, match="non-finite"):
        reinforcelab.load(tmp_path / "nan")
    one_line_error(invoke("evaluate", tmp_path / "nan"))


# ----------------------------------------------------------------------------- 7. Ctrl-C early
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


# ----------------------------------------------------------------------------- 8. local paths
def test_a_mistyped_local_path_is_not_taken_for_a_hub_id(cartpole_run, in_tmp, network_guard):
    (in_tmp / "runs").mkdir()
    for path in ("runs/cp00", "./cp00", "cp00"):
        line = one_line_error(invoke("evaluate", path))
        assert f"no such run folder: {path}" in line
    assert network_guard.take_attempts() == []
    assert not reinforcelab.is_local_path("someone/agent")


# ----------------------------------------------------------------------------- 9. missing extras
def test_missing_optional_dependency_says_what_to_install(in_tmp):
    def needs_box2d(**kwargs):
        raise gym.error.DependencyNotInstalled(
            'Box2D is not installed, run `pip install "gymnasium[box2d]"`'
        )

    gym.register("NeedsBox2D-v0", entry_point=needs_box2d)
    try:
        line = one_line_error(invoke("train", "NeedsBox2D-v0", "--out", in_tmp / "x"))
        assert "gymnasium[box2d]" in line and "not installed" in line
        assert not (in_tmp / "x").exists()
    finally:
        del gym.registry["NeedsBox2D-v0"]


# ----------------------------------------------------------------------------- 10/11/13. files
def test_overwrite_keeps_files_that_are_not_part_of_a_run(cartpole_run, tmp_path):
    out = tmp_path / "keep"
    assert (
        invoke(
            "train",
            "CartPole-v1",
            "--preset",
            "fast-cartpole",
            "--total-steps",
            3000,
            "--out",
            out,
            "--no-progress",
            "--no-plot",
        ).exit_code
        == 0
    )
    (out / "notes.txt").write_text("mine")
    result = invoke(
        "train",
        "CartPole-v1",
        "--preset",
        "fast-cartpole",
        "--total-steps",
        3000,
        "--out",
        out,
        "--no-progress",
        "--no-plot",
        "--overwrite",
    )
    assert result.exit_code == 0, result.output
    assert (out / "notes.txt").read_text() == "mine"


def test_files_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "perm"
        result = invoke(
            "train",
            "CartPole-v1",
            "--preset",
            "fast-cartpole",
            "--total-steps",
            3000,
            "--out",
            out,
            "--no-progress",
            "--record",
        )
        assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert {"curve.png", "model.safetensors", "replay.mp4", "config.json", "resume.pkl"} <= set(
        modes
    )
    assert set(modes.values()) == {0o640}, modes
    assert stat.S_IMODE(out.stat().st_mode) == 0o750


def test_same_seed_gives_a_byte_identical_model_file(tmp_path):
    def train(name):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "reinforcelab.cli",
                "train",
                "CartPole-v1",
                "--preset",
                "fast-cartpole",
                "--seed",
                "3",
                "--total-steps",
                "3000",
                "--out",
                str(tmp_path / name),
                "--no-progress",
                "--no-plot",
            ],
            check=True,
            capture_output=True,
        )
        return (tmp_path / name / "model.safetensors").read_bytes()

    assert train("a") == train("b")


# ----------------------------------------------------------------------------- 14/15/16. output
def test_evaluate_prints_the_course_score_and_bar(cartpole_run):
    result = invoke("evaluate", cartpole_run, "--episodes", 5, "--seed", 0)
    assert result.exit_code == 0, result.output
    assert "score (mean - std)" in result.output and "course bar of 350" in result.output
    data = json.loads(
        invoke("evaluate", cartpole_run, "--episodes", 5, "--seed", 0, "--json").output
    )
    assert data["score"] == pytest.approx(data["mean_reward"] - data["std_reward"])
    assert data["course_bar"] == 350 and data["passes_course_bar"] == (data["score"] >= 350)


def test_enjoy_without_a_display_prints_with_a_note(cartpole_run, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = invoke("enjoy", cartpole_run, "--episodes", 2)
    assert result.exit_code == 0, result.output
    assert "no display found" in result.output.splitlines()[0]
    assert sum(line.startswith("episode ") for line in result.output.splitlines()) == 2


def test_enjoy_with_a_display_plays_in_a_window(cartpole_run, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # a window pygame can open without a screen
    opened = []
    real_make = gym.make

    def make(env_id, **kwargs):
        opened.append(kwargs.get("render_mode"))
        return real_make(env_id, **kwargs)

    monkeypatch.setattr(gym, "make", make)
    result = invoke("enjoy", cartpole_run, "--episodes", 2)
    assert result.exit_code == 0, result.output
    assert "no display" not in result.output and opened[-1] == "human"
    assert sum(line.startswith("episode ") for line in result.output.splitlines()) == 2


def test_presets_table_shows_only_the_fields_of_each_mode():
    output = invoke("presets").output
    course, fast = output.split("fast mode")
    assert "course-cartpole" in course and "n_episodes" in course and "num_envs" not in course
    assert "fast-pixelcopter" in fast and "total_env_steps" in fast and "n_episodes" not in fast
    assert "print_every" not in fast


# ----------------------------------------------------------------------------- 4. hyperparameters
def test_fast_run_hyperparameters_say_how_many_episodes_it_trained(cartpole_run, tmp_path):
    result = invoke(
        "push",
        cartpole_run,
        "--repo-id",
        "me/cp",
        "--dry-run",
        tmp_path / "hub",
        "--no-video",
        "--eval-episodes",
        3,
    )
    assert result.exit_code == 0, result.output
    trained = json.loads((cartpole_run / "results.json").read_text())["training"]["train_episodes"]
    hyperparameters = json.loads((tmp_path / "hub" / "hyperparameters.json").read_text())
    assert trained > 100 and hyperparameters["n_training_episodes"] == trained


def test_a_mode_refuses_the_options_of_the_other_mode(in_tmp):
    with pytest.raises(ValueError, match="baseline applies to fast mode only"):
        reinforcelab.Reinforce(
            preset="course-cartpole", baseline="value", entropy_coef=0.5, normalize_obs=True
        )
    line = one_line_error(
        invoke("train", "CartPole-v1", "--preset", "fast-cartpole", "--episodes", 10)
    )
    assert "--episodes applies to course mode only" in line
    line = one_line_error(
        invoke("train", "CartPole-v1", "--preset", "course-cartpole", "--total-steps", 10)
    )
    assert "--total-steps applies to fast mode only" in line
    assert not (in_tmp / "runs").exists()
