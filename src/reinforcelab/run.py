"""A training run as a folder: config, weights, resume state, per-episode metrics and the final
evaluation.

``train_run`` is what ``reinforcelab train`` does and ``resume_run`` what ``train --resume`` does;
both are usable from Python as well.

What keeps a run folder whole:

- One writer at a time. The process that writes a run folder holds an OS lock on the folder's
  lock file (which names its pid) from the start of the run to its end; another process that
  would write the folder is refused with that pid, and changes nothing.
- A new folder appears complete. Its step-0 checkpoint is written under a hidden name beside it,
  then renamed into place: the folder either does not exist or loads and resumes.
- Every file is replaced atomically, and metrics.csv gets whole rows, so a killed process leaves
  the last checkpoint and rows that ``resume_run`` cuts back to it.
- A resumed run continues as it was configured; only its budget may grow.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agent import Reinforce
from .artifacts.checkpoint import (
    FORMAT,
    load_resume_state,
    read_config,
    read_results,
    save_config,
    write_json,
)
from .artifacts.files import (
    CURVE_FILE,
    LOCK_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    RUN_FILES,
    VIDEO_FILE,
    WriteError,
    atomic_write_bytes,
    is_partial,
    write_error,
)
from .artifacts.plots import PlotError, plot_run, read_metrics
from .callbacks import Callback, Checkpoint, MetricsCSV, ProgressBar, StopOnEvaluation
from .checks import (
    COUNT,
    DEVICE,
    FINITE,
    FLAG,
    WRITABLE_FOLDER,
    ConfigError,
    Instance,
    Items,
    Mapping,
    OrNone,
    arguments,
)
from .config import TrainConfig
from .errors import UserError
from .loops import TrainingDiverged
from .playback import EvalResult, record_replay

if sys.platform != "win32":  # Windows has no flock: run folders are not locked there
    import fcntl


class RunFolderError(UserError, ValueError):
    """An output folder that would be overwritten, or that is not a run folder."""


class RunFolderBusy(RunFolderError):
    """Another process is writing the run folder."""


class ResumeRefused(UserError, ValueError):
    """Changes a resumed run cannot honour: it continues as it was configured.

    ``changes`` maps each refused name (a config field, or ``stop_reward`` / ``stop_eval_episodes``
    / ``checkpoint_every``) to (the run's value, the value asked for).
    """

    def __init__(self, out: Path, changes: dict[str, tuple[Any, Any]]) -> None:
        self.out = out
        self.changes = changes
        super().__init__(self.render(lambda name: name))

    def render(self, name: Callable[[str], str]) -> str:
        """The message, each change called by ``name`` (the CLI names its options)."""
        listed = ", ".join(
            f"{name(k)} ({old!r} -> {new!r})" for k, (old, new) in self.changes.items()
        )
        return (
            f"{self.out} resumes as it was trained, and only its budget may grow: {listed} would "
            f"change it; drop {'it' if len(self.changes) == 1 else 'them'}, or train a new run"
        )


#: What a run folder is trained with besides its config (kept in its resume state).
RUN_OPTIONS = ("stop_reward", "stop_eval_episodes", "checkpoint_every")


# ----------------------------------------------------------------------------- the lock
class RunLock:
    """The exclusive lock of a run folder: ``flock`` on its lock file, which names the holder's
    pid. The OS drops the lock when its process ends, killed or not; ``release`` also removes the
    file (a killed holder leaves it behind, unlocked, and the next writer takes it over)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.fd: int | None = None

    @property
    def path(self) -> Path:
        return self.folder / LOCK_FILE

    def acquire(self) -> RunLock:
        """Take the lock, or raise ``RunFolderBusy`` naming the pid of the process that holds it."""
        if sys.platform == "win32":
            return self
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise write_error(self.path, exc) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if same_file(fd, self.path):
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                    self.fd = fd
                    return self
            except BlockingIOError:
                os.close(fd)
                raise RunFolderBusy(
                    f"{self.folder} is being written by another process (pid "
                    f"{holder_pid(self.path)}); a run folder has one writer at a time: wait for "
                    "it to finish, or choose another --out"
                ) from None
            except OSError as exc:
                os.close(fd)
                raise write_error(self.path, exc) from exc
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # its holder removed the file as we opened it: lock the new one

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # before unlocking, so no one locks a file that is going away
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def same_file(fd: int, path: Path) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def holder_pid(lock_file: Path) -> str:
    """The pid in a held lock file (its holder writes it right after locking: wait for it)."""
    for _ in range(50):
        with contextlib.suppress(OSError):
            text = lock_file.read_text().strip()
            if text:
                return text
        time.sleep(0.01)
    return "unknown"


# ----------------------------------------------------------------------------- new run folders
def is_run_folder(path: Path) -> bool:
    try:
        return read_config(path).get("format") == FORMAT
    except UserError:
        return False


def create_run_folder(out: Path, overwrite: bool, write: Callable[[Path], None]) -> RunLock:
    """Make ``out`` a run folder holding what ``write(folder)`` writes; return its lock, held.

    ``write`` fills a hidden folder beside ``out``, which is then renamed to ``out``: ``out``
    either does not exist or is complete. An existing non-empty ``out`` is replaced only with
    ``overwrite``, only if it is a run folder, and only once its lock is taken (so never under
    another writer); its files that are not a run's (your notes) go to the new folder.
    """
    out = Path(out)
    if out.is_symlink() or not out.name:  # a link is replaced by a folder; "." has no name
        out = out.resolve()
    for _ in range(3):
        try:
            return _create_run_folder(out, overwrite, write)
        except FileExistsError:  # another process created out as we did: decide again
            continue
    raise RunFolderBusy(f"{out} keeps being created by other processes; choose another --out")


def _create_run_folder(out: Path, overwrite: bool, write: Callable[[Path], None]) -> RunLock:
    previous = claim_previous(out, overwrite)
    try:
        remove_leftovers(out)
        staging = hidden_folder_beside(out, "new")
        lock = RunLock(staging)
        try:
            lock.acquire()
            write(staging)
            if previous is not None:
                move_user_files(out, staging)
                trash = out.with_name(f".{out.name}.old.{secrets.token_hex(4)}")
                os.rename(out, trash)
                previous.folder = trash
            try:
                os.rename(staging, out)  # atomic; refused if out exists and is not empty
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise FileExistsError(exc.errno, exc.strerror, str(out)) from exc
                raise write_error(out, exc) from exc
            lock.folder = out
        except BaseException:
            lock.release()
            shutil.rmtree(staging, ignore_errors=True)
            if previous is not None and previous.folder != out and not out.exists():
                with contextlib.suppress(OSError):  # put the replaced run back
                    os.rename(previous.folder, out)
                    previous.folder = out
            raise
    finally:
        if previous is not None:
            previous.release()
            if previous.folder != out:
                shutil.rmtree(previous.folder, ignore_errors=True)
    return lock


def claim_previous(out: Path, overwrite: bool) -> RunLock | None:
    """The lock of the run folder ``out`` that ``overwrite`` replaces; None when there is nothing
    to replace (no ``out``, or an empty folder). Refuses anything else."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None
    if not overwrite:
        raise RunFolderError(
            f"{out} already exists; pass --overwrite to replace it or choose another --out"
        )
    if not is_run_folder(out):
        raise RunFolderError(
            f"{out} exists and is not a reinforcelab run folder; refusing to overwrite it"
        )
    return RunLock(out).acquire()


def hidden_folder_beside(out: Path, role: str) -> Path:
    """A fresh ``.<name>.<role>.<random>`` folder beside ``out`` (same file system, so it renames
    into place); ``os.mkdir`` gives it the mode a plain new folder gets."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        while True:
            candidate = out.with_name(f".{out.name}.{role}.{secrets.token_hex(4)}")
            with contextlib.suppress(FileExistsError):
                candidate.mkdir()
                return candidate
    except OSError as exc:
        raise write_error(out, exc) from exc


def remove_leftovers(out: Path) -> None:
    """Remove the hidden folders a killed writer left beside ``out``: a half-built new folder, or
    a replaced one not yet deleted. Those whose lock is held belong to a live writer, and one
    without a lock file may be one being made this instant (unless it is older than a minute)."""
    if not out.parent.is_dir():
        return
    prefix = f".{out.name}."
    for path in out.parent.iterdir():
        role = path.name.removeprefix(prefix).partition(".")[0]
        if not path.name.startswith(prefix) or role not in ("new", "old") or not path.is_dir():
            continue
        try:
            if not (path / LOCK_FILE).exists() and time.time() - path.stat().st_mtime < 60:
                continue
            with RunLock(path).acquire():
                shutil.rmtree(path, ignore_errors=True)
        except (RunFolderBusy, WriteError, FileNotFoundError):
            continue


def move_user_files(old: Path, new: Path) -> None:
    """The files of a replaced run folder that are not a run's (your notes) go to the new one, as
    hard links (or copies where a link is impossible): they exist in the old folder until it is
    gone, and in the new one from the moment it appears."""
    for entry in old.iterdir():
        if entry.name in RUN_FILES or entry.name == LOCK_FILE or is_partial(entry.name):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=link_or_copy)
        else:
            link_or_copy(entry, new / entry.name)


def link_or_copy(source: str | Path, target: str | Path) -> None:
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
        return
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target)


def default_out(config: TrainConfig, root: Path = Path("runs")) -> Path:
    """runs/<env>-<mode>-s<seed>, with -2, -3, ... appended when taken."""
    seed = "none" if config.seed is None else str(config.seed)
    base = root / f"{config.env_id}-{config.mode.name}-s{seed}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


@dataclass
class RunResult:
    out: Path
    agent: Reinforce
    evaluation: EvalResult
    summary: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- train and resume
@arguments(
    config=Instance(TrainConfig, "a TrainConfig, e.g. preset(name).replace(lr=...)"),
    out=WRITABLE_FOLDER,
    overwrite=FLAG,
    stop_reward=OrNone(FINITE),
    stop_eval_episodes=OrNone(COUNT),
    progress=FLAG,
    checkpoint_every=OrNone(COUNT),
    extra_callbacks=OrNone(Items(Instance(Callback, "a reinforcelab.callbacks.Callback"))),
    device=DEVICE,
    policy=OrNone(Mapping()),
    plot=FLAG,
    record=FLAG,
)
def train_run(
    config: TrainConfig,
    out: Path,
    overwrite: bool = False,
    stop_reward: float | None = None,
    stop_eval_episodes: int | None = None,
    progress: bool = True,
    checkpoint_every: int | None = None,
    extra_callbacks: list[Callback] | None = None,
    device: str = "auto",
    policy: dict[str, Any] | None = None,
    plot: bool = False,
    record: bool = False,
) -> RunResult:
    """Train an agent into the run folder ``out`` and evaluate it with the course protocol.

    Args:
        overwrite: replace ``out`` if it is a run folder (your own files in it are kept).
        policy: your own torch policy, as the ``Reinforce`` arguments ``{"policy": module or
            class, "policy_kwargs": ..., "policy_output": ...}`` (default: the built-in one).
        stop_reward: stop early at this score: in course mode when the 100-episode training
            average reaches it; in fast mode (or with ``stop_eval_episodes``) when an evaluation of
            ``stop_eval_episodes`` sampled-action episodes on a separate env does.
        checkpoint_every: save model and resume state every this many updates (default: the
            mode's, 100 in course mode and 10 in fast mode); also at the end and on Ctrl-C.
        plot, record: also write curve.png / replay.mp4 into the folder.

    Raises:
        RunFolderBusy: another process is writing ``out`` (nothing is changed).
    """
    options = {
        "stop_reward": stop_reward,
        "stop_eval_episodes": stop_eval_episodes,
        "checkpoint_every": checkpoint_every or config.mode.checkpoint_every,
    }
    # Everything that can fail or take a while (env checks, making the envs, importing torch)
    # happens before the folder is touched.
    agent = Reinforce(config=config, device=device, **(policy or {}))
    loop = agent.training_loop()

    def write_step_0(folder: Path) -> None:  # a folder complete and resumable from step 0
        checkpoint = Checkpoint(folder, 0, options)
        checkpoint.save(loop)
        if checkpoint.error is not None:
            raise checkpoint.error
        atomic_write_bytes(folder / METRICS_FILE, (",".join(MetricsCSV.HEADER) + "\n").encode())

    with create_run_folder(out, overwrite, write_step_0) as lock:
        return _train(agent, lock.folder, options, progress, extra_callbacks, plot, record)


def resume_run(
    out: Path,
    progress: bool = True,
    device: str = "auto",
    policy: Any = None,
    plot: bool = False,
    record: bool = False,
    **changes: Any,
) -> RunResult:
    """Continue a run from its last checkpoint: an interrupted one to its budget, or any one to a
    larger budget.

    A resumed run continues as it was configured. ``changes`` may raise the budget
    (``n_episodes`` in course mode, ``total_env_steps`` in fast mode) above both the run's budget
    and what it has done; every other config field, and ``stop_reward``, ``stop_eval_episodes``
    and ``checkpoint_every``, may only be given the run's own value (``None``: not given). With
    the same budget, an interrupted-and-resumed run ends with the same weights and metrics as an
    uninterrupted one. ``policy``: the module to load a torch policy into when its class cannot be
    imported here.

    Raises:
        ResumeRefused: a change other than a larger budget (nothing is changed).
        ConfigError: a budget that is not larger, or none for a run that trained its budget.
        RunFolderBusy: another process is writing ``out``.
        CheckpointError, PlotError: a damaged file in ``out`` (named).
    """
    out = Path(out)
    read_config(out)  # a run folder (else one line saying what it is), before locking it
    with RunLock(out).acquire():
        state = load_resume_state(out)
        agent = Reinforce.load(out, device=device, policy=policy)
        loop = agent.training_loop()
        loop.load_state_dict(state)
        results = read_results(out)
        options = {"stop_reward": None, "stop_eval_episodes": None, **state["run_options"]}
        agent.config = resumed_config(out, agent.config, loop.progress(), results, options, changes)
        metrics = check_metrics(out, state["counters"], results)
        # History stays as it was until here: from now on the folder is being trained again.
        if agent.config != loop.config:  # record the larger budget
            save_config(out, agent.parts.model_config(agent.config))
        (out / RESULTS_FILE).unlink(missing_ok=True)  # it describes the end of the last session
        for path in out.iterdir():
            if is_partial(path.name):  # temporary files of a killed writer
                path.unlink(missing_ok=True)
        if metrics is not None:  # rows after the checkpoint go: training writes them again
            atomic_write_bytes(out / METRICS_FILE, metrics)
        return _train(agent, out, options, progress, None, plot, record)


def resumed_config(
    out: Path,
    config: TrainConfig,
    progress: tuple[int, int],
    results: dict[str, Any] | None,
    options: dict[str, Any],
    changes: dict[str, Any],
) -> TrainConfig:
    """The config a resumed run trains with: the run's own, with a larger budget if one is asked
    for; every other change is refused (``ResumeRefused``), as is a budget that is not larger."""
    mode = config.mode
    given = {k: v for k, v in changes.items() if v is not None}
    budget = given.pop(mode.budget_field, None)
    refused: dict[str, tuple[Any, Any]] = {}
    for name, value in given.items():
        if name in RUN_OPTIONS:
            if value != options.get(name):
                refused[name] = (options.get(name), value)
        elif config.replace(**{name: value}) != config:  # a field of the other mode raises here
            refused[name] = (config.to_dict().get(name), value)
    if refused:
        raise ResumeRefused(out, refused)
    done, total = progress
    unit = mode.progress_unit
    if budget is not None:
        if budget <= max(done, total):
            raise ConfigError(
                mode.budget_field,
                f"must be above {max(done, total):,} to continue {out}: its budget is "
                f"{total:,} {unit}, of which {done:,} are done ({budget:,} would train nothing)",
            )
        return config.replace(**{mode.budget_field: budget})
    if done >= total and results is not None:
        raise ConfigError(
            mode.budget_field,
            f"above {done:,} is needed to continue {out}: it has trained its whole budget "
            f"({total:,} {unit})",
        )
    return config


def check_metrics(
    out: Path, counters: dict[str, int], results: dict[str, Any] | None
) -> bytes | None:
    """metrics.csv of a run to resume, cut back to the checkpoint's episodes (None: nothing to
    cut). Refuses a damaged one: rows missing before the checkpoint, rows that do not match it,
    or, for a finished run (results.json), any other number of rows than its episodes."""
    path, episodes = out / METRICS_FILE, counters["episodes"]
    if not path.is_file() or path.stat().st_size == 0:
        if episodes == 0:
            return None  # MetricsCSV starts it
        raise PlotError(
            f"{path} is damaged: it is missing or empty, but the checkpoint is at episode "
            f"{episodes}"
        )
    # A killed writer's unfinished row goes; a finished run has one row per episode it trained.
    trained = None if results is None else episodes
    table = read_metrics(path, partial_tail=trained is None, trained=trained)
    rows = len(table.episodes)
    if rows < episodes:
        raise PlotError(
            f"{path} is damaged: it has {rows} episodes, but the checkpoint is at episode "
            f"{episodes}"
        )
    if episodes and table.env_steps[episodes - 1] != counters["env_steps"]:
        raise PlotError(
            f"{path} does not belong to this run's checkpoint: episode {episodes} ends at "
            f"{table.env_steps[episodes - 1]:,} env steps, the checkpoint at "
            f"{counters['env_steps']:,}"
        )
    whole = path.read_bytes()
    cut = whole[: table.line_ends[episodes]]
    return None if cut == whole else cut


def _train(
    agent: Reinforce,
    out: Path,
    options: dict[str, Any],
    progress: bool,
    extra_callbacks: list[Callback] | None,
    plot: bool,
    record: bool,
) -> RunResult:
    config, loop = agent.config, agent.training_loop()
    metrics = MetricsCSV(out / METRICS_FILE)
    checkpoint = Checkpoint(out, options["checkpoint_every"], options, metrics)
    callbacks: list[Callback] = [metrics]
    if progress:
        callbacks.append(ProgressBar())
    stop = None
    if options["stop_reward"] is not None:
        stop = loop.stop_criterion(options["stop_reward"], options["stop_eval_episodes"])
        callbacks.append(stop)
    callbacks.append(checkpoint)
    callbacks += extra_callbacks or []

    start = loop.updates
    try:
        agent.learn(callbacks)  # the Checkpoint callback saves the model when training ends
    except TrainingDiverged as exc:
        raise TrainingDiverged(f"{exc}. {out} keeps the last finite checkpoint") from exc
    error = metrics.error or checkpoint.error
    if error is not None:
        kept = checkpoint.saved_updates if checkpoint.saved_updates is not None else start
        raise WriteError(
            f"{error}; training stopped at update {loop.updates}, and {out} keeps its checkpoint "
            f"of update {kept}: `reinforcelab train --resume {out}` continues from it"
        ) from error
    trainer = loop
    evaluation = agent.evaluate(config.eval_episodes, seed=config.seed)
    summary: dict[str, Any] = {
        "stop_reason": trainer.stop_reason,
        "interrupted": trainer.interrupted,
        "train_episodes": trainer.episodes,
        "train_env_steps": trainer.env_steps,
        "train_simulated_env_steps": trainer.simulated_env_steps,
        "train_updates": trainer.updates,
        "train_wall_seconds": round(trainer.wall_seconds, 4),
        "train_average_return_100": trainer.average_return if trainer.recent_returns else None,
    }
    if isinstance(stop, StopOnEvaluation):
        summary["early_stop_eval_seconds"] = round(stop.eval_seconds, 4)
        summary["early_stop_evaluations"] = [
            {"updates": u, "env_steps": s, "wall_seconds": round(w, 4), "mean_return": m}
            for u, s, w, m in stop.history
        ]
        summary["solved"] = stop.solved_at is not None
    write_json(out / RESULTS_FILE, {**evaluation.to_dict(), "training": summary})
    if plot and trainer.episodes > 0:
        plot_run([out], out / CURVE_FILE)
    if record:
        record_replay(agent, out / VIDEO_FILE, seed=config.seed)
    return RunResult(out, agent, evaluation, summary)
