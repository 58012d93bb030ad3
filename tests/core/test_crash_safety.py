"""Real processes against one run folder: SIGKILL at any moment of training leaves a folder that
is absent or loads and resumes to exactly the uninterrupted run, and two writers racing on one
folder never corrupt it (one of them is refused in one line naming the other's pid)."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import reinforcelab
from reinforcelab.artifacts.checkpoint import load_resume_state
from reinforcelab.artifacts.files import LOCK_FILE, is_partial
from reinforcelab.checks import ConfigError
from reinforcelab.config import preset
from reinforcelab.run import remove_leftovers, resume_run, train_run

# `reinforcelab train` in a child process. With a kill point N > 0 the child SIGKILLs itself at
# its N-th low-level file operation (os.write, os.replace, os.rename), after writing half of the
# bytes of that write; with N < 0 it counts them and prints the count to stderr at exit.
CHILD = """
import atexit, os, signal, sys
kill_at, count = int(sys.argv[1]), 0
def point():
    global count
    count += 1
    return count == kill_at
def patch(name, before=None):
    real = getattr(os, name)
    def patched(*args, **kwargs):
        if point():
            if before: before(real, *args)
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(os, name, patched)
if kill_at:
    patch("write", lambda real, fd, data: real(fd, bytes(data)[: len(data) // 2]))
    patch("replace")
    patch("rename")
if kill_at < 0:
    atexit.register(lambda: print(f"file operations: {count}", file=sys.stderr))
from reinforcelab.cli import main
sys.argv = ["reinforcelab", *sys.argv[2:]]
main()
"""


def child(out: Path, *options: object, kill_at: int = 0) -> subprocess.Popen:
    args = [sys.executable, "-c", CHILD, str(kill_at), "train", *map(str, options)]
    return subprocess.Popen(
        [*args, "--out", str(out), "--no-progress", "--no-plot"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def episodes(folder: Path) -> list[list[str]]:
    """metrics.csv without its wall-clock column."""
    with (folder / "metrics.csv").open() as f:
        return [row[:4] for row in csv.reader(f)]


def assert_same_run(folder: Path, reference: Path) -> None:
    assert episodes(folder) == episodes(reference)
    weights = reinforcelab.load(folder).weights()
    for name, array in reinforcelab.load(reference).weights().items():
        assert np.array_equal(weights[name], array), name
    results = json.loads((folder / "results.json").read_text())
    assert results["training"]["train_episodes"] == len(episodes(folder)) - 1
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


# ----------------------------------------------------------------------------- SIGKILL
# 19 updates of 8 episodes, a checkpoint after each: most of a run's file operations are
# checkpoint writes.
KILLED = ["CartPole-v1", "--preset", "fast-cartpole", "--seed", 7, "--set", "num_envs=8",
          "--total-steps", 3000, "--checkpoint-every", 1]  # fmt: skip
CONFIG = preset("fast-cartpole").replace(seed=7, num_envs=8, total_env_steps=3000)
TIMED_KILLS = 30  # at random times: a third in start-up, the others in training and evaluation
WRITE_KILLS = 30  # inside a random file operation (half a write, before a rename)


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_a_folder_that_loads_and_resumes_to_the_same_run(tmp_path):
    reference = tmp_path / "reference"
    train_run(CONFIG, reference, progress=False, checkpoint_every=1)
    # A whole run, timed: start-up until its folder appears, then training and evaluation.
    start = time.monotonic()
    counting = child(tmp_path / "counted", *KILLED, kill_at=-1)
    while not (tmp_path / "counted").exists() and counting.poll() is None:
        time.sleep(0.005)
    appeared = time.monotonic() - start
    _, stderr = counting.communicate(timeout=120)
    whole_run = time.monotonic() - start
    assert counting.returncode == 0, stderr
    operations = int(stderr.rsplit("file operations:", 1)[1])
    assert_same_run(tmp_path / "counted", reference)

    rng = random.Random(19)
    kills = [("time", rng.uniform(0.0, appeared)) for _ in range(TIMED_KILLS // 3)]
    kills += [
        ("time", rng.uniform(appeared, 1.05 * whole_run))
        for _ in range(TIMED_KILLS - TIMED_KILLS // 3)
    ]
    kills += [("write", rng.randint(1, operations)) for _ in range(WRITE_KILLS)]
    outcomes: Counter[str] = Counter()
    for i, (kind, moment) in enumerate(kills):
        parent = tmp_path / f"kill-{i:02d}"
        parent.mkdir()
        out = parent / "run"
        if kind == "time":
            proc = child(out, *KILLED)
            time.sleep(moment)
            proc.send_signal(signal.SIGKILL)  # our own child, by its pid
        else:
            proc = child(out, *KILLED, kill_at=int(moment))
        proc.communicate(timeout=120)
        outcomes[check_killed_folder(out, reference, proc.returncode)] += 1
    print(
        f"\n{len(kills)} kills (the run: {operations} file operations, its folder after "
        f"{appeared:.2f} s, done after {whole_run:.2f} s): {dict(outcomes)}"
    )
    assert sum(outcomes.values()) == TIMED_KILLS + WRITE_KILLS >= 50
    # The kills landed all over the run: before the folder existed, inside checkpoint writes
    # (a temporary file left behind), and between checkpoints.
    assert outcomes["absent"] and outcomes["temporary file left"] and outcomes["mid-training"]


def check_killed_folder(out: Path, reference: Path, returncode: int) -> str:
    """Check one killed run's folder; say what the kill left."""
    if not out.exists():
        # Nothing under its name; at most a half-built folder beside it, which goes (unless the
        # kill came between its mkdir and its lock: then it is empty, and goes a minute later).
        remove_leftovers(out)
        for path in out.parent.iterdir():
            assert path.name.startswith(".run.new.") and list(path.iterdir()) == [], path
        return "absent"
    reinforcelab.load(out)  # loads as it is
    partial = any(is_partial(p.name) for p in out.iterdir())
    updates = load_resume_state(out)["counters"]["updates"]
    if (out / "results.json").exists():
        assert returncode in (0, -signal.SIGKILL)
        with pytest.raises(ConfigError, match="trained its whole budget"):
            resume_run(out, progress=False)  # finished: nothing to resume
        outcome = "finished"
    else:
        resume_run(out, progress=False)
        outcome = "temporary file left" if partial else "step 0" if updates == 0 else "mid-training"
    assert_same_run(out, reference)
    assert not (out / LOCK_FILE).exists()
    return outcome


# ----------------------------------------------------------------------------- two writers
# About three seconds of training: two processes started together overlap.
LONG = ["CartPole-v1", "--preset", "fast-cartpole", "--set", "num_envs=8", "--total-steps",
        150_000, "--checkpoint-every", 1]  # fmt: skip
LONG_CONFIG = preset("fast-cartpole").replace(num_envs=8, total_env_steps=150_000)


def race(procs: list[subprocess.Popen]) -> list[tuple[int, str]]:
    """(exit code, stderr) of each process, once all have ended."""
    outputs = [p.communicate(timeout=300)[1] for p in procs]
    return [(p.returncode, stderr) for p, stderr in zip(procs, outputs)]


def one_refused(procs: list[subprocess.Popen]) -> None:
    """Exactly one writer ran; the other was refused in one line naming the winner's pid."""
    results = race(procs)
    assert sorted(code for code, _ in results) == [0, 2], results
    winner = next(p for p, (code, _) in zip(procs, results) if code == 0)
    refused = next(stderr for code, stderr in results if code == 2).strip()
    assert refused.startswith("error: ") and "\n" not in refused, refused
    assert f"(pid {winner.pid})" in refused and "one writer at a time" in refused


def test_two_overwrites_at_once_leave_one_whole_run(tmp_path):
    out = tmp_path / "run"
    train_run(LONG_CONFIG.replace(seed=1, total_env_steps=2000), out, progress=False)
    one_refused([child(out, *LONG, "--seed", seed, "--overwrite") for seed in (2, 3)])
    seed = json.loads((out / "config.json").read_text())["config"]["seed"]
    reference = train_run(
        LONG_CONFIG.replace(seed=seed), tmp_path / "reference", progress=False, checkpoint_every=1
    )
    assert_same_run(out, reference.out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reference", "run"]


def test_two_new_runs_at_once_into_one_folder_leave_one_whole_run(tmp_path):
    out = tmp_path / "run"
    results = race([child(out, *LONG, "--seed", seed) for seed in (2, 3)])
    assert sorted(code for code, _ in results) == [0, 2], results
    refused = next(stderr for code, stderr in results if code == 2).strip()
    # Refused by the lock, or (when it came second) as an existing folder.
    assert refused.startswith("error: ") and "\n" not in refused
    assert "one writer at a time" in refused or "already exists" in refused
    seed = json.loads((out / "config.json").read_text())["config"]["seed"]
    reference = train_run(
        LONG_CONFIG.replace(seed=seed), tmp_path / "reference", progress=False, checkpoint_every=1
    )
    assert_same_run(out, reference.out)


def test_two_resumes_at_once_train_the_run_once(tmp_path):
    out = tmp_path / "run"
    train_run(LONG_CONFIG.replace(seed=4, total_env_steps=3000), out, progress=False)
    args = [sys.executable, "-c", CHILD, "0", "train", "--resume", str(out), "--total-steps",
            "150000", "--no-progress", "--no-plot"]  # fmt: skip
    one_refused(
        [
            subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
    )
    reference = train_run(LONG_CONFIG.replace(seed=4), tmp_path / "reference", progress=False)
    assert_same_run(out, reference.out)
    assert sorted(os.listdir(tmp_path)) == ["reference", "run"]
