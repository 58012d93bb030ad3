"""TensorBoard scalars while training (``reinforcelab train --tensorboard DIR``), for watching a run
or a sweep with ``tensorboard --logdir DIR``. Needs ``reinforcelab[tensorboard]`` (tensorboardX,
which writes the event files without TensorFlow); it is imported only when this callback starts.

Scalars, all against env steps:
    rollout/episode_return      every finished training episode
    rollout/episode_length      every finished training episode
    rollout/mean_return_100     mean of the last 100 training episodes, after every update
    time/env_steps_per_second   training env steps per wall-clock second since the previous update
    train/<name>                the update's ``update_stats``: policy_loss, entropy, grad_norm (the
                                policy's, before clipping), value_loss with a value baseline, and
                                in fast mode lr (the policy's learning rate, see ``lr_schedule``)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .callbacks import Callback
from .checks import WRITABLE_FOLDER
from .errors import UserError

if TYPE_CHECKING:
    from .callbacks import EpisodeRecords, Trainer


class TensorBoardUnavailable(UserError, ImportError):
    """tensorboardX is not installed (a user error: one line, exit code 2 on the command line)."""


def check_tensorboard() -> None:
    """Fail before training starts, without importing tensorboardX (it pulls in torch)."""
    import importlib.util

    if importlib.util.find_spec("tensorboardX") is None:
        raise TensorBoardUnavailable(
            "--tensorboard needs tensorboardX: install reinforcelab[tensorboard]"
        )


class TensorBoardScalars(Callback):
    def __init__(self, logdir: str | Path) -> None:
        check_tensorboard()
        self.logdir = WRITABLE_FOLDER.check("logdir", logdir)
        self.writer = None

    def on_training_start(self, trainer: Trainer) -> None:
        from tensorboardX import SummaryWriter

        self.writer = SummaryWriter(logdir=str(self.logdir))
        self.last = (trainer.env_steps, trainer.wall_seconds)

    def on_update(self, trainer: Trainer, records: EpisodeRecords) -> None:
        w = self.writer
        for r in records:
            w.add_scalar("rollout/episode_return", r.ret, r.env_steps)
            w.add_scalar("rollout/episode_length", r.length, r.env_steps)
        step = trainer.env_steps
        if trainer.recent_returns:
            w.add_scalar("rollout/mean_return_100", trainer.average_return, step)
        steps, seconds = trainer.env_steps - self.last[0], trainer.wall_seconds - self.last[1]
        if steps and seconds > 0:
            w.add_scalar("time/env_steps_per_second", steps / seconds, step)
        self.last = (trainer.env_steps, trainer.wall_seconds)
        for name, value in (getattr(trainer, "update_stats", None) or {}).items():
            w.add_scalar(f"train/{name}", float(value), step)

    def on_training_end(self, trainer: Trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
