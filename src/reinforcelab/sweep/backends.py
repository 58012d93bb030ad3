"""Where trials run: worker processes on this machine (embedded), or tasks on a Ray cluster.

Both take a ``TrialTask`` and give a ``concurrent.futures.Future`` of its record, with the run
folder inside the sweep folder once the future is done, so the driver cannot tell them apart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import threading
from concurrent.futures import Future
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.connection import Connection, wait
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
    # Ctrl-C reaches the whole process group: an idle worker must not die of it. A training
    # worker still gets it: the training loop stops and the trial reports "interrupted", so the
    # driver keeps nothing half-trained.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class WorkerLost(RuntimeError):
    """A trial's worker process died (killed, out of memory) before it reported."""


def _serve(conn: Connection) -> None:
    """A worker process: run the trials it is sent, one at a time, until told to stop."""
    _ignore_ctrl_c()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        conn.send(run_trial(*message))


class Worker:
    """One worker process and the pipe to it."""

    def __init__(self, context: BaseContext) -> None:
        self.conn, child = context.Pipe()
        # Not a daemon: a trial may start processes of its own (async vector envs).
        self.process = context.Process(target=_serve, args=(child,))  # type: ignore[attr-defined]
        self.process.start()
        child.close()

    def run(self, task: TrialTask, sweep_dir: str) -> TrialRecord:
        """The trial's record; ``WorkerLost`` if the process dies first."""
        self.conn.send((task, sweep_dir))
        wait([self.conn, self.process.sentinel])
        if self.conn.poll():
            try:
                record: TrialRecord = self.conn.recv()
                return record
            except Exception:  # EOF, or a reply cut short by the death of its sender
                pass
        self.process.join()
        code = self.process.exitcode
        how = (
            f"was killed by {signal.Signals(-code).name}"
            if code is not None and code < 0
            else f"exited with code {code}"
        )
        raise WorkerLost(f"its worker process (pid {self.process.pid}) {how}")

    def stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.conn.close()


class EmbeddedBackend:
    """One worker process per core; each trial is ``run_trial`` in one of them.

    Workers start with forkserver (a clean interpreter, no inherited threads or open files) and are
    reused from trial to trial, so the ~0.4 s import of reinforcelab is paid once per worker. Each
    worker is on its own: one that dies (killed, out of memory) fails its trial only (a process
    pool would fail every trial running), and a fresh one takes its place.
    """

    name = "embedded"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or usable_cores()
        if "forkserver" in get_all_start_methods():
            forkserver = get_context("forkserver")
            forkserver.set_forkserver_preload(["reinforcelab.sweep.trial"])
            self.context: BaseContext = forkserver
        else:  # Windows
            self.context = get_context("spawn")
        self.idle: list[Worker] = []
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def submit(self, task: TrialTask, sweep_dir: Path) -> Future[TrialRecord]:
        with self.lock:
            worker = self.idle.pop() if self.idle else Worker(self.context)
        future: Future[TrialRecord] = Future()
        future.set_running_or_notify_cancel()
        # A thread per running trial waits for its worker and settles the future.
        thread = threading.Thread(
            target=self._run, args=(worker, task, str(sweep_dir), future), daemon=True
        )
        self.threads.append(thread)
        thread.start()
        return future

    def _run(
        self, worker: Worker, task: TrialTask, sweep_dir: str, future: Future[TrialRecord]
    ) -> None:
        try:
            record = worker.run(task, sweep_dir)
        except BaseException as exc:
            worker.stop()
            future.set_exception(exc)
            return
        with self.lock:  # idle again before the driver hears of it and hands out the next trial
            self.idle.append(worker)
        future.set_result(record)

    def close(self, cancel: bool = False) -> None:
        """Wait for the running trials (after a Ctrl-C they stop at their next update), then stop
        the workers."""
        for thread in self.threads:
            thread.join()
        self.threads.clear()
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.stop()


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
