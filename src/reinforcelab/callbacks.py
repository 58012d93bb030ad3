"""Callbacks keep logging, progress display, checkpoints and early stopping out of the training
loop.

Each hook receives the loop (what a callback may read of it is :class:`Trainer`); ``on_update``
also gets the episodes that finished in that update. A callback watches; the only thing it may
ask of the loop is ``stop(reason)``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, overload

import numpy as np

from .artifacts.files import WriteError, write_all, write_error

if TYPE_CHECKING:
    from .config import TrainConfig
    from .policies.factory import AgentParts


@dataclass
class EpisodeRecord:
    """One finished training episode, as written to metrics.csv."""

    episode: int
    ret: float
    length: int
    env_steps: int
    wall_seconds: float


class EpisodeRecords(Sequence[EpisodeRecord]):
    """The episodes one update finished, in the order they started, kept as arrays (a fast-mode
    update can finish tens of thousands); indexing or iterating gives :class:`EpisodeRecord` rows.

    ``returns`` and ``lengths`` [n]; ``env_steps`` [n]: the run's env steps after each episode.
    """

    def __init__(
        self,
        first_episode: int,
        returns: np.ndarray,
        lengths: np.ndarray,
        env_steps: np.ndarray,
        wall_seconds: float,
    ) -> None:
        self.first_episode = first_episode
        self.returns, self.lengths, self.env_steps = returns, lengths, env_steps
        self.wall_seconds = wall_seconds

    def __len__(self) -> int:
        return len(self.returns)

    @overload
    def __getitem__(self, i: int) -> EpisodeRecord: ...

    @overload
    def __getitem__(self, i: slice) -> list[EpisodeRecord]: ...

    def __getitem__(self, i: int | slice) -> EpisodeRecord | list[EpisodeRecord]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return EpisodeRecord(
            self.first_episode + i,
            float(self.returns[i]),
            int(self.lengths[i]),
            int(self.env_steps[i]),
            self.wall_seconds,
        )


class Trainer(Protocol):
    """What a callback sees of a training loop (``loops.TrainingLoop``)."""

    config: TrainConfig
    parts: AgentParts
    episodes: int
    env_steps: int
    updates: int
    wall_seconds: float
    recent_returns: deque[float]
    update_stats: dict[str, float]
    seed_entropy: int
    diverged: bool

    @property
    def average_return(self) -> float: ...

    def progress(self) -> tuple[int, int]: ...

    def course_line(self) -> str | None: ...

    def stop(self, reason: str) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...


class Callback:
    def on_training_start(self, trainer: Trainer) -> None:
        pass

    def on_update(self, trainer: Trainer, records: EpisodeRecords) -> None:
        pass

    def on_training_end(self, trainer: Trainer) -> None:
        pass


class MetricsCSV(Callback):
    """Appends one row per finished training episode to ``metrics.csv``.

    Each update's rows go to the file in one ``write`` call, so a killed process leaves whole rows
    only. A write that fails (disk full, I/O error) is undone, training stops after this update,
    and ``error`` holds a ``WriteError`` naming the file and the reason.
    """

    HEADER: ClassVar[list[str]] = ["episode", "return", "length", "env_steps", "wall_seconds"]

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self.error: OSError | None = None

    def on_training_start(self, trainer: Trainer) -> None:
        try:
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise write_error(self.path, exc) from exc
        if os.fstat(self.fd).st_size == 0:
            self.append(trainer, [self.HEADER])

    def on_update(self, trainer: Trainer, records: EpisodeRecords) -> None:
        wall = f"{records.wall_seconds:.4f}"
        episodes = range(records.first_episode, records.first_episode + len(records))
        rows = [
            [e, f"{ret:.6g}", length, steps, wall]
            for e, ret, length, steps in zip(
                episodes,
                records.returns.tolist(),
                records.lengths.tolist(),
                records.env_steps.tolist(),
            )
        ]
        self.append(trainer, rows)

    def append(self, trainer: Trainer, rows: list[list[Any]]) -> None:
        if self.fd is None or self.error is not None or not rows:
            return
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        size = os.fstat(self.fd).st_size
        try:
            write_all(self.fd, text.getvalue().encode())
        except OSError as exc:
            with contextlib.suppress(OSError):  # no half row left behind, if the disk allows
                os.ftruncate(self.fd, size)
            self.error = write_error(self.path, exc)
            trainer.stop(f"cannot write {self.path.name}")

    def on_training_end(self, trainer: Trainer) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class StopOnTrainingAverage(Callback):
    """Stops once the mean return of the last 100 training episodes reaches ``reward``."""

    def __init__(self, reward: float, window: int = 100) -> None:
        self.reward = reward
        self.window = window

    def on_update(self, trainer: Trainer, records: EpisodeRecords) -> None:
        if len(trainer.recent_returns) >= self.window and trainer.average_return >= self.reward:
            trainer.stop(
                f"100-episode training average {trainer.average_return:.1f} >= {self.reward:g}"
            )


class ProgressBar(Callback):
    """A rich progress bar in the loop's unit (episodes or env steps) with the episode count and the
    100-episode average score, and the course's own line whenever the loop has one to print."""

    def __init__(self, console: Any = None) -> None:
        self.console = console
        self.progress: Any = None
        self.task: Any = None

    def on_training_start(self, trainer: Trainer) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        cfg = trainer.config
        done, total = trainer.progress()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("episode {task.fields[episode]}  avg100 {task.fields[avg]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            f"{cfg.env_id} {cfg.mode.name}",
            total=total,
            completed=done,
            episode=trainer.episodes,
            avg="-",
        )

    def on_update(self, trainer: Trainer, records: EpisodeRecords) -> None:
        avg = f"{trainer.average_return:.1f}" if trainer.recent_returns else "-"
        done, _ = trainer.progress()
        self.progress.update(self.task, completed=done, episode=trainer.episodes, avg=avg)
        line = trainer.course_line()
        if line is not None:
            self.progress.console.print(line)

    def on_training_end(self, trainer: Trainer) -> None:
        self.progress.stop()


class StopOnEvaluation(Callback):
    """Early stopping by evaluation: after an update, play ``n_episodes`` sampled-action episodes on
    a separate vector env and stop once their mean reaches ``reward``.

    The evaluation is skipped while the update's own training episodes (sampled from the policy
    just before the update) average below ``reward`` less ``1 - precheck`` of its size (180 for a
    reward of 200, -220 for -200): it cannot pass then, and skipping it keeps evaluation from
    dominating the wall time of a short run. Every evaluation is kept in
    ``history`` as (updates, env_steps, wall_seconds, mean_return).
    """

    def __init__(
        self, reward: float, n_episodes: int = 100, seed: int | None = None, precheck: float = 0.9
    ) -> None:
        from .playback import check_results_fit

        check_results_fit(n_episodes)  # before training starts
        self.reward = reward
        self.n_episodes = n_episodes
        self.seed = seed
        self.precheck = precheck
        self.history: list[tuple[int, int, float, float]] = []
        self.eval_seconds = 0.0
        self.solved_at: tuple[int, int, float, float] | None = None

    def on_training_start(self, trainer: Trainer) -> None:
        import numpy as np

        from .playback import evaluation_envs

        self.envs = evaluation_envs(trainer.config, self.n_episodes)
        # Its own stream, so evaluating does not change what training samples.
        self.rng = np.random.default_rng(None if self.seed is None else [self.seed, 1])

    def on_update(self, trainer: Trainer, records: EpisodeRecords) -> None:
        import time

        from .playback import evaluate_policy
        from .seeding import EARLY_STOP_RESETS, episode_seeds

        gate = self.reward - (1.0 - self.precheck) * abs(self.reward)
        if len(records) and float(np.mean(records.returns)) < gate:
            return
        start = time.perf_counter()
        actor = trainer.parts.actor()
        # Fresh episodes at every evaluation, drawn from the run's seed and the update number.
        reset_seeds = episode_seeds(
            trainer.seed_entropy, self.n_episodes, EARLY_STOP_RESETS, trainer.updates
        )
        result = evaluate_policy(
            lambda obs: actor.act_batch(obs, self.rng),
            self.envs,
            trainer.config.env_id,
            trainer.config.max_t,
            seed=self.seed,
            reset_seeds=reset_seeds,
            n_episodes=self.n_episodes,
        )
        self.eval_seconds += time.perf_counter() - start
        mean = result.mean_reward
        entry = (trainer.updates, trainer.env_steps, trainer.wall_seconds, mean)
        self.history.append(entry)
        if mean >= self.reward:
            self.solved_at = entry
            trainer.stop(f"{self.n_episodes}-episode evaluation mean {mean:.1f} >= {self.reward:g}")

    def on_training_end(self, trainer: Trainer) -> None:
        self.envs.close()


class Checkpoint(Callback):
    """Saves the model (safetensors, loadable at any time) and the resume state every ``every``
    updates and when training ends, Ctrl-C included.

    Put it after MetricsCSV, and pass that as ``metrics``, so the saved state never runs ahead of
    metrics.csv: once metrics.csv could not be written, nothing more is saved. A save that fails
    (disk full, I/O error) keeps the previous checkpoint (each file is replaced atomically, and
    the weights go back to the previous ones if the resume state cannot follow them), stops
    training after this update, and ``error`` holds a ``WriteError`` naming the file.
    ``saved_updates`` is the update of the last checkpoint written.
    """

    def __init__(
        self,
        folder: str | Path,
        every: int,
        run_options: dict[str, Any] | None = None,
        metrics: MetricsCSV | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.every = every
        self.run_options = run_options or {}
        self.metrics = metrics
        self.error: OSError | None = None
        self.saved_updates: int | None = None
        self.saved_weights: dict[str, Any] | None = None

    def on_training_start(self, trainer: Trainer) -> None:
        # The folder's checkpoint is the state training starts from.
        self.saved_weights = {k: v.copy() for k, v in trainer.parts.weights().items()}

    def on_update(self, trainer: Trainer, records: EpisodeRecords) -> None:
        if self.every and trainer.updates % self.every == 0:
            self.save(trainer)

    def on_training_end(self, trainer: Trainer) -> None:
        if not trainer.diverged:  # keep the last finite checkpoint
            self.save(trainer)

    def save(self, trainer: Trainer) -> None:
        from .artifacts.checkpoint import save_config, save_resume_state, save_weights
        from .artifacts.files import CONFIG_FILE

        if self.error is not None or (self.metrics is not None and self.metrics.error is not None):
            return
        parts = trainer.parts
        weights = {k: v.copy() for k, v in parts.weights().items()}
        try:
            # config.json once: checkpoints never rewrite how the run was configured
            if not (self.folder / CONFIG_FILE).exists():
                save_config(self.folder, parts.model_config(trainer.config))
            save_weights(self.folder, weights)
            try:
                save_resume_state(
                    self.folder, {**trainer.state_dict(), "run_options": self.run_options}
                )
            except OSError:
                if self.saved_weights is not None:  # the previous checkpoint, whole
                    with contextlib.suppress(OSError):
                        save_weights(self.folder, self.saved_weights)
                raise
        except OSError as exc:  # a WriteError names the file; any other, the folder
            self.error = exc if isinstance(exc, WriteError) else write_error(self.folder, exc)
            trainer.stop("cannot write a checkpoint")
            return
        self.saved_updates, self.saved_weights = trainer.updates, weights
