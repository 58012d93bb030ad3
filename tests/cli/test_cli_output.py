"""What the commands print: evaluate's course score and bar, enjoy with and without a display, and
the presets table."""

import json

import gymnasium as gym
import pytest
from cli_helpers import invoke


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
