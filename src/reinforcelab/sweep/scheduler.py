"""Hands queued trials to the backend's workers, at most one per worker and in the order queued,
and collects their records as they finish. The backend (``backends.py``) decides where a trial
runs: a worker process on this machine or a Ray task.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from .backends import Backend
from .results import ConfigRun
from .trial import TrialRecord, TrialTask, record_lost_trial

POLL_SECONDS = 0.25  # how often the driver looks at Ctrl-C and refreshes progress while waiting


class Scheduler:
    def __init__(self, backend: Backend, sweep_dir: Path, stop_point: Callable[[], None]) -> None:
        """``stop_point`` raises KeyboardInterrupt when the sweep must stop; it is called before
        each submission and after each wait."""
        self.backend = backend
        self.sweep_dir = Path(sweep_dir)
        self.stop_point = stop_point
        self.pending: deque[tuple[ConfigRun, TrialTask]] = deque()
        self.running: dict[Future[TrialRecord], tuple[ConfigRun, TrialTask]] = {}

    def queue(self, config: ConfigRun, task: TrialTask) -> None:
        self.pending.append((config, task))

    def busy(self) -> bool:
        return bool(self.running)

    def queued(self) -> int:
        """Trials that will still finish: running, or queued for a configuration still running
        (the queued seeds of a pruned or failed configuration never run)."""
        return len(self.running) + sum(1 for c, _ in self.pending if c.state == "running")

    def fill(self, refill: Callable[[], bool] | None = None) -> None:
        """Give every idle worker a trial. When the queue runs dry, ``refill`` may queue more
        (it returns False when there is nothing left to add)."""
        while len(self.running) < self.backend.workers:
            self.stop_point()
            item = self._next(refill)
            if item is None:
                return
            config, task = item
            self.running[self.backend.submit(task, self.sweep_dir)] = (config, task)

    def _next(self, refill: Callable[[], bool] | None) -> tuple[ConfigRun, TrialTask] | None:
        while True:
            while self.pending:
                config, task = self.pending.popleft()
                if config.state == "running":
                    return config, task
            if refill is None or not refill():
                return None

    def finished(self) -> list[tuple[ConfigRun, TrialRecord]]:
        """Wait up to ``POLL_SECONDS`` for running trials; the records of those that finished.
        A trial whose worker died, or that Ray lost, is recorded as failed."""
        done, _ = wait(list(self.running), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        self.stop_point()
        results = []
        for future in done:
            config, task = self.running.pop(future)
            try:
                record = future.result()
            except Exception as exc:  # a worker process died, or Ray lost the task
                record = record_lost_trial(task, self.sweep_dir, exc)
            results.append((config, record))
        return results
