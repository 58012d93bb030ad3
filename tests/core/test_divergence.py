"""Non-finite numbers never reach a run folder: a diverging run stops with its last finite
checkpoint, and weights that are not finite are refused on load."""

import numpy as np
import pytest
from cli_helpers import invoke, one_line_error

import reinforcelab
from reinforcelab.artifacts.checkpoint import CheckpointError, load_resume_state
from reinforcelab.loops import TrainingDiverged


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
