"""A sweep whose worker process is killed (SIGKILL, as the OOM killer does) records that trial as
failed, with its stage and parameters, finishes every other trial (the one running beside it
included) and resumes cleanly; and a sweep folder has one sweep at a time."""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from reinforcelab.artifacts.files import LOCK_FILE
from reinforcelab.run import RunFolderBusy, RunLock
from reinforcelab.sweep import resume_sweep, run_sweep, spec_from_dict

# trial-0001 trains 300k env steps (about a second per seed, its two seeds side by side on the
# two workers), the others 5k.
SPEC = {
    "preset": "fast-cartpole",
    "seeds": 2,
    "eval_episodes": 10,
    "budget": {"total_env_steps": 5000},
    "parameters": {"total_env_steps": [5000, 300_000]},
}
TARGET = Path("runs") / "trial-0001" / "seed-0"


def process_writing(path: Path) -> int | None:
    """The pid of the process (not this one) that has ``path`` open, found in /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:  # gone, or not ours to look at
            continue
        if str(path) in links:
            return int(entry.name)
    return None


class KillWorker(threading.Thread):
    """Kills, once, the worker process training ``folder`` (found by its open metrics.csv), as
    soon as another worker trains ``beside`` at the same time."""

    def __init__(self, folder: Path, beside: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.beside = folder, beside
        self.killed: int | None = None
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            pid = process_writing(self.folder / "metrics.csv")
            if pid is not None and process_writing(self.beside / "metrics.csv") is not None:
                os.kill(pid, signal.SIGKILL)  # a worker of the sweep this test started
                self.killed = pid
                return
            time.sleep(0.01)


def read_trials(folder: Path) -> list[dict[str, str]]:
    """trials.csv's rows, by configuration and seed."""
    with (folder / "trials.csv").open() as f:
        return sorted(csv.DictReader(f), key=lambda r: (r["config_id"], r["seed"]))


def test_a_killed_worker_fails_its_trial_only_and_the_sweep_resumes_cleanly(tmp_path):
    out = tmp_path / "sw"
    killer = KillWorker(out / TARGET, out / TARGET.with_name("seed-1"))
    killer.start()
    try:
        summary = run_sweep(spec_from_dict(SPEC), out, workers=2, progress=False)
    finally:
        killer.done.set()
    assert killer.killed is not None, "the trial ended before its worker could be killed"

    rows = {(r["config_id"], r["seed"]): r for r in read_trials(out)}
    lost = rows[("trial-0001", "0")]
    assert lost["status"] == "failed" and lost["stage"] == "search"
    assert lost["param_total_env_steps"] == "300000"
    assert f"pid {killer.killed}) was killed by SIGKILL" in lost["error"]
    # The trial beside it, on the other worker, and every later one, ran to the end.
    others = [r for key, r in rows.items() if key != ("trial-0001", "0")]
    assert all(r["status"] == "ok" for r in others), others
    assert int(rows[("trial-0001", "1")]["train_env_steps"]) >= 300_000
    states = {c["config_id"]: c["state"] for c in summary["configurations"]}
    assert states["trial-0001"] == "failed" and states["base"] == "complete"
    assert "best" in summary and any(r["stage"] == "confirm" for r in others)
    record = json.loads((out / TARGET / "trial.json").read_text())
    assert record["status"] == "failed" and record["params"] == {"total_env_steps": 300_000}
    # No half-built folder is left beside it.
    assert sorted(p.name for p in (out / TARGET).parent.iterdir()) == ["seed-0", "seed-1"]

    # Resuming trains nothing again and writes the same results.
    finished = {p: p.read_text() for p in out.glob("runs/*/*/trial.json")}
    before = read_trials(out)
    resumed = resume_sweep(out, workers=2, progress=False)
    assert {p: p.read_text() for p in out.glob("runs/*/*/trial.json")} == finished
    assert read_trials(out) == before

    def essentials(configs):
        return [{k: c[k] for k in ("config_id", "params", "state", "scores")} for c in configs]

    assert essentials(resumed["configurations"]) == essentials(summary["configurations"])


def test_a_sweep_folder_has_one_sweep_at_a_time(tmp_path):
    out = tmp_path / "sw"
    out.mkdir()
    (out / "spec.json").write_text(json.dumps(spec_from_dict(SPEC).to_dict()))
    with RunLock(out).acquire():  # as a running sweep holds it
        with pytest.raises(RunFolderBusy, match=rf"pid {os.getpid()}\b"):
            resume_sweep(out, workers=1, progress=False)
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "spec.json"]
