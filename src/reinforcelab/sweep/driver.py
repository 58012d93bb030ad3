"""The sweep loop: Optuna proposes configurations, every configuration trains once per seed on the
backend's workers, the results go back to Optuna; then the best configuration and the base preset
are trained again on fresh seeds (the confirmation), and the report is written.

The sweep folder::

    spec.json                 the sweep as run (``--resume`` reads it back)
    optuna.journal            Optuna's storage (configurations proposed, their values and states)
    runs/<config>/seed-<s>/   one normal run folder per trial, plus trial.json once it finished
    trials.csv  summary.json  report.png

Optuna decides *what* to run; the run folders are the record of *what ran*: a resumed sweep reuses
every run folder with a trial.json and redoes the rest.
"""

from __future__ import annotations

import json
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

from ..artifacts.checkpoint import write_json
from ..loops import StopOnSignal
from .results import BASE_ID, CONFIRM_BASE_ID, CONFIRM_BEST_ID, ConfigRun, run_folder
from .spec import Parameter, SweepSpec, SweepSpecError, spec_from_dict
from .trial import TRIAL_FILE, TrialTask, read_record

SPEC_FILE = "spec.json"
STUDY_FILE = "optuna.journal"


class SweepInterrupted(Exception):
    """Ctrl-C: finished trials are kept; ``sweep --resume`` continues."""


class SweepRunner:
    def __init__(
        self,
        spec: SweepSpec,
        out: Path,
        backend: Any,
        progress: bool = True,
        tensorboard_dir: Path | None = None,
    ) -> None:
        self.spec, self.out, self.backend = spec, Path(out), backend
        self.tensorboard_dir = tensorboard_dir
        self.show_progress = progress
        self.pending: deque[tuple[ConfigRun, TrialTask]] = deque()
        self.running: dict[Future, tuple[ConfigRun, TrialTask]] = {}
        self.configs: list[ConfigRun] = []
        self.counts = {"done": 0, "failed": 0, "pruned": 0}
        self.skipped = 0  # seeds that will not run: their configuration was pruned or failed
        self.best: tuple[float, str] | None = None

    # ------------------------------------------------------------------ study
    def open_study(self, new: bool) -> None:
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        spec = self.spec
        if spec.method == "tpe":
            sampler = optuna.samplers.TPESampler(
                seed=spec.sampler_seed, n_startup_trials=min(10, max(2, spec.trials // 3))
            )
        else:
            sampler = optuna.samplers.RandomSampler(
                seed=spec.sampler_seed
            )  # never asked: grid points are enqueued
        pruner = (
            optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
            if spec.pruning
            else optuna.pruners.NopPruner()
        )
        storage = JournalStorage(JournalFileBackend(str(self.out / STUDY_FILE)))
        self.study = optuna.create_study(
            study_name="sweep",
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            direction="maximize",
            load_if_exists=not new,
        )
        if new and spec.method == "grid":
            for params in spec.grid():
                self.study.enqueue_trial(
                    {p.name: encode(p, params[p.name]) for p in spec.parameters}
                )
        if not new:
            self.restore_finished()
            self.requeue_interrupted()

    def restore_finished(self) -> None:
        """Configurations an earlier run of the sweep finished: back into the statistics, from
        their run folders."""
        from optuna.trial import TrialState

        states = {
            TrialState.COMPLETE: "complete",
            TrialState.PRUNED: "pruned",
            TrialState.FAIL: "failed",
        }
        for t in self.study.get_trials(deepcopy=False, states=tuple(states)):
            if t.state == TrialState.FAIL and "error" not in t.user_attrs:
                continue  # interrupted, not failed: proposed again by requeue_interrupted
            params = {p.name: decode(p, t.params[p.name]) for p in self.spec.parameters}
            config = ConfigRun(
                t.user_attrs["config_id"], params, "search", self.spec.seeds, state=states[t.state]
            )
            self.add_config(config)  # not running: reads its records, queues nothing
            self.counts["pruned"] += config.state == "pruned"
            if config.state == "complete":
                self.note_best(config)

    def requeue_interrupted(self) -> None:
        """Trials left running by a Ctrl-C or a crash: close them and propose the same parameters
        again under the same config id, so their finished seeds are reused."""
        from optuna.trial import TrialState

        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            config_id = t.user_attrs.get("config_id", f"trial-{t.number:04d}")
            self.study.enqueue_trial(t.params, user_attrs={"config_id": config_id})
            self.study.tell(
                t.number, state=TrialState.FAIL
            )  # no "error" attr: not counted as a result

    def finished_searches(self) -> int:
        from optuna.trial import TrialState

        return sum(
            1
            for t in self.study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and "error" in t.user_attrs)
        )

    def next_search_config(self) -> ConfigRun | None:
        from optuna.trial import TrialState

        open_searches = sum(1 for c in self.configs if c.trial is not None and c.state == "running")
        if self.finished_searches() + open_searches >= self.spec.n_configs():
            return None
        if self.spec.method == "grid" and not self.study.get_trials(
            deepcopy=False, states=(TrialState.WAITING,)
        ):
            return None
        trial = self.study.ask()
        params = {p.name: decode(p, suggest(trial, p)) for p in self.spec.parameters}
        config_id = trial.user_attrs.get("config_id", f"trial-{trial.number:04d}")
        trial.set_user_attr("config_id", config_id)
        return ConfigRun(config_id, params, "search", self.spec.seeds, trial)

    # ------------------------------------------------------------ scheduling
    def add_config(self, config: ConfigRun) -> None:
        """Queue the config's seeds; seeds that finished in an earlier run of the sweep count at once."""
        self.configs.append(config)
        for seed in config.seeds:
            folder = run_folder(config.config_id, seed)
            record = read_record(self.out / folder)
            if record is not None and record.get("status") in ("ok", "failed"):
                self.on_record(config, record)
            elif config.state == "running":
                self.pending.append((config, self.task_for(config, seed, folder)))

    def task_for(self, config: ConfigRun, seed: int, folder: str) -> TrialTask:
        spec = self.spec
        return TrialTask(
            stage=config.stage,
            config_id=config.config_id,
            seed=seed,
            params=config.params,
            config=spec.config_for(config.params, seed).to_dict(),
            folder=folder,
            eval_episodes=spec.eval_episodes,
            eval_seed=spec.eval_seed(seed),
            objective=spec.objective,
            seconds=spec.budget.get("seconds"),
            stop_reward=spec.budget.get("stop_reward"),
            tensorboard_dir=str(self.tensorboard_dir) if self.tensorboard_dir else None,
        )

    def stop_point(self) -> None:
        """Where a Ctrl-C takes effect: between Optuna writes, never inside one (an interrupted
        journal write leaves a stale lock behind)."""
        if self.ctrl_c.requested or self.interrupted:
            raise KeyboardInterrupt

    def fill(self, ask: bool) -> None:
        while len(self.running) < self.backend.workers:
            self.stop_point()
            while not self.pending and ask:
                config = self.next_search_config()
                if config is None:
                    break
                self.add_config(config)
            if not self.pending:
                return
            config, task = self.pending.popleft()
            self.running[self.backend.submit(task, self.out)] = (config, task)

    def drain(self, ask: bool) -> None:
        """Run until nothing is pending or running (and, with ``ask``, Optuna has nothing left)."""
        self.fill(ask)
        while self.running:
            done, _ = wait(list(self.running), timeout=0.25, return_when=FIRST_COMPLETED)
            self.stop_point()
            for future in done:
                config, task = self.running.pop(future)
                try:
                    record = future.result()
                except Exception as exc:  # a worker process died, or Ray lost the task
                    record = {
                        "config_id": task.config_id,
                        "seed": task.seed,
                        "status": "failed",
                        "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
                    }
                    write_json(
                        self.out / task.folder / TRIAL_FILE,
                        {**record, "stage": task.stage, "params": task.params},
                    )
                self.on_record(config, record)
            self.fill(ask)
            self.show()

    def on_record(self, config: ConfigRun, record: dict[str, Any]) -> None:
        status = record.get("status")
        if status == "interrupted":
            self.interrupted = True
            return
        config.records[record["seed"]] = record
        if status == "failed":
            self.counts["failed"] += 1
            self.close(config, "failed", error=record.get("error", "unknown error"))
            return
        self.counts["done"] += 1
        if config.state != "running":
            return
        scores = config.scores()
        if config.trial is not None and self.spec.pruning:
            config.trial.report(sum(scores) / len(scores), step=len(scores))
            if len(scores) < len(config.seeds) and config.trial.should_prune():
                self.close(config, "pruned")
                return
        if len(scores) == len(config.seeds):
            self.close(config, "complete")

    def close(self, config: ConfigRun, state: str, error: str | None = None) -> None:
        from optuna.trial import TrialState

        if config.state != "running":
            return
        config.state = state
        self.skipped += sum(1 for item in self.pending if item[0] is config)
        self.pending = deque(item for item in self.pending if item[0] is not config)
        scores = config.scores()
        if state == "pruned":
            self.counts["pruned"] += 1
        if state == "complete":
            self.note_best(config)
        if config.trial is None:
            return
        if state == "complete":
            self.study.tell(config.trial, sum(scores) / len(scores))
        elif state == "pruned":
            self.study.tell(config.trial, state=TrialState.PRUNED)
        else:
            config.trial.set_user_attr("error", error)
            self.study.tell(config.trial, state=TrialState.FAIL)

    def note_best(self, config: ConfigRun) -> None:
        """Keep the best search configuration so far, for the progress line."""
        scores = config.scores()
        if config.stage == "search" and (
            self.best is None or sum(scores) / len(scores) > self.best[0]
        ):
            self.best = (sum(scores) / len(scores), config.config_id)

    # -------------------------------------------------------------- progress
    def start_progress(self, total: int) -> None:
        self.progress, self.total = None, total
        if not self.show_progress:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
        )
        self.progress.start()
        self.task = self.progress.add_task("sweep", total=total, status="")

    def show(self) -> None:
        if self.progress is None:
            return
        c = self.counts
        best = f"best {self.best[1]} {self.best[0]:.1f}" if self.best else "best -"
        self.progress.update(
            self.task,
            completed=c["done"] + c["failed"],
            total=self.total - self.skipped,
            status=f"done {c['done']}  running {len(self.running)}  failed {c['failed']}  "
            f"pruned {c['pruned']}  {best}",
        )

    # ------------------------------------------------------------------ stages
    def run(self, new: bool) -> dict[str, Any]:
        from .report import write_report, write_trials_csv

        start = time.perf_counter()
        self.interrupted = False
        self.open_study(new)
        spec = self.spec
        self.start_progress((spec.n_configs() + 1) * len(spec.seeds) + 2 * len(spec.confirm_seeds))
        # The first Ctrl-C is noted and acted on at the next stop_point; a second one stops at once.
        with StopOnSignal() as self.ctrl_c:
            try:
                self.run_stages()
            except KeyboardInterrupt:
                self.interrupted = True
                self.backend.close(cancel=True)
            finally:
                if self.progress is not None:
                    self.show()
                    self.progress.stop()
        write_trials_csv(self.out, self.configs, spec)
        if self.interrupted:
            raise SweepInterrupted(
                f"interrupted: {self.counts['done']} finished trials are kept in {self.out}; "
                f"continue with: reinforcelab sweep --resume {self.out}"
            )
        return write_report(
            self.out,
            spec,
            self.configs,
            self.best_id,
            wall_seconds=time.perf_counter() - start,
            backend=self.backend.name,
        )

    def run_stages(self) -> None:
        spec = self.spec
        self.add_config(ConfigRun(BASE_ID, {}, "search", spec.seeds))
        self.drain(ask=True)
        best = self.best_search_config()
        self.best_id = best.config_id if best is not None else None
        if best is not None:
            if best.config_id != BASE_ID:  # else the preset's own confirmation is the best's
                self.add_config(
                    ConfigRun(CONFIRM_BEST_ID, best.params, "confirm", spec.confirm_seeds)
                )
            self.add_config(ConfigRun(CONFIRM_BASE_ID, {}, "confirm", spec.confirm_seeds))
            self.drain(ask=False)

    def best_search_config(self) -> ConfigRun | None:
        """The complete search configuration (base preset included) with the highest mean score;
        on a tie the preset (nothing to gain), then the earliest config id."""
        complete = sorted(
            (c for c in self.configs if c.stage == "search" and c.state == "complete"),
            key=lambda c: c.config_id,
        )
        return max(
            complete,
            key=lambda c: (sum(c.scores()) / len(c.scores()), c.config_id == BASE_ID),
            default=None,
        )


# ------------------------------------------------------------------ Optuna encoding
def encode(p: Parameter, value: Any) -> Any:
    """Optuna's categorical choices must be None, bool, int, float or str: lists go as JSON."""
    return (
        value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)
    )


def decode(p: Parameter, value: Any) -> Any:
    if p.is_range:
        return value
    return {json.dumps(encode(p, v)): v for v in p.values}[json.dumps(value)]


def suggest(trial: Any, p: Parameter) -> Any:
    if not p.is_range:
        return trial.suggest_categorical(p.name, [encode(p, v) for v in p.values])
    if p.integer:
        return trial.suggest_int(p.name, p.low, p.high, log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, log=p.log)


# ------------------------------------------------------------------------ entry points
def run_sweep(
    spec: SweepSpec,
    out: Path,
    ray_address: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    tensorboard_dir: Path | None = None,
) -> dict[str, Any]:
    """Run a new sweep into the folder ``out`` (which must not exist or be empty); returns the summary."""
    from .backends import make_backend

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise SweepSpecError(
            f"{out} already exists; choose another --out, or continue it with --resume {out}"
        )
    backend = make_backend(ray_address, workers)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / SPEC_FILE, spec.to_dict())
    try:
        return SweepRunner(spec, out, backend, progress, tensorboard_dir).run(new=True)
    finally:
        backend.close()


def resume_sweep(
    out: Path,
    ray_address: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    tensorboard_dir: Path | None = None,
) -> dict[str, Any]:
    """Continue the sweep in ``out`` after a Ctrl-C or a crash (or rewrite the report of a finished one)."""
    from .backends import make_backend

    out = Path(out)
    try:
        spec = spec_from_dict(json.loads((out / SPEC_FILE).read_text()))
    except OSError as exc:
        raise SweepSpecError(f"{out} is not a sweep folder (no {SPEC_FILE})") from exc
    backend = make_backend(ray_address, workers)
    try:
        return SweepRunner(spec, out, backend, progress, tensorboard_dir).run(new=False)
    finally:
        backend.close()
