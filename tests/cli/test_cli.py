"""The command line end to end on tiny budgets, and its errors (one line, no traceback)."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import reinforcelab
from reinforcelab.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cp"
    result = invoke(
        "train",
        "CartPole-v1",
        "--preset",
        "course-cartpole",
        "--seed",
        0,
        "--episodes",
        30,
        "--out",
        out,
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_train_writes_a_complete_run_folder(trained):
    out, output = trained
    assert {"config.json", "model.safetensors", "metrics.csv", "results.json"} <= {
        p.name for p in out.iterdir()
    }
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["episode"]) for r in rows] == list(range(1, 31))
    assert list(rows[0]) == ["episode", "return", "length", "env_steps", "wall_seconds"]
    assert int(rows[-1]["env_steps"]) == sum(int(r["length"]) for r in rows)
    assert all(float(r["return"]) == int(r["length"]) for r in rows)  # CartPole pays 1 per step
    results = json.loads((out / "results.json").read_text())
    assert results["n_evaluation_episodes"] == 10 and len(results["returns"]) == 10
    assert results["training"]["train_episodes"] == 30
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["hidden_sizes"] == [16] and config["config"]["seed"] == 0
    assert str(out) in output


def test_load_rebuilds_the_same_agent(trained):
    out, _ = trained
    agent = reinforcelab.load(out)
    again = reinforcelab.load(out)
    for a, b in zip(agent.weights().values(), again.weights().values()):
        assert np.array_equal(a, b)
    obs = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    assert (agent.predict(obs, deterministic=True) == again.predict(obs, deterministic=True)).all()


def test_evaluate_json(trained):
    out, _ = trained
    result = invoke("evaluate", out, "--episodes", 4, "--seed", 3, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["n_episodes"] == 4
    assert len(data["returns"]) == 4 and data["deterministic"] is False
    assert data["mean_reward"] == pytest.approx(sum(data["returns"]) / 4)
    again = json.loads(invoke("evaluate", out, "--episodes", 4, "--seed", 3, "--json").output)
    assert again["returns"] == data["returns"]  # seeded evaluation is reproducible
    greedy = invoke("evaluate", out, "--episodes", 2, "--deterministic", "--json")
    assert json.loads(greedy.output)["deterministic"] is True


def test_overrides_reach_the_config(tmp_path):
    out = tmp_path / "o"
    result = invoke(
        "train",
        "CartPole-v1",
        "--episodes",
        3,
        "--lr",
        0.005,
        "--hidden",
        "8,8",
        "--set",
        "gamma=0.9",
        "--out",
        out,
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg["lr"] == 0.005 and cfg["hidden_sizes"] == [8, 8] and cfg["gamma"] == 0.9


def test_stop_reward_stops_early(tmp_path):
    out = tmp_path / "s"
    result = invoke(
        "train",
        "CartPole-v1",
        "--seed",
        0,
        "--episodes",
        500,
        "--stop-reward",
        10,
        "--out",
        out,
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "results.json").read_text())["training"]
    assert (
        summary["train_episodes"] == 100
    )  # the first full 100-episode window already averages >= 10
    assert "training average" in summary["stop_reason"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "CartPol-v1"], "Did you mean: CartPole-v1"),
        (["train", "FrozenLake-v1", "--episodes", "1"], "need a flat Box"),
        (["train", "CartPole-v1", "--preset", "nope"], "--preset must be one of course-cartpole"),
        (["train", "CartPole-v1", "--set", "bogus=1"], "unknown config field 'bogus'"),
        (["train", "CartPole-v1", "--set", "mode=slow"], "mode must be one of"),
    ],
)
def test_user_errors_are_one_clear_line(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_existing_out_is_not_overwritten(trained, tmp_path):
    out, _ = trained
    before = (out / "model.safetensors").read_bytes()
    result = invoke("train", "CartPole-v1", "--episodes", 2, "--out", out, "--no-progress")
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert (out / "model.safetensors").read_bytes() == before
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = invoke(
        "train", "CartPole-v1", "--episodes", 2, "--out", foreign, "--overwrite", "--no-progress"
    )
    assert result.exit_code == 2 and "not a reinforcelab run folder" in result.output
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_overwrite_replaces_a_run_folder(tmp_path):
    out = tmp_path / "r"
    for _ in range(2):
        result = invoke(
            "train", "CartPole-v1", "--episodes", 2, "--out", out, "--overwrite", "--no-progress"
        )
        assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader((out / "metrics.csv").open()))) == 2


def test_overwrite_keeps_files_that_are_not_part_of_a_run(tmp_path):
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


def test_corrupt_and_foreign_checkpoints(trained, tmp_path):
    out, _ = trained
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "config.json").write_text((out / "config.json").read_text())
    (corrupt / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes()[:40])
    result = invoke("evaluate", corrupt)
    assert result.exit_code == 2 and "corrupt or truncated" in result.output

    broken_json = tmp_path / "broken"
    broken_json.mkdir()
    (broken_json / "config.json").write_text("{not json")
    assert "not valid JSON" in invoke("evaluate", broken_json).output

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    result = invoke("evaluate", foreign)
    assert result.exit_code == 2 and "not a reinforcelab config" in result.output

    mismatched = tmp_path / "mismatched"
    mismatched.mkdir()
    cfg = json.loads((out / "config.json").read_text())
    cfg["config"]["hidden_sizes"] = [32]
    (mismatched / "config.json").write_text(json.dumps(cfg))
    (mismatched / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes())
    result = invoke("evaluate", mismatched)
    assert result.exit_code == 2 and "shape mismatch" in result.output

    assert "has no config.json" in invoke("evaluate", tmp_path).output


def test_help_is_complete():
    result = invoke("--help")
    for command in ("train", "evaluate"):
        assert command in result.output
    train_help = invoke("train", "--help").output
    for flag in (
        "--preset",
        "--seed",
        "--out",
        "--episodes",
        "--stop-reward",
        "--overwrite",
        "--set",
    ):
        assert flag in train_help


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "reinforcelab.cli", "evaluate", "/nonexistent"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["evaluate"], "Missing argument 'RUN'"),
        (["bogus"], "No such command 'bogus'"),
        (["evaluate", "x", "--episodes", "abc"], "--episodes must be an integer >= 1; got 'abc'"),
        (["plot", "x", "--x", "steps"], "--x must be one of episode, env_steps; got 'steps'"),
    ],
)
def test_usage_errors_are_one_line_too(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {result.output.strip()[7:]}"]
    assert message in result.output


def test_a_real_bug_keeps_its_traceback(trained, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("a bug, not a user error")

    monkeypatch.setattr(reinforcelab.Reinforce, "evaluate", broken)
    result = invoke("evaluate", trained[0])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)


def test_train_a_policy_class_from_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mypolicies.py").write_text(
        "import torch\n\n"
        "class Small(torch.nn.Module):\n"
        "    def __init__(self, hidden=8):\n"
        "        super().__init__()\n"
        "        self.hidden = hidden\n"
        "        self.net = torch.nn.Sequential(\n"
        "            torch.nn.Linear(4, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 2)\n"
        "        )\n\n"
        "    def forward(self, x):\n"
        "        return self.net(x)\n"
    )
    result = invoke(
        "train",
        "CartPole-v1",
        "--preset",
        "fast-cartpole",
        "--total-steps",
        3000,
        "--policy",
        "mypolicies:Small",
        "--policy-kwargs",
        '{"hidden": 12}',
        "--out",
        "run",
        "--no-progress",
        "--no-plot",
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["policy"]["class"] == "mypolicies:Small" and config["policy"]["kwargs"] == {
        "hidden": 12
    }
    assert invoke("evaluate", "run", "--episodes", 2).exit_code == 0
    bad = invoke("train", "CartPole-v1", "--policy", "mypolicies:Nope", "--out", "run2")
    assert bad.exit_code == 2 and "cannot import the policy class mypolicies:Nope" in bad.output
