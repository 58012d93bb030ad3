"""Where trials run: worker processes on this machine (embedded), or tasks on a Ray cluster.

Both take a ``TrialTask`` and give a ``concurrent.futures.Future`` of its record, with the run
folder inside the sweep folder once the future is done, so the driver cannot tell them apart.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Protocol

from ..errors import UserError
from .trial import TRIAL_FILE, TrialRecord, TrialTask, run_trial, run_trial_packed


class SweepBackendError(UserError, RuntimeError):
    """A backend that cannot start (Ray missing or unreachable)."""


class Backend(Protocol):
    """Runs trials: ``workers`` at a time; ``submit`` returns the future of the trial's record."""

    name: str
    workers: int

    def submit(self, task: TrialTask, sweep_dir: Path) -> Future[TrialRecord]: ...

    def close(self, cancel: bool = False) -> None: ...


def _ignore_ctrl_c() -> None:
    # Ctrl-C reaches the whole process group: an idle worker must not die of it (the pool would
    # break). A training worker still gets it: the training loop stops and the trial reports
    # "interrupted", so the driver keeps nothing half-trained.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class EmbeddedBackend:
    """One worker process per core; each trial is ``run_trial`` in one of them.

    Workers start with forkserver (a clean interpreter, no inherited threads or open files) and are
    reused from trial to trial, so the ~0.4 s import of reinforcelab is paid once per worker.
    """

    name = "embedded"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or usable_cores()
        self._start()

    def _start(self) -> None:
        context: BaseContext
        if "forkserver" in get_all_start_methods():
            forkserver = get_context("forkserver")
            forkserver.set_forkserver_preload(["reinforcelab.sweep.trial"])
            context = forkserver
        else:  # Windows
            context = get_context("spawn")
        self.pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_ignore_ctrl_c
        )

    def submit(self, task: TrialTask, sweep_dir: Path) -> Future[TrialRecord]:
        try:
            return self.pool.submit(run_trial, task, str(sweep_dir))
        except BrokenProcessPool:  # a worker died (killed, out of memory): start a fresh pool
            self.pool.shutdown(wait=False, cancel_futures=True)
            self._start()
            return self.pool.submit(run_trial, task, str(sweep_dir))

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


class RayBackend:
    """Each trial is a Ray task (one CPU) on the cluster at ``address`` (``auto``: the one this
    machine belongs to). The cluster's Python must have reinforcelab installed."""

    name = "ray"

    def __init__(self, address: str) -> None:
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # no usage report leaves the machine
        try:
            import ray
        except ImportError as exc:
            raise SweepBackendError("--ray-address needs Ray: install reinforcelab[ray]") from exc
        self.ray = ray
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise SweepBackendError(
                f"cannot connect to the Ray cluster at {address}: {exc}".splitlines()[0]
            ) from exc
        self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.remote = ray.remote(num_cpus=1, max_retries=0)(run_trial_packed)

    def submit(self, task: TrialTask, sweep_dir: Path) -> Future[TrialRecord]:
        outer: Future[TrialRecord] = Future()
        outer.set_running_or_notify_cancel()

        def land(inner: Future[tuple[TrialRecord, dict[str, bytes]]]) -> None:
            try:
                record, files = inner.result()
                write_run_folder(Path(sweep_dir) / task.folder, files)
                outer.set_result(record)
            except BaseException as exc:  # the task itself never raises: this is Ray failing
                outer.set_exception(exc)

        self.remote.remote(task).future().add_done_callback(land)
        return outer

    def close(self, cancel: bool = False) -> None:
        self.ray.shutdown()


def write_run_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Write a run folder shipped back from a remote trial; trial.json last, as a worker does."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in sorted(files, key=lambda n: n == TRIAL_FILE):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])


def usable_cores() -> int:
    """Cores this process may run on (a container or taskset may allow fewer than the machine
    has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def make_backend(ray_address: str | None, workers: int | None) -> Backend:
    return RayBackend(ray_address) if ray_address else EmbeddedBackend(workers)
