"""reinforcelab sweep: the spec, the folder it writes, its statistics, failures and resuming."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reinforcelab.cli import app
from reinforcelab.sweep import (
    SweepInterrupted,
    SweepSpecError,
    backends,
    resume_sweep,
    run_sweep,
    spec_from_dict,
    stats,
)
from reinforcelab.sweep.report import learning_curves
from reinforcelab.sweep.spec import EVAL_SEED_BASE, load_spec, parse_param_flag

# About 0.1 s of training per trial: the point here is the bookkeeping, not the agent.
TINY = {
    "preset": "fast-cartpole",
    "seeds": 2,
    "eval_episodes": 10,
    "budget": {"total_env_steps": 5000},
    "parameters": {"lr": [0.05, 0.1]},
}


def read_trials(folder: Path) -> list[dict[str, str]]:
    with (folder / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def scores(rows, config_id):
    return [
        float(r["objective"]) for r in rows if r["config_id"] == config_id and r["status"] == "ok"
    ]


# ----------------------------------------------------------------------------- spec
def test_toml_and_yaml_files_give_the_same_spec(tmp_path):
    (tmp_path / "s.toml").write_text(
        'preset = "fast-cartpole"\nseeds = [3, 4]\nobjective = "mean-std"\n'
        "[budget]\ntotal_env_steps = 5000\n"
        "[parameters]\nlr = [0.05, 0.1]\nhidden_sizes = [[16], [32, 32]]\n"
    )
    (tmp_path / "s.yaml").write_text(
        "preset: fast-cartpole\nseeds: [3, 4]\nobjective: mean-std\n"
        "budget: {total_env_steps: 5000}\n"
        "parameters:\n  lr: [0.05, 0.1]\n  hidden_sizes: [[16], [32, 32]]\n"
    )
    a, b = (spec_from_dict(load_spec(tmp_path / name)) for name in ("s.toml", "s.yaml"))
    assert a.to_dict() == b.to_dict()
    assert a.method == "grid" and len(a.grid()) == 4
    assert a.confirm_seeds == [1000, 1001]  # fresh seeds, as many as the search seeds
    config = a.config_for({"hidden_sizes": [32, 32]}, seed=3)
    assert (
        config.hidden_sizes == (32, 32) and config.mode.total_env_steps == 5000 and config.seed == 3
    )
    assert (
        spec_from_dict(json.loads(json.dumps(a.to_dict()))).to_dict() == a.to_dict()
    )  # spec.json round trip


def test_held_out_evaluation_seeds_are_disjoint_from_training_and_from_each_other():
    spec = spec_from_dict({**TINY, "seeds": 10, "eval_episodes": 100})
    ranges = [
        range(spec.eval_seed(s), spec.eval_seed(s) + spec.eval_episodes)
        for s in spec.seeds + spec.confirm_seeds
    ]
    seen = set()
    for r in ranges:
        assert not seen & set(r)
        seen |= set(r)
    assert (
        min(seen)
        >= EVAL_SEED_BASE
        > max(spec.seeds + spec.confirm_seeds) + spec.base_config().mode.num_envs
    )


def test_base_changes_the_preset_for_every_trial_and_parameters_override_it():
    spec = spec_from_dict({**TINY, "base": {"gamma": 0.9, "lr": 0.3}})
    assert (
        spec.base_config().gamma == 0.9 and spec.base_config().lr == 0.3
    )  # the base configuration
    config = spec.config_for({"lr": 0.05}, seed=0)  # a grid configuration
    assert config.gamma == 0.9 and config.lr == 0.05 and config.mode.total_env_steps == 5000
    assert spec_from_dict(json.loads(json.dumps(spec.to_dict()))).base == {
        "gamma": 0.9,
        "lr": 0.3,
    }  # spec.json


def test_ranges_choose_tpe():
    spec = spec_from_dict(
        {
            **TINY,
            "parameters": {
                "lr": {"low": 0.01, "high": 0.3, "log": True},
                "num_envs": {"low": 32, "high": 128},
            },
            "trials": 7,
        }
    )
    assert spec.method == "tpe" and spec.n_configs() == 7
    assert spec.parameters[1].integer and not spec.parameters[0].integer


@pytest.mark.parametrize(
    "change, message",
    [
        ({"parameters": {"lrr": [0.1]}}, "unknown parameter 'lrr'"),
        ({"parameters": {"lr": {"low": 0.3, "high": 0.1}}}, "low < high"),
        ({"parameters": {"lr": {"low": 0.0, "high": 0.1, "log": True}}}, "log range needs low > 0"),
        ({"parameters": {"seed": [1, 2]}}, "unknown parameter 'seed'"),
        ({"parameters": {"hidden_sizes": {"low": 1, "high": 4}}}, "not numeric"),
        ({"parameters": {"hidden_sizes": [[0]]}}, "hidden_sizes"),
        ({"parameters": {}}, "at least one"),
        ({"preset": "nope"}, "preset must be one of"),
        ({"objective": "median"}, "objective must be one of"),
        ({"seeds": [0, 0]}, "repeats a seed"),
        ({"confirm_seeds": [1, 5]}, "confirm_seeds must differ"),
        ({"budget": {"minutes": 3}}, "unknown budget key"),
        ({"budget": {"total_env_steps": -1}}, "positive number"),
        ({"trials": 5}, "trials is for method"),
        ({"pruning": True}, "pruning needs"),
        (
            {"method": "grid", "parameters": {"lr": {"low": 0.01, "high": 0.1}}},
            "a grid needs lists",
        ),
        ({"colour": "red"}, "unknown sweep key 'colour'"),
        ({"base": {"lrr": 0.1}}, "unknown base field 'lrr'"),
        ({"base": {"seed": 3}}, "unknown base field 'seed'"),
        ({"base": {"lr": -1}}, "the base preset: lr must be"),
        ({"base": [0.1]}, "base must be a mapping"),
    ],
)
def test_bad_specs_say_what_is_wrong(change, message):
    with pytest.raises(SweepSpecError, match=message):
        spec_from_dict({**TINY, **change})


def test_param_flags():
    assert parse_param_flag("lr=0.03,0.1") == ("lr", [0.03, 0.1])
    assert parse_param_flag("lr=0.01..0.3:log") == ("lr", {"low": 0.01, "high": 0.3, "log": True})
    assert parse_param_flag("hidden-sizes=[16],[32,32]") == ("hidden_sizes", [[16], [32, 32]])
    assert parse_param_flag("return_norm=batch,none") == ("return_norm", ["batch", "none"])
    with pytest.raises(SweepSpecError, match="NAME="):
        parse_param_flag("lr")


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.toml"], "FILE missing.toml does not exist"),
        (["--preset", "fast-cartpole", "--param", "lrr=1,2"], "unknown parameter 'lrr'"),
        (["--preset", "fast-cartpole", "--param", "lr=0.5..0.1"], "low < high"),
        (
            ["--preset", "fast-cartpole", "--param", "lr=0.1,0.2", "--ray-address", "auto"],
            "install reinforcelab[ray]",
        ),
        (["--resume", "not-a-sweep"], "not a sweep folder"),
        (["--resume", "missing"], "--resume missing does not exist"),
        (["--resume", "not-a-sweep", "--seeds", "3"], "give no sweep file, --param or --seeds"),
        (
            ["--preset", "fast-cartpole", "--env", "CartPol-v1", "--param", "lr=0.1"],
            "Did you mean: CartPole-v1",
        ),
        (
            ["--preset", "fast-cartpole", "--seeds", "a,b", "--param", "lr=0.1"],
            "--seeds must be a count",
        ),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_code_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-sweep").mkdir()
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    result = CliRunner().invoke(
        app,
        ["sweep", *args, "--out", str(tmp_path / "out")]
        if "--resume" not in args
        else ["sweep", *args],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- a whole sweep
def test_sweep_writes_run_folders_statistics_and_a_report(tmp_path):
    summary = run_sweep(spec_from_dict(TINY), tmp_path / "sw", workers=2, progress=False)
    out = tmp_path / "sw"
    assert {p.name for p in out.iterdir()} >= {
        "spec.json",
        "optuna.journal",
        "runs",
        "trials.csv",
        "summary.json",
        "report.png",
    }
    run = out / "runs" / "trial-0000" / "seed-1"
    assert {"config.json", "model.safetensors", "metrics.csv", "results.json", "trial.json"} <= {
        p.name for p in run.iterdir()
    }
    assert json.loads((run / "config.json").read_text())["config"]["lr"] == 0.05
    rows = read_trials(out)
    # base + 2 configurations on 2 seeds; then the best and the preset on 2 fresh seeds (one set
    # if the preset itself was best).
    search = [r for r in rows if r["stage"] == "search"]
    assert len(search) == 6 and all(r["status"] == "ok" for r in rows)
    assert {int(r["seed"]) for r in rows if r["stage"] == "confirm"} == {1000, 1001}
    for r in rows:  # the objective is the held-out evaluation, on its own seeds
        assert int(r["eval_seed"]) == EVAL_SEED_BASE + int(r["seed"]) * 10
        assert float(r["objective"]) == pytest.approx(float(r["eval_mean"]))
    # lr=0.1 is the preset's own value: separate processes, same seeds, same numbers.
    lr01 = next(c for c in summary["configurations"] if c["params"] == {"lr": 0.1})
    assert scores(rows, lr01["config_id"]) == scores(rows, "base")
    # summary.json statistics = a direct computation from trials.csv
    saved = json.loads((out / "summary.json").read_text())
    for config in saved["configurations"]:
        x = np.array(scores(rows, config["config_id"]))
        assert config["mean"] == pytest.approx(x.mean())
        assert config["iqm"] == pytest.approx(stats.iqm(x))
        assert config["mean_ci"] == pytest.approx(list(stats.bootstrap_ci(x)))
    best_id = saved["best"]["config_id"]
    assert saved["best"]["selection"]["mean"] == max(c["mean"] for c in saved["configurations"])
    confirm_best = "confirm-base" if best_id == "base" else "confirm-best"
    assert saved["best"]["confirmation"]["scores"] == scores(rows, confirm_best)
    poi = saved["probability_of_improvement"]
    assert poi["value"] == pytest.approx(
        stats.probability_of_improvement(scores(rows, confirm_best), scores(rows, "confirm-base"))
    )
    profile = saved["performance_profile"]
    np.testing.assert_allclose(
        profile["best"]["fraction"],
        stats.performance_profile(scores(rows, confirm_best), profile["thresholds"]),
    )


def test_a_trial_that_raises_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = spec_from_dict({**TINY, "parameters": {"env_kwargs": [{}, {"no_such_argument": 1}]}})
    summary = run_sweep(spec, tmp_path / "sw", workers=2, progress=False)
    failed = [c for c in summary["configurations"] if c["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["params"] == {"env_kwargs": {"no_such_argument": 1}}
    assert "no_such_argument" in failed[0]["errors"][0]
    rows = read_trials(tmp_path / "sw")
    assert any(r["status"] == "failed" and "no_such_argument" in r["error"] for r in rows)
    assert summary["counts"] == {"complete": 2, "pruned": 0, "failed": 1}
    assert "best" in summary  # the sweep went on to its confirmation


def test_tpe_search_with_pruning(tmp_path):
    spec = spec_from_dict(
        {
            **TINY,
            "seeds": 3,
            "parameters": {"lr": {"low": 0.01, "high": 0.3, "log": True}},
            "trials": 5,
            "pruning": True,
        }
    )
    summary = run_sweep(spec, tmp_path / "sw", workers=2, progress=False)
    searched = [c for c in summary["configurations"] if c["config_id"] != "base"]
    assert len(searched) == 5 and all(0.01 <= c["params"]["lr"] <= 0.3 for c in searched)
    assert sum(summary["counts"].values()) == 6  # 5 proposals + the preset
    import optuna

    study = optuna.load_study(
        study_name="sweep",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "sw" / "optuna.journal"))
        ),
    )
    assert len(study.trials) == 5


class InterruptAfter:
    """An embedded backend on which Ctrl-C arrives after ``n`` trials were handed out."""

    def __init__(self, n: int) -> None:
        self.inner = backends.EmbeddedBackend(2)
        # One trial at a time, so that exactly n trials have finished when Ctrl-C arrives.
        self.workers, self.name, self.left = 1, "embedded", n

    def submit(self, task, sweep_dir):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return self.inner.submit(task, sweep_dir)

    def close(self, cancel=False):
        self.inner.close(cancel)


def test_resume_after_an_interrupt_reuses_finished_trials_and_matches_an_uninterrupted_sweep(
    tmp_path, monkeypatch
):
    spec = spec_from_dict(TINY)
    reference = run_sweep(spec, tmp_path / "ref", workers=2, progress=False)

    # The preset's 2 seeds, then trial-0000's 2 seeds (a configuration complete in Optuna), then
    # one seed of trial-0001 (left running in Optuna).
    monkeypatch.setattr(backends, "make_backend", lambda *_: InterruptAfter(5))
    with pytest.raises(SweepInterrupted, match="--resume"):
        run_sweep(spec, tmp_path / "sw", progress=False)
    finished = {p.parent: p.read_text() for p in (tmp_path / "sw" / "runs").glob("*/*/trial.json")}
    assert {f"{p.parent.name}/{p.name}" for p in finished} == {
        "base/seed-0",
        "base/seed-1",
        "trial-0000/seed-0",
        "trial-0000/seed-1",
        "trial-0001/seed-0",
    }
    monkeypatch.undo()

    resumed = resume_sweep(tmp_path / "sw", workers=2, progress=False)
    for folder, text in finished.items():  # not trained again
        assert (folder / "trial.json").read_text() == text

    def key(rows):
        return sorted((r["config_id"], r["seed"], r["objective"]) for r in rows)

    def strip(configs):
        return [{k: c[k] for k in ("config_id", "params", "state", "scores")} for c in configs]

    assert key(read_trials(tmp_path / "sw")) == key(read_trials(tmp_path / "ref"))
    assert resumed["best"]["confirmation"]["scores"] == reference["best"]["confirmation"]["scores"]
    assert strip(resumed["configurations"]) == strip(reference["configurations"])
    # Resuming a finished sweep trains nothing and rewrites the same report.
    again = resume_sweep(tmp_path / "sw", workers=2, progress=False)
    assert strip(again["configurations"]) == strip(resumed["configurations"])
    assert again["best"] == resumed["best"]


def test_ctrl_c_on_the_command_line_then_resume(tmp_path):
    """A real SIGINT to the process group, as a terminal's Ctrl-C sends it."""
    args = [
        sys.executable,
        "-m",
        "reinforcelab.cli",
        "sweep",
        "--preset",
        "fast-cartpole",
        "--param",
        "lr=0.03,0.05,0.1,0.2",
        "--seeds",
        "3",
        "--total-steps",
        "20000",
        "--eval-episodes",
        "10",
        "--out",
        str(tmp_path / "sw"),
        "--no-progress",
    ]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while (
        len(list((tmp_path / "sw").glob("runs/*/*/trial.json"))) < 2 and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the sweep finished before the interrupt arrived")
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr
    kept = list((tmp_path / "sw").glob("runs/*/*/trial.json"))
    assert kept and all(json.loads(p.read_text())["status"] == "ok" for p in kept)
    result = CliRunner().invoke(app, ["sweep", "--resume", str(tmp_path / "sw"), "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = read_trials(tmp_path / "sw")
    assert len([r for r in rows if r["stage"] == "search"]) == 15 and all(
        r["status"] == "ok" for r in rows
    )
    assert (tmp_path / "sw" / "report.png").stat().st_size > 0


def test_cli_sweep_from_a_file_prints_the_best(tmp_path):
    (tmp_path / "s.toml").write_text(
        'preset = "fast-cartpole"\nseeds = 2\neval_episodes = 10\n'
        "[budget]\ntotal_env_steps = 5000\n[parameters]\nlr = [0.05, 0.1]\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(tmp_path / "s.toml"),
            "--out",
            str(tmp_path / "sw"),
            "--seeds",
            "1",
            "--no-progress",
            "--tensorboard",
            str(tmp_path / "tb"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "tb" / "runs" / "base" / "seed-0").glob("events.out.tfevents.*"))
    preset_best = "best: the preset itself" in result.output
    assert preset_best or "P(best > preset)" in result.output
    assert len(read_trials(tmp_path / "sw")) == 3 + (
        1 if preset_best else 2
    )  # + confirmation on 1 seed
    again = CliRunner().invoke(
        app, ["sweep", str(tmp_path / "s.toml"), "--out", str(tmp_path / "sw")]
    )
    assert again.exit_code == 2 and "--resume" in again.output


def test_learning_curves_are_rolling_means_on_a_common_grid(tmp_path):
    for name, returns in (("a", [1.0, 3.0, 5.0]), ("b", [2.0, 2.0])):
        folder = tmp_path / name
        folder.mkdir()
        lines = ["episode,return,length,env_steps,wall_seconds"]
        lines += [f"{i + 1},{r},10,{10 * (i + 1)},0.1" for i, r in enumerate(returns)]
        (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    grid, curves = learning_curves([tmp_path / "a", tmp_path / "b"], "env_steps")
    assert grid[0] == 0 and grid[-1] == 30
    # run a: rolling means 1, 2, 3 at 10, 20, 30 env steps; run b holds 2 after it stopped.
    np.testing.assert_allclose(np.interp([10, 20, 30], grid, curves[0]), [1.0, 2.0, 3.0], atol=0.1)
    np.testing.assert_allclose(curves[1][grid >= 20], 2.0)


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).parents[2] / "sweeps").glob("*.*")), ids=lambda p: p.name
)
def test_committed_sweep_files_are_valid(path):
    spec = spec_from_dict(load_spec(path))
    assert spec.n_configs() >= 1 and spec.seeds


class ScriptedBackend:
    """Trials without training: each scores ``score(params, seed)`` (None: the trial fails) and
    writes the files the report reads, so the driver's bookkeeping runs in milliseconds. A trial
    finishes at once, or after ``delay(params)`` seconds (to make trials finish out of order)."""

    name = "scripted"

    def __init__(self, score, workers=1, delay=None):
        self.score, self.workers, self.delay = score, workers, delay
        self.timers = []

    def submit(self, task, sweep_dir):
        from concurrent.futures import Future

        from reinforcelab.artifacts.checkpoint import write_json

        folder = Path(sweep_dir) / task.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metrics.csv").write_text(
            "episode,return,length,env_steps,wall_seconds\n1,1.0,1,1,0.0\n"
        )
        score = self.score(task.params, task.seed)
        record = {
            "stage": task.stage,
            "config_id": task.config_id,
            "seed": task.seed,
            "params": task.params,
            **({"status": "ok", "objective": score} if score is not None else {}),
            **({"status": "failed", "error": "ValueError: scripted"} if score is None else {}),
        }
        write_json(folder / "trial.json", record)
        future = Future()
        delay = self.delay(task.params) if self.delay else 0.0
        if delay:
            timer = threading.Timer(delay, future.set_result, [record])
            self.timers.append(timer)
            timer.start()
        else:
            future.set_result(record)
        return future

    def close(self, cancel=False):
        for timer in self.timers:
            timer.cancel()


def test_pruning_stops_configurations_below_the_median_before_their_last_seed(
    tmp_path, monkeypatch
):
    # Scores rise with lr, with a little noise by seed.
    monkeypatch.setattr(
        backends,
        "make_backend",
        lambda *_: ScriptedBackend(lambda p, s: 1000 * p.get("lr", 0.1) + s),
    )
    spec = spec_from_dict(
        {
            **TINY,
            "seeds": 4,
            "parameters": {"lr": {"low": 0.001, "high": 0.5, "log": True}},
            "trials": 12,
            "pruning": True,
        }
    )
    summary = run_sweep(spec, tmp_path / "sw", progress=False)
    pruned = [c for c in summary["configurations"] if c["state"] == "pruned"]
    complete = [
        c
        for c in summary["configurations"]
        if c["state"] == "complete" and c["config_id"] != "base"
    ]
    assert pruned, "TPE with seed 0 proposes low learning rates after the first ones here"
    for c in pruned:
        assert 1 <= c["n"] < 4  # stopped before its remaining seeds
        assert c["mean"] < max(x["mean"] for x in complete)
    assert summary["counts"]["pruned"] == len(pruned)
    assert (
        len(read_trials(tmp_path / "sw")) == sum(c["n"] for c in summary["configurations"]) + 2 * 4
    )


# ----------------------------------------------------------------------------- progress
# The live line as a pipe gets it (rich prints the last frame once, when the display stops):
# "sweep ━━━ 8/8 done 8  running 0  failed 0  pruned 0  best base 5.0 0:00:00".
PROGRESS_LINE = re.compile(
    r"(\d+)/(\d+) done (\d+)  running (\d+)  failed (\d+)  pruned (\d+)  best (\S+)"
)


@pytest.fixture
def progress_output(monkeypatch):
    """Everything the progress display prints (rich's default console, wide enough for one line)."""
    import rich
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=300, force_terminal=False, color_system=None)
    monkeypatch.setattr(rich, "_console", console)
    return buffer


def assert_progress_agrees_with_the_result(buffer, folder, summary):
    lines = PROGRESS_LINE.findall(buffer.getvalue())
    assert lines, buffer.getvalue()
    completed, total, done, running, failed, _, best = lines[-1]
    rows = read_trials(folder)
    assert (int(completed), int(total)) == (len(rows), len(rows))  # N/N, N = rows of trials.csv
    assert int(done) == sum(r["status"] == "ok" for r in rows) and int(running) == 0
    assert int(failed) == sum(r["status"] == "failed" for r in rows)
    assert best == summary.get("best", {}).get("config_id", "-")


@pytest.mark.parametrize(
    "score, delay, workers",
    [
        # Every configuration scores the same: the preset is best, so only it is confirmed (one
        # set of confirmation seeds, where the bar used to count two: it stopped at 8/10).
        (lambda p, s: 5.0, None, 1),
        # trial-0000 and trial-0001 tie; trial-0001 finishes first (trial-0000's seeds are held
        # back), and the live "best" used to keep it while the summary picks trial-0000.
        (
            lambda p, s: 1.0 if not p else 5.0,
            lambda p: 1.0 if p.get("lr") == 0.05 else 0.0,
            4,
        ),
        # Every trial fails: nothing to confirm (the bar used to stop at 6/10).
        (lambda p, s: None, None, 2),
    ],
    ids=["preset-ties-the-best", "tie-finished-out-of-order", "every-trial-fails"],
)
def test_progress_ends_at_n_of_n_and_names_the_summarys_best(
    score, delay, workers, tmp_path, monkeypatch, progress_output
):
    backend = ScriptedBackend(score, workers, delay)
    monkeypatch.setattr(backends, "make_backend", lambda *_: backend)
    summary = run_sweep(spec_from_dict(TINY), tmp_path / "sw", progress=True)
    assert_progress_agrees_with_the_result(progress_output, tmp_path / "sw", summary)


def test_progress_of_a_resumed_sweep_counts_only_trials_that_run(
    tmp_path, monkeypatch, progress_output
):
    # Pruned configurations never run their last seeds: on resume they must not be planned.
    monkeypatch.setattr(
        backends,
        "make_backend",
        lambda *_: ScriptedBackend(lambda p, s: 1000 * p.get("lr", 0.1) + s),
    )
    spec = spec_from_dict(
        {
            **TINY,
            "seeds": 4,
            "parameters": {"lr": {"low": 0.001, "high": 0.5, "log": True}},
            "trials": 12,
            "pruning": True,
        }
    )
    first = run_sweep(spec, tmp_path / "sw", progress=False)
    assert first["counts"]["pruned"] > 0
    resumed = resume_sweep(tmp_path / "sw", progress=True)
    assert_progress_agrees_with_the_result(progress_output, tmp_path / "sw", resumed)


def test_one_ranking_rule_picks_the_best_and_orders_the_summary(tmp_path, monkeypatch):
    """Highest mean first; on a tie the preset (nothing to gain), then the lowest config id."""
    # base, trial-0000 (lr 0.05) and trial-0001 (lr 0.1) all score 5: the preset wins.
    monkeypatch.setattr(backends, "make_backend", lambda *_: ScriptedBackend(lambda p, s: 5.0))
    summary = run_sweep(spec_from_dict(TINY), tmp_path / "a", progress=False)
    assert summary["best"]["config_id"] == "base"
    assert [c["config_id"] for c in summary["configurations"]] == [
        "base",
        "trial-0000",
        "trial-0001",
    ]
    # Without the preset in the tie: the lowest config id, even when it finished last.
    backend = ScriptedBackend(
        lambda p, s: 1.0 if not p else 5.0, 4, lambda p: 1.0 if p.get("lr") == 0.05 else 0.0
    )
    monkeypatch.setattr(backends, "make_backend", lambda *_: backend)
    summary = run_sweep(spec_from_dict(TINY), tmp_path / "b", progress=False)
    assert summary["best"]["config_id"] == "trial-0000"
    assert [c["config_id"] for c in summary["configurations"]] == [
        "trial-0000",
        "trial-0001",
        "base",
    ]


def test_optuna_ranks_by_the_same_mean_as_the_summary(tmp_path, monkeypatch):
    # Ten scores whose running sum and numpy's pairwise sum round differently in the last bit.
    monkeypatch.setattr(
        backends,
        "make_backend",
        lambda *_: ScriptedBackend(lambda p, s: (0.1 * s + 50 * p.get("lr", 0.1) / 3) ** 1.7),
    )
    summary = run_sweep(spec_from_dict({**TINY, "seeds": 10}), tmp_path / "sw", progress=False)
    import optuna

    study = optuna.load_study(
        study_name="sweep",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "sw" / "optuna.journal"))
        ),
    )
    means = {c["config_id"]: c["mean"] for c in summary["configurations"]}
    told = {t.user_attrs["config_id"]: t.value for t in study.trials}
    assert told == {k: means[k] for k in told} and len(told) == 2
