"""The training loops (course mode and fast mode) and the bookkeeping they share.

Data flows one way: env(s) -> rollout -> engine (returns, advantages, update) -> episode records
-> callbacks. Course mode updates through the torch engine (torch imported only then); fast mode
through the numpy engine on the CPU, or the torch engine for torch policies and CUDA.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .artifacts.checkpoint import CheckpointError, load_state
from .artifacts.files import RESUME_FILE
from .config import TrainConfig
from .engines import fast_engine
from .errors import UserError
from .make_env import make_env, make_vector_env
from .parts import AgentParts
from .rollout import RolloutStorage, collect_batch, collect_episode
from .seeding import TRAIN_RESETS, episode_seeds, root_entropy, vector_reset_seed


@dataclass
class EpisodeRecord:
    """One finished training episode, as written to metrics.csv."""

    episode: int
    ret: float
    length: int
    env_steps: int
    wall_seconds: float


class TrainingDiverged(UserError, RuntimeError):
    """An update left non-finite weights (NaN or inf); the run folder keeps the last finite checkpoint."""


# ------------------------------------------------------------------------- training loop
class StopOnSignal:
    """While active, the first Ctrl-C asks training to stop after the current update."""

    def __init__(self) -> None:
        self.requested = False
        self.previous = None

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second Ctrl-C: stop right now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: Any) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class Trainer:
    """Bookkeeping shared by both modes; subclasses implement ``step`` (one update)."""

    def __init__(self, config: TrainConfig, parts: AgentParts) -> None:
        self.config = config
        self.parts = parts
        self.episodes = 0
        self.env_steps = 0
        # Sub-env steps simulated, counted or not (fast mode's batches also step finished sub-envs).
        self.simulated_env_steps = 0
        self.updates = 0
        self.wall_seconds = 0.0
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.stop_reason: str | None = None
        self.interrupted = False
        self.update_stats: dict[str, float] = {}  # the last update's losses, entropy, gradient norm
        self.diverged = False
        # Env resets of update k are seeded from (root, k) alone: resuming needs no saved env.
        self.seed_entropy = root_entropy(self.config.seed)
        self.rng = np.random.default_rng(config.seed)  # samples the actions

    @property
    def average_return(self) -> float:
        """Mean return of the last (up to) 100 training episodes, as the course prints it."""
        return float(np.mean(self.recent_returns)) if self.recent_returns else float("nan")

    def budget_left(self) -> bool:
        raise NotImplementedError

    def step(self) -> list[tuple[float, int]]:
        """Collect, update; return the finished episodes as (return, length)."""
        raise NotImplementedError

    def stop(self, reason: str) -> None:
        self.stop_reason = reason

    # Resume state: everything that decides what training does next. It is pickled (optimizer
    # state, RNG state), so it is for the local run folder only, never for sharing.
    def optimizers(self) -> list[Any]:
        return self.engine.optimizers

    def state_dict(self) -> dict[str, Any]:
        return {
            "counters": {
                "episodes": self.episodes,
                "env_steps": self.env_steps,
                "updates": self.updates,
                "wall_seconds": self.wall_seconds,
                "simulated_env_steps": self.simulated_env_steps,
            },
            "recent_returns": list(self.recent_returns),
            "weights": {k: v.copy() for k, v in self.parts.weights().items()},
            "optimizers": [o.state_dict() for o in self.optimizers()],
            "rng": self.rng.bit_generator.state,
            "seed_entropy": self.seed_entropy,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "seed_entropy" not in state:
            raise CheckpointError(
                f"this {RESUME_FILE} was written by an older reinforcelab and cannot be resumed"
            )
        for name, value in state["counters"].items():
            setattr(self, name, value)
        self.recent_returns.clear()
        self.recent_returns.extend(state["recent_returns"])
        for name, part in self.parts.named().items():
            load_state(part, state["weights"], name, Path(RESUME_FILE))
        for optimizer, saved in zip(self.optimizers(), state["optimizers"]):
            optimizer.load_state_dict(saved)
        self.rng.bit_generator.state = state["rng"]
        self.seed_entropy = state["seed_entropy"]

    def reset_seeds(self, n: int) -> list[int]:
        """Env-reset seeds of the next update's ``n`` episodes (or sub-envs)."""
        return episode_seeds(self.seed_entropy, n, TRAIN_RESETS, self.updates)

    def weights_finite(self) -> bool:
        return all(np.isfinite(w).all() for w in self.parts.weights().values())

    @contextlib.contextmanager
    def threads(self) -> Iterator[None]:
        """numpy's BLAS (and torch, when the engine uses it) on one thread while training. For networks
        this small a second thread gained nothing on CartPole (7% on Pixelcopter's 64x64 networks),
        and between the many tiny products it busy-waits: two fast-mode trainings side by side on 2
        cores each ran 3x slower."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            if not self.engine.uses_torch:
                yield
                return
            import torch

            saved = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                yield
            finally:
                torch.set_num_threads(saved)

    def run(self, callbacks: list[Any]) -> None:
        self.stop_reason = None
        for cb in callbacks:
            cb.on_training_start(self)
        start = time.perf_counter()
        offset = self.wall_seconds
        try:
            # A diverging update overflows before the check below reports it: no warnings on the way.
            with (
                self.threads(),
                StopOnSignal() as ctrl_c,
                np.errstate(over="ignore", invalid="ignore"),
            ):
                while self.stop_reason is None and self.budget_left():
                    finished = self.step()
                    self.updates += 1
                    if not self.weights_finite():  # nothing of this update is recorded or saved
                        self.diverged = True
                        self.stop(f"diverged: update {self.updates} left non-finite weights")
                        break
                    self.wall_seconds = offset + time.perf_counter() - start
                    records = self.record(finished)
                    for cb in callbacks:
                        cb.on_update(self, records)
                    if ctrl_c.requested:
                        self.interrupted = True
                        self.stop("interrupted (Ctrl-C)")
        except KeyboardInterrupt:
            self.interrupted = True
            self.stop("interrupted (Ctrl-C)")
        if self.stop_reason is None:
            self.stop("budget reached")
        for cb in callbacks:
            cb.on_training_end(self)
        if self.diverged:
            raise TrainingDiverged(
                f"training diverged: update {self.updates} produced NaN or infinite weights (try a smaller "
                "learning rate, or max_grad_norm); the agent's weights are unusable"
            )

    def record(self, finished: list[tuple[float, int]]) -> list[EpisodeRecord]:
        records = []
        for ret, length in finished:
            self.episodes += 1
            self.env_steps += length
            self.recent_returns.append(ret)
            records.append(
                EpisodeRecord(self.episodes, ret, length, self.env_steps, self.wall_seconds)
            )
        return records


class CourseTrainer(Trainer):
    """The course's loop: play one episode, make one Adam update on it, repeat."""

    def __init__(self, config: TrainConfig, parts: AgentParts) -> None:
        from .engines.torch_engine import TorchEngine

        super().__init__(config, parts)
        self.env = make_env(config.env_id, **config.env_kwargs)
        # On the CPU: the built-in MLP's torch view shares its arrays, so updates land there.
        self.engine = TorchEngine(parts.policy, None, None, config, "cpu")

    def budget_left(self) -> bool:
        return self.episodes < self.config.n_episodes

    def step(self) -> list[tuple[float, int]]:
        actor = self.parts.actor()
        episode = collect_episode(
            self.env,
            lambda o: actor.act(o, self.rng),
            self.config.max_t,
            seed=self.reset_seeds(1)[0],
        )
        self.simulated_env_steps += episode.length
        self.update_stats = self.engine.course_update(episode)
        return [(episode.total_reward, episode.length)]


class FastTrainer(Trainer):
    """Batched REINFORCE: whole episodes from ``num_envs`` vector envs per update."""

    def __init__(self, config: TrainConfig, parts: AgentParts, device: str = "cpu") -> None:
        super().__init__(config, parts)
        self.envs: Any = None
        self.open_envs()
        self.engine = fast_engine(parts.policy, parts.value, parts.obs_norm, config, device)
        self.storage = RolloutStorage()

    def open_envs(self) -> None:
        cfg = self.config
        self.envs = make_vector_env(cfg.env_id, cfg.num_envs, cfg.vectorization, **cfg.env_kwargs)

    def run(self, callbacks: list[Any]) -> None:
        # The envs live while training runs: async ones hold a worker process per sub-env, which
        # must not outlive learn() (a later learn() opens them again; resets are seeded per update).
        if self.envs is None:
            self.open_envs()
        try:
            super().run(callbacks)
        finally:
            self.envs.close()
            self.envs = None

    def budget_left(self) -> bool:
        return self.env_steps < self.config.total_env_steps

    def step(self) -> list[tuple[float, int]]:
        cfg = self.config
        actor = self.parts.actor()
        batch = collect_batch(
            self.envs,
            lambda obs: actor.act_batch(obs, self.rng),
            cfg.rollout_max_t or cfg.max_t,
            cfg.episodes_per_env,
            seed=vector_reset_seed(self.envs, self.reset_seeds(cfg.num_envs)),
            storage=self.storage,
        )
        self.simulated_env_steps += batch.valid.size
        if cfg.lr_schedule == "linear":
            self.scale_learning_rates(max(0.0, 1.0 - self.env_steps / cfg.total_env_steps))
        self.update_stats = self.engine.update(batch)
        self.update_stats["lr"] = self.optimizers()[0].lr
        return list(zip(batch.episode_returns, batch.episode_lengths))

    def scale_learning_rates(self, scale: float) -> None:
        """Set the policy's (and the value baseline's) learning rate to ``scale`` times the config's."""
        for optimizer, lr in zip(self.optimizers(), (self.config.lr, self.config.value_lr)):
            optimizer.lr = lr * scale


def make_trainer(config: TrainConfig, parts: AgentParts, device: str = "cpu") -> Trainer:
    return (
        CourseTrainer(config, parts)
        if config.mode == "course"
        else FastTrainer(config, parts, device)
    )
