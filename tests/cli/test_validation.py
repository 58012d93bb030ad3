"""Bad input on the command line: one clear line, exit code 2, nothing written, no network."""

import gymnasium as gym
import pytest
from cli_helpers import invoke, one_line_error

import reinforcelab


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


def test_a_mistyped_local_path_is_not_taken_for_a_hub_id(in_tmp, network_guard):
    (in_tmp / "runs").mkdir()
    for path in ("runs/cp00", "./cp00", "cp00"):
        line = one_line_error(invoke("evaluate", path))
        assert f"no such run folder: {path}" in line
    assert network_guard.take_attempts() == []
    assert not reinforcelab.is_local_path("someone/agent")


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
