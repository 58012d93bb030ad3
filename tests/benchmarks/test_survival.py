"""benchmarks/survival.py: the capped-exponential model behind "what mean the course's score
needs", and the script end to end on a saved agent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from survival import capped_exponential, death_rate, mean_life_for  # noqa: E402

import reinforcelab  # noqa: E402


@pytest.mark.parametrize(("m", "cap"), [(50.0, 1600.0), (400.0, 1600.0), (1000.0, 600.0)])
def test_capped_exponential_matches_sampled_returns(m, cap):
    sample = np.minimum(np.random.default_rng(0).exponential(m, 2_000_000), cap)
    mean, std = capped_exponential(m, cap)
    assert mean == pytest.approx(sample.mean(), rel=3e-3)
    assert std == pytest.approx(sample.std(), rel=3e-3)


def test_mean_life_for_reaches_the_score_and_no_less_does():
    cap = 1600.0
    m = mean_life_for(25, cap)
    assert m is not None
    mean, std = capped_exponential(m, cap)
    assert mean - std == pytest.approx(25, abs=1e-6)
    mean, std = capped_exponential(0.95 * m, cap)
    assert mean - std < 25
    # A score above the cap itself cannot be reached (every return is at most the cap).
    assert mean_life_for(cap, cap) is None


def test_death_rate_counts_deaths_among_those_that_reached_the_band():
    returns = np.array([5.0, 15.0, 15.0, 30.0])
    assert death_rate(returns, 10, 20) == pytest.approx(2 / 3 / 10)  # 3 reached 10, 2 died below 20
    assert np.isnan(death_rate(returns, 100, 200))


def test_script_reports_a_saved_agent(tmp_path):
    folder = tmp_path / "agent"
    reinforcelab.Reinforce(preset="fast-cartpole", seed=0, total_env_steps=20_000).learn().save(
        folder
    )
    page = tmp_path / "page.md"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "survival.py"), str(folder), "--episodes", "20",
         "--write", str(page)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    text = page.read_text()
    assert f"`{folder}`" in text
    assert "a score of 25 needs a mean life of" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-folder"], "no-such-folder is not a folder"),
        (["{folder}", "--episodes", "1"], "--episodes must be at least 2"),
    ],
)
def test_script_refuses_bad_input_in_one_line(tmp_path, args, message):
    folder = tmp_path / "agent"
    reinforcelab.Reinforce(preset="fast-cartpole", seed=0, total_env_steps=2_000).save(folder)
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "survival.py"), *(a.format(folder=folder) for a in args)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
