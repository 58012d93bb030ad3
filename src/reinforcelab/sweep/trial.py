"""One trial: train one configuration with one seed into a normal run folder, then score it on
held-out evaluation episodes. Runs in a worker process (embedded) or a Ray task; never raises.

The trial's record goes to ``trial.json`` in its run folder, written last and atomically: a folder
with it is finished (a resumed sweep reuses it), a folder without it is redone from scratch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..callbacks import Callback

if TYPE_CHECKING:
    from ..callbacks import EpisodeRecords, Trainer

TRIAL_FILE = "trial.json"
# A trial's record, as trial.json holds it: stage, config_id, seed, params, status ("ok",
# "failed" or "interrupted", the last never written), and the scores and timings or the error.
TrialRecord = dict[str, Any]


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs; plain data, so it pickles to another process or machine."""

    stage: str  # "search" or "confirm"
    config_id: str
    seed: int
    params: dict[str, Any]
    config: dict[str, Any]  # TrainConfig.to_dict(), seed included
    folder: str  # run folder, relative to the sweep folder
    eval_episodes: int
    eval_seed: int
    objective: str
    seconds: float | None = None
    stop_reward: float | None = None
    tensorboard_dir: str | None = None


class StopAfterSeconds(Callback):
    """A wall-clock training budget (the issue's "10 minutes of training")."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def on_update(self, trainer: Trainer, records: EpisodeRecords) -> None:
        if trainer.wall_seconds >= self.seconds:
            trainer.stop(f"time budget {self.seconds:g} s reached")


def objective_value(mean: float, std: float, objective: str) -> float:
    return mean - std if objective == "mean-std" else mean


def read_record(run_folder: Path) -> TrialRecord | None:
    """The finished trial's record, or None when the trial never finished."""
    import json

    try:
        record: TrialRecord = json.loads((run_folder / TRIAL_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record


def record_lost_trial(task: TrialTask, sweep_dir: Path, error: BaseException) -> TrialRecord:
    """The record of a trial whose worker died (killed, out of memory) or that Ray lost: failed,
    with the error, written to its trial.json as a worker would have (the half-built folder a
    killed worker may leave beside it is removed)."""
    from ..artifacts.checkpoint import write_json
    from ..run import remove_leftovers

    record: TrialRecord = {
        "stage": task.stage,
        "config_id": task.config_id,
        "seed": task.seed,
        "params": task.params,
        "eval_episodes": task.eval_episodes,
        "eval_seed": task.eval_seed,
        "objective_kind": task.objective,
        "status": "failed",
        "error": f"{type(error).__name__}: {error}".splitlines()[0],
    }
    out = Path(sweep_dir) / task.folder
    remove_leftovers(out)
    write_json(out / TRIAL_FILE, record)
    return record


def run_trial(task: TrialTask, sweep_dir: str) -> TrialRecord:
    """Train and score ``task`` into ``sweep_dir/task.folder``; return its record (status ``ok``,
    ``failed`` with the error, or ``interrupted``, which writes no record and is redone on
    resume)."""
    from ..artifacts.checkpoint import write_json
    from ..config import TrainConfig
    from ..run import train_run

    start = time.perf_counter()
    out = Path(sweep_dir) / task.folder
    record: TrialRecord = {
        "stage": task.stage,
        "config_id": task.config_id,
        "seed": task.seed,
        "params": task.params,
        "eval_episodes": task.eval_episodes,
        "eval_seed": task.eval_seed,
        "objective_kind": task.objective,
        "host": os.uname().nodename,
        "pid": os.getpid(),
    }
    if out.exists():  # an unfinished folder from an interrupted sweep
        shutil.rmtree(out)
    try:
        config = TrainConfig.from_dict(task.config)
        callbacks: list[Callback] = []
        if task.seconds is not None:
            callbacks.append(StopAfterSeconds(task.seconds))
        if task.tensorboard_dir is not None:
            from ..tensorboard import TensorBoardScalars

            callbacks.append(TensorBoardScalars(Path(task.tensorboard_dir) / task.folder))
        # Checkpoints only at the end: an unfinished trial is redone from scratch, never resumed.
        result = train_run(
            config,
            out,
            stop_reward=task.stop_reward,
            progress=False,
            checkpoint_every=10**9,
            extra_callbacks=callbacks,
        )
        if result.summary["interrupted"]:
            return {**record, "status": "interrupted"}
        eval_start = time.perf_counter()
        held_out = result.agent.evaluate(task.eval_episodes, seed=task.eval_seed)
        record.update(
            status="ok",
            objective=objective_value(held_out.mean_reward, held_out.std_reward, task.objective),
            eval_mean=held_out.mean_reward,
            eval_std=held_out.std_reward,
            eval_seconds=time.perf_counter() - eval_start,
            train_seconds=result.summary["train_wall_seconds"],
            train_env_steps=result.summary["train_env_steps"],
            train_episodes=result.summary["train_episodes"],
            stop_reason=result.summary["stop_reason"],
        )
    except KeyboardInterrupt:
        return {**record, "status": "interrupted"}
    except Exception as exc:  # recorded, and the sweep goes on
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}".splitlines()[0],
            traceback=traceback.format_exc(limit=8),
        )
        out.mkdir(parents=True, exist_ok=True)
    record["trial_seconds"] = time.perf_counter() - start
    write_json(out / TRIAL_FILE, record)
    return record


def run_trial_packed(task: TrialTask) -> tuple[TrialRecord, dict[str, bytes]]:
    """``run_trial`` in a scratch folder, returning the run folder's files: a Ray worker may sit on
    another machine, so the driver writes them into its sweep folder (same layout as embedded)."""
    with tempfile.TemporaryDirectory(prefix="reinforcelab-trial-") as scratch:
        record = run_trial(task, scratch)
        folder = Path(scratch) / task.folder
        files = (
            {
                p.relative_to(folder).as_posix(): p.read_bytes()
                for p in folder.rglob("*")
                if p.is_file()
            }
            if record["status"] != "interrupted" and folder.exists()
            else {}
        )
    return record, files
