"""Where trials run: worker processes on this machine (embedded), or tasks on a Ray cluster.

Both take a ``TrialTask`` and give a ``concurrent.futures.Future`` of its record, with the run
folder inside the sweep folder once the future is done, so the driver cannot tell them apart.

While a backend is open, SIGTERM does what Ctrl-C does (the sweep stops, keeps its finished
trials and exits with 130), so a sweep stopped by a job scheduler or ``kill`` can be resumed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

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


class SigtermAsCtrlC:
    """From ``install`` to ``restore``, SIGTERM does what Ctrl-C would do at that moment (whatever
    SIGINT handler is in force: the sweep's "stop at the next safe point", or Python's
    KeyboardInterrupt), after ``also`` has passed the stop on (to worker processes, which a
    terminal's Ctrl-C reaches but a ``kill`` of this process does not). Signals can only be
    handled in the main thread: elsewhere this does nothing."""

    def __init__(self, also: Callable[[], None] = lambda: None) -> None:
        self.also = also
        self.previous: Any = None

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, self.handle)
            if self.previous is None:  # installed again: restore() still brings back the first
                self.previous = previous

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.also()
        on_ctrl_c = signal.getsignal(signal.SIGINT)
        if not callable(on_ctrl_c):  # SIGINT ignored (a background job) or left to the OS
            raise KeyboardInterrupt
        on_ctrl_c(signal.SIGINT, frame)

    def restore(self) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
            self.previous = None


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
        self.started: list[Worker] = []  # every worker process, for interrupt_workers
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        self.sigterm = SigtermAsCtrlC(also=self.interrupt_workers)
        self.sigterm.install()

    def submit(self, task: TrialTask, sweep_dir: Path) -> Future[TrialRecord]:
        with self.lock:
            if not self.idle:
                self.started.append(Worker(self.context))
                self.idle.append(self.started[-1])
            worker = self.idle.pop()
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
            with self.lock:
                self.started.remove(worker)
            future.set_exception(exc)
            return
        with self.lock:  # idle again before the driver hears of it and hands out the next trial
            self.idle.append(worker)
        future.set_result(record)

    def interrupt_workers(self) -> None:
        """Send the workers the SIGINT a terminal's Ctrl-C sends them: a training worker stops
        after its current update and reports "interrupted"; an idle one ignores it."""
        # No lock: this runs in a signal handler, maybe while the main thread holds it.
        for process in [worker.process for worker in list(self.started)]:
            if process.pid is not None and process.is_alive():
                with contextlib.suppress(OSError):  # gone meanwhile
                    os.kill(process.pid, signal.SIGINT)

    def close(self, cancel: bool = False) -> None:
        """Wait for the running trials (after a Ctrl-C they stop at their next update), then stop
        the workers."""
        try:
            for thread in self.threads:
                thread.join()
            self.threads.clear()
            with self.lock:
                idle, self.idle = self.idle, []
                self.started.clear()
            for worker in idle:
                worker.stop()
        finally:
            self.sigterm.restore()


#: Seconds a Ray cluster has to answer before the sweep gives up (``sweep --ray-timeout``).
RAY_CONNECT_TIMEOUT = 30.0


class RayBackend:
    """Each trial is a Ray task (one CPU) on the cluster at ``address`` (``auto``: the one this
    machine belongs to). The cluster's Python must have reinforcelab installed. A cluster that
    does not answer within ``timeout`` seconds is given up on with one line."""

    name = "ray"

    def __init__(self, address: str, timeout: float = RAY_CONNECT_TIMEOUT) -> None:
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # no usage report leaves the machine
        try:
            import ray
        except ImportError as exc:
            raise SweepBackendError("--ray-address needs Ray: install reinforcelab[ray]") from exc
        self.ray = ray
        self.sigterm = SigtermAsCtrlC()  # Ray's own handler would exit with 15, keeping nothing
        self.sigterm.install()
        try:
            check_listening(address, timeout)
            connect_ray(ray, address, timeout)
        except BaseException:
            self.sigterm.restore()
            raise
        self.sigterm.install()  # again: ray.init put in its own
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
        try:
            self.ray.shutdown()
        finally:
            self.sigterm.restore()


def check_listening(address: str, timeout: float) -> None:
    """Fail at once, in one line, when nothing accepts connections at a HOST:PORT address (Ray
    would retry it for many minutes). Other addresses (``auto``, ``local``) are Ray's to
    resolve."""
    match = re.fullmatch(r"(?:[a-z]+://)?\[?([^\[\]]+?)\]?:(\d+)", address)
    if match is None:
        return
    host, port = match[1], int(match[2])
    if not 0 < port < 65536:
        raise SweepBackendError(f"--ray-address {address}: a port is between 1 and 65535")
    try:
        socket.create_connection((host, port), timeout=min(timeout, 5.0)).close()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SweepBackendError(
            f"cannot connect to the Ray cluster at {address}: {reason.lower()} (is a Ray head "
            "running there? start one with `ray start --head`)"
        ) from None


#: Connects to the Ray cluster at argv[1] in a process of its own; prints why it could not.
RAY_PROBE = """
import logging, sys
import ray
try:
    ray.init(address=sys.argv[1], log_to_driver=False, logging_level=logging.ERROR)
except Exception as exc:
    print(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    sys.exit(1)
"""


def connect_ray(ray: Any, address: str, timeout: float) -> None:
    """``ray.init(address)``, after a trial connection that is given up on after ``timeout``
    seconds.

    Ray retries an address that does not answer for many minutes, inside calls that hold off
    Python's signal handlers and print a warning every few seconds. So the first connection is
    tried in a child process: the deadline, Ctrl-C and SIGTERM end it at once (the child is
    killed), and its messages stay out of the terminal. Once it got through, this process
    connects the same way, which then takes a moment.
    """
    probe = subprocess.Popen(
        [sys.executable, "-c", RAY_PROBE, address],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        reason, _ = probe.communicate(timeout=min(timeout, threading.TIMEOUT_MAX))
    except subprocess.TimeoutExpired:
        raise SweepBackendError(
            f"no Ray cluster answered at {address} within {timeout:g} s (is it a Ray head's "
            "address? a slow cluster needs a longer --ray-timeout)"
        ) from None
    finally:
        if probe.poll() is None:  # given up on, or Ctrl-C
            probe.kill()
            probe.wait()
    if probe.returncode != 0:
        reason = reason.strip() or f"the connection attempt failed (exit code {probe.returncode})"
        raise SweepBackendError(f"cannot connect to the Ray cluster at {address}: {reason}")
    try:
        ray.init(address=address, log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise SweepBackendError(
            f"cannot connect to the Ray cluster at {address}: {exc}".splitlines()[0]
        ) from exc


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


def make_backend(
    ray_address: str | None, workers: int | None, ray_timeout: float = RAY_CONNECT_TIMEOUT
) -> Backend:
    return RayBackend(ray_address, ray_timeout) if ray_address else EmbeddedBackend(workers)
