"""The sweep loop: Optuna proposes configurations, every configuration trains once per seed on the
backend's workers, the results go back to Optuna; then the best configuration and the base preset
are trained again on fresh seeds (the confirmation), and the report is written.

The sweep folder::

    spec.json                 the sweep as run (``--resume`` reads it back)
    optuna.journal            Optuna's storage (configurations proposed, their values and states)
    runs/<config>/seed-<s>/   one normal run folder per trial, plus trial.json once it finished
    trials.csv  summary.json  report.png

The pieces, each with one job: ``SweepStudy`` (study.py) proposes configurations and hears how
they ended; ``Scheduler`` (scheduler.py) runs trials on the backend's workers; ``SweepLedger``
(ledger.py) keeps every configuration's records, from the run folders on resume;
``ProgressView`` (progress.py) shows the ledger live; ``report.py`` writes it out. This module
runs the stages and decides, record by record, when a configuration is complete, pruned or
failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..artifacts.checkpoint import write_json
from ..loops import StopOnSignal
from ..run import RunLock
from .backends import RAY_CONNECT_TIMEOUT, Backend
from .ledger import SweepLedger
from .progress import ProgressView
from .results import BASE_ID, CONFIRM_BASE_ID, CONFIRM_BEST_ID, ConfigRun, State, run_folder
from .scheduler import Scheduler
from .spec import SweepSpec, SweepSpecError, spec_from_dict
from .study import SweepStudy
from .trial import TrialRecord, TrialTask

SPEC_FILE = "spec.json"


class SweepInterrupted(Exception):
    """Ctrl-C: finished trials are kept; ``sweep --resume`` continues."""


class SweepRunner:
    def __init__(
        self,
        spec: SweepSpec,
        out: Path,
        backend: Backend,
        new: bool,
        progress: bool = True,
        tensorboard_dir: Path | None = None,
    ) -> None:
        """A sweep into the folder ``out``: ``new``, or resumed from what an earlier run left."""
        self.spec = spec
        self.out = Path(out)
        self.backend = backend
        self.tensorboard_dir = tensorboard_dir
        self.study = SweepStudy(spec, self.out, new)
        self.ledger = SweepLedger(self.out)
        self.scheduler = Scheduler(backend, self.out, self.stop_point)
        self.view = ProgressView(progress)
        # The first Ctrl-C is noted and acted on at the next stop_point; a second one stops at once.
        self.ctrl_c = StopOnSignal()
        self.interrupted = False  # Ctrl-C, or a trial that reports it was interrupted
        self.confirming = False  # the search is over: every trial still to come is queued
        self.best_id: str | None = None  # the search configuration confirmed on fresh seeds

    # ------------------------------------------------------------------ stages
    def run(self) -> dict[str, Any]:
        """Run the stages, write trials.csv and the report; return the summary."""
        from .report import write_report, write_trials_csv

        start = time.perf_counter()
        self.view.start()
        with self.ctrl_c:
            try:
                self.show()
                self.run_stages()
            except KeyboardInterrupt:
                self.interrupted = True
                self.backend.close(cancel=True)
            finally:
                self.show()
                self.view.stop()
        write_trials_csv(self.out, self.ledger.configs, self.spec)
        if self.interrupted:
            raise SweepInterrupted(
                f"interrupted: {self.ledger.trials('ok')} finished trials are kept in {self.out}; "
                f"continue with: reinforcelab sweep --resume {self.out}"
            )
        return write_report(
            self.out,
            self.spec,
            self.ledger.configs,
            self.best_id,
            wall_seconds=time.perf_counter() - start,
            backend=self.backend.name,
        )

    def run_stages(self) -> None:
        spec = self.spec
        for config in self.study.finished_configs():  # none unless resumed
            self.add(config)
        self.add(ConfigRun(BASE_ID, {}, "search", spec.seeds))
        self.drain(refill=self.propose)
        best = self.ledger.best()
        self.best_id = best.config_id if best is not None else None
        self.confirming = True
        if best is not None:
            if best.config_id != BASE_ID:  # else the preset's own confirmation is the best's
                self.add(ConfigRun(CONFIRM_BEST_ID, best.params, "confirm", spec.confirm_seeds))
            self.add(ConfigRun(CONFIRM_BASE_ID, {}, "confirm", spec.confirm_seeds))
            self.drain()

    def drain(self, refill: Callable[[], bool] | None = None) -> None:
        """Run until nothing is queued or running (and ``refill`` has nothing more to add)."""
        self.scheduler.fill(refill)
        while self.scheduler.busy():
            for config, record in self.scheduler.finished():
                self.on_record(config, record)
            self.scheduler.fill(refill)
            self.show()

    def stop_point(self) -> None:
        """Where a Ctrl-C takes effect: between Optuna writes, never inside one (an interrupted
        journal write leaves a stale lock behind)."""
        if self.ctrl_c.requested or self.interrupted:
            raise KeyboardInterrupt

    # ------------------------------------------------------------ configurations
    def propose(self) -> bool:
        """Queue the next search configuration Optuna proposes; False when there is none."""
        config = self.study.ask()
        if config is None:
            return False
        self.add(config)
        return True

    def add(self, config: ConfigRun) -> None:
        """Take a configuration in: seeds an earlier run of the sweep finished count at once, the
        others are queued (unless those records already closed it)."""
        self.ledger.add(config)
        for seed in config.seeds:
            record = self.ledger.finished_record(config, seed)
            if record is not None:
                self.on_record(config, record)
            elif config.state == "running":
                self.scheduler.queue(config, self.task_for(config, seed))

    def task_for(self, config: ConfigRun, seed: int) -> TrialTask:
        spec = self.spec
        return TrialTask(
            stage=config.stage,
            config_id=config.config_id,
            seed=seed,
            params=config.params,
            config=spec.config_for(config.params, seed).to_dict(),
            folder=run_folder(config.config_id, seed),
            eval_episodes=spec.eval_episodes,
            eval_seed=spec.eval_seed(seed),
            objective=spec.objective,
            seconds=spec.budget.get("seconds"),
            stop_reward=spec.budget.get("stop_reward"),
            tensorboard_dir=str(self.tensorboard_dir) if self.tensorboard_dir else None,
        )

    def on_record(self, config: ConfigRun, record: TrialRecord) -> None:
        """A trial finished: keep its record; then close its configuration if this failed it,
        pruned it, or completed it."""
        if record.get("status") == "interrupted":
            self.interrupted = True
            return
        self.ledger.record(config, record)
        if config.state != "running":
            return
        if record.get("status") == "failed":
            self.close(config, "failed", error=record.get("error", "unknown error"))
        elif self.study.should_prune(config):
            self.close(config, "pruned")
        elif len(config.ok_seeds()) == len(config.seeds):
            self.close(config, "complete")

    def close(self, config: ConfigRun, state: State, error: str | None = None) -> None:
        """Its queued seeds will not run (the scheduler skips them); Optuna hears the result."""
        config.state = state
        self.study.tell(config, error)

    # -------------------------------------------------------------- progress
    def planned_trials(self) -> int:
        """Trials finished, running or queued; during the search, plus those still to come: the
        seeds of configurations not proposed yet, and the confirmation (one set of seeds when
        the preset leads, two otherwise). Exact once the confirmation is queued."""
        planned = self.ledger.trials() + self.scheduler.queued()
        if not self.confirming:
            spec = self.spec
            unproposed = max(0, spec.n_configs() + 1 - self.ledger.searched())  # + 1: the preset
            best = self.ledger.best()
            confirmations = 1 if best is not None and best.config_id == BASE_ID else 2
            planned += unproposed * len(spec.seeds) + confirmations * len(spec.confirm_seeds)
        return planned

    def show(self) -> None:
        self.view.show(self.ledger, len(self.scheduler.running), self.planned_trials())


# ------------------------------------------------------------------------ entry points
def run_sweep(
    spec: SweepSpec,
    out: Path,
    ray_address: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    tensorboard_dir: Path | None = None,
    ray_timeout: float = RAY_CONNECT_TIMEOUT,
) -> dict[str, Any]:
    """Run a new sweep into the folder ``out`` (which must not exist or be empty); returns the
    summary. ``ray_timeout``: seconds the Ray cluster at ``ray_address`` has to answer."""
    from .backends import make_backend  # looked up per call: tests swap it

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise SweepSpecError(
            f"{out} already exists; choose another --out, or continue it with --resume {out}"
        )
    backend = make_backend(ray_address, workers, ray_timeout)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with RunLock(out).acquire():  # one sweep at a time in a folder
            write_json(out / SPEC_FILE, spec.to_dict())
            return SweepRunner(spec, out, backend, True, progress, tensorboard_dir).run()
    finally:
        backend.close()


def resume_sweep(
    out: Path,
    ray_address: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    tensorboard_dir: Path | None = None,
    ray_timeout: float = RAY_CONNECT_TIMEOUT,
) -> dict[str, Any]:
    """Continue the sweep in ``out`` after a Ctrl-C or a crash (or rewrite the report of a
    finished one)."""
    from .backends import make_backend  # looked up per call: tests swap it

    out = Path(out)
    try:
        spec = spec_from_dict(json.loads((out / SPEC_FILE).read_text()))
    except OSError as exc:
        raise SweepSpecError(f"{out} is not a sweep folder (no {SPEC_FILE})") from exc
    backend = make_backend(ray_address, workers, ray_timeout)
    try:
        with RunLock(out).acquire():  # one sweep at a time in a folder
            return SweepRunner(spec, out, backend, False, progress, tensorboard_dir).run()
    finally:
        backend.close()
