"""The training loops: one class per mode, picked once by :func:`make_loop`.

- :class:`CourseLoop`: the course's loop. Play one episode, make one Adam update on it.
- :class:`FastLoop`: batched REINFORCE. Whole episodes from ``num_envs`` vector envs, one update
  per batch.

Each loop owns its budget and progress (in its mode's unit), its stop criterion and its update;
:class:`TrainingLoop` keeps what they share: counters, Ctrl-C, the divergence check and the resume
state. An update reads top to bottom: collect -> returns and advantages (``returns.py``) -> the
engine's gradients (``engines/``) -> :func:`~reinforcelab.engines.apply_gradients` (clip, step).
Callbacks (``callbacks.py``) watch a loop; they never change how it trains.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .artifacts.checkpoint import CheckpointError, load_state
from .artifacts.files import RESUME_FILE
from .callbacks import (
    Callback,
    EpisodeRecords,
    StopOnEvaluation,
    StopOnTrainingAverage,
)
from .config import CourseMode, FastMode, TrainConfig
from .engines import (
    LR_SCHEDULES,
    Engine,
    PolicyTargets,
    apply_gradients,
    global_norm,
    make_engine,
)
from .envs.make import episode_step_cap, make_env, make_vector_env
from .errors import UserError
from .memory import check_fits
from .policies.base import Actor, NonFiniteOutputs
from .policies.factory import AgentParts
from .returns import advantages, batch_returns, reward_to_go
from .rollout import (
    Batch,
    Episode,
    RolloutStorage,
    SegmentCollector,
    batch_nbytes,
    collect_batch,
    collect_episode,
    episode_nbytes,
)
from .seeding import TRAIN_RESETS, group_seeds, root_entropy, vector_reset_seed

if TYPE_CHECKING:
    from .engines.torch_engine import ActorCriticEngine


class TrainingDiverged(UserError, RuntimeError):
    """An update left non-finite weights (NaN or inf); the run folder keeps the last finite
    checkpoint."""


class StopOnSignal:
    """While active, the first Ctrl-C asks training to stop after the current update."""

    def __init__(self) -> None:
        self.requested = False
        self.previous: Any = None

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self.handle)
        return self

    def handle(self, signum: int, frame: Any) -> None:
        if self.requested:  # a second Ctrl-C: stop right now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class TrainingLoop:
    """What both loops share: the counters callbacks read, ``run``, and the resume state.

    A loop subclass defines ``step`` (collect, update, return the finished episodes), its progress
    and its stop criterion. ``run`` trains until the budget is spent, a callback stops it, Ctrl-C
    or divergence; a later ``run`` continues where it stopped.
    """

    def __init__(self, config: TrainConfig, parts: AgentParts, engine: Engine) -> None:
        self.config = config
        self.parts = parts
        self.engine = engine
        self.episodes = 0
        self.env_steps = 0
        # Sub-env steps simulated, counted or not (fast mode's batches also step finished sub-envs).
        self.simulated_env_steps = 0
        self.updates = 0
        self.wall_seconds = 0.0
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.stop_reason: str | None = None
        self.interrupted = False
        self.diverged = False
        self.update_stats: dict[str, float] = {}  # the last update's losses, entropy, grad norm
        # Env resets of update k are seeded from (root, k) alone: resuming needs no saved env.
        self.seed_entropy = root_entropy(config.seed)
        self.rng = np.random.default_rng(config.seed)  # samples the actions

    # ------------------------------------------------------------------ what each loop defines
    def step(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Collect, update; return the finished episodes' returns and lengths (in start order),
        and the env steps trained on."""
        raise NotImplementedError

    def progress(self) -> tuple[int, int]:
        """(done, total) in the mode's unit (``config.mode.progress_unit``)."""
        raise NotImplementedError

    def stop_criterion(self, reward: float, eval_episodes: int | None) -> Callback:
        """The callback that stops training once ``reward`` is reached."""
        raise NotImplementedError

    def course_line(self) -> str | None:
        """The line the course prints now and then while training, when it is due."""
        return None

    def session(self) -> contextlib.AbstractContextManager[None]:
        """What must be open while ``run`` trains (the vector envs)."""
        return contextlib.nullcontext()

    # ------------------------------------------------------------------------------ shared
    @property
    def average_return(self) -> float:
        """Mean return of the last (up to) 100 training episodes, as the course prints it."""
        return float(np.mean(self.recent_returns)) if self.recent_returns else float("nan")

    def stop(self, reason: str) -> None:
        self.stop_reason = reason

    def reset_seeds(self, n: int, group_size: int = 1) -> list[int]:
        """Env-reset seeds of the next update's ``n`` episodes (or sub-envs), equal within each
        group of ``group_size`` consecutive ones."""
        return group_seeds(self.seed_entropy, n, group_size, TRAIN_RESETS, self.updates)

    def run(self, callbacks: list[Callback], budget: int | None = None) -> None:
        """Train until ``budget`` (in the mode's unit; default: the config's) is spent or a
        callback, Ctrl-C or divergence stops it."""
        if budget is not None:
            self.config = self.config.replace(**{self.config.mode.budget_field: budget})
        self.stop_reason = None
        for cb in callbacks:
            cb.on_training_start(self)
        start, offset = time.perf_counter(), self.wall_seconds
        try:
            # A diverging update overflows before the check below reports it: no warnings on the
            # way.
            with (
                self.session(),
                self.threads(),
                StopOnSignal() as ctrl_c,
                np.errstate(over="ignore", invalid="ignore"),
            ):
                while self.stop_reason is None and self.progress()[0] < self.progress()[1]:
                    try:
                        returns, lengths, steps = self.step()
                    except NonFiniteOutputs:
                        if self.updates == 0:  # the policy as it was given
                            raise
                        self.diverged = True  # finite weights, but too large to compute with
                        self.stop(f"diverged: update {self.updates} left non-finite outputs")
                        break
                    self.updates += 1
                    if not self.weights_finite():  # nothing of this update is recorded or saved
                        self.diverged = True
                        self.stop(f"diverged: update {self.updates} left non-finite weights")
                        break
                    self.wall_seconds = offset + time.perf_counter() - start
                    records = self.record(returns, lengths, steps)
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
                f"training diverged: update {self.updates} produced NaN or infinite weights, or "
                "outputs (try a smaller learning rate, or max_grad_norm); the agent's weights are "
                "unusable"
            )

    def record(self, returns: np.ndarray, lengths: np.ndarray, steps: int) -> EpisodeRecords:
        """Count an update's ``steps`` trained on and the episodes it finished (returns and
        lengths [n], in start order). Whole episodes: the steps are their lengths, and each
        episode's ``env_steps`` is the run's count after it; continuing episodes (segments) may
        have started in earlier updates, so their counts stop at the update's."""
        env_steps = self.env_steps + np.minimum(np.cumsum(lengths, dtype=np.int64), steps)
        records = EpisodeRecords(self.episodes + 1, returns, lengths, env_steps, self.wall_seconds)
        self.episodes += len(lengths)
        self.env_steps += steps
        self.recent_returns.extend(returns[-100:].tolist())  # the deque keeps the last 100
        return records

    def weights_finite(self) -> bool:
        return all(np.isfinite(w).all() for w in self.parts.weights().values())

    @contextlib.contextmanager
    def threads(self) -> Iterator[None]:
        """numpy's BLAS (and torch, when the engine uses it) on one thread while training. For
        networks this small a second thread gained nothing on CartPole (7% on Pixelcopter's 64x64
        networks), and between the many tiny products it busy-waits: two fast-mode trainings side
        by side on 2 cores each ran 3x slower."""
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

    # Resume state: everything that decides what training does next (optimizer and RNG state
    # too), for the run folder's resume file.
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
            "optimizers": [o.state_dict() for o in self.engine.optimizers],
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
        for optimizer, saved in zip(self.engine.optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
        self.rng.bit_generator.state = state["rng"]
        self.seed_entropy = state["seed_entropy"]


class CourseLoop(TrainingLoop):
    """The course's loop: play one episode, make one Adam update on it, repeat (on the CPU: one
    short episode at a time, a GPU would only add transfers)."""

    def __init__(self, config: TrainConfig, parts: AgentParts) -> None:
        from .engines.torch_engine import TorchEngine

        assert isinstance(config.mode, CourseMode)
        cap = episode_step_cap(config.env_id, config.max_t, config.env_kwargs)
        check_fits(
            episode_nbytes(parts.spaces, cap),
            f"training on episodes of up to {cap} steps of {parts.spaces.obs_shape} "
            f"{parts.spaces.obs_dtype} observations",
            "lower max_t",
        )
        # The built-in MLP's torch view shares its arrays on the CPU, so updates land in them.
        super().__init__(config, parts, TorchEngine(parts.policy, None, config.lr, 0.0, "cpu"))
        self.env = make_env(config.env_id, **config.env_kwargs)

    def progress(self) -> tuple[int, int]:
        return self.episodes, self.config.mode.budget

    def step(self) -> tuple[np.ndarray, np.ndarray, int]:
        actor = self.parts.actor()
        episode = collect_episode(
            self.env,
            lambda o: actor.act(o, self.rng),
            self.config.max_t,
            seed=self.reset_seeds(1)[0],
        )
        self.simulated_env_steps += episode.length
        self.update_stats = self.update(episode)
        return np.array([episode.total_reward]), np.array([episode.length]), episode.length

    def update(self, episode: Episode) -> dict[str, float]:
        """The course's update: the reward-to-go standardised within the episode (float32, in the
        engine's arithmetic, as the course computes it in torch), the loss summed over the
        episode, one Adam step. A 1-step episode makes none: its standardised return is undefined
        (the course gets NaN there and the NaN ends up in the weights)."""
        if episode.length < 2:
            return {}
        returns = reward_to_go(episode.rewards, self.config.gamma).astype(np.float32)
        weights = self.engine.standardized(returns)
        stats: dict[str, float] = {}
        targets = PolicyTargets(episode.obs, episode.actions, weights, reduction="sum")
        grads = self.engine.policy_gradients(targets, stats)
        stats["grad_norm"] = global_norm(grads)
        apply_gradients(self.engine, [grads])
        return stats

    def stop_criterion(self, reward: float, eval_episodes: int | None) -> Callback:
        """The course's own yardstick, the 100-episode training average; an evaluation of
        ``eval_episodes`` episodes when that is asked for."""
        if eval_episodes is not None:
            return StopOnEvaluation(reward, eval_episodes, seed=self.config.seed)
        return StopOnTrainingAverage(reward)

    def course_line(self) -> str | None:
        assert isinstance(self.config.mode, CourseMode)
        if self.episodes % self.config.mode.print_every == 0:
            return f"Episode {self.episodes}\tAverage Score: {self.average_return:.2f}"
        return None


class FastLoop(TrainingLoop):
    """Batched REINFORCE: each update takes whole episodes from ``num_envs`` vector envs."""

    def __init__(self, config: TrainConfig, parts: AgentParts, device: str = "cpu") -> None:
        assert isinstance(config.mode, FastMode)
        self.check_batch_fits(config, parts)
        engine = make_engine(parts, config.lr, config.mode.value_lr, device)
        super().__init__(config, parts, engine)
        self.envs: Any = None
        self.open_envs()  # now: an env that cannot be made fails before anything else happens
        self.storage = RolloutStorage()
        self.segments: SegmentCollector | None = None  # segment_steps: episodes that go on

    @staticmethod
    def check_batch_fits(config: TrainConfig, parts: AgentParts) -> None:
        """Refuse, before any env is made, a batch bigger than this machine's memory."""
        fast = config.mode
        assert isinstance(fast, FastMode)
        max_t = fast.rollout_max_t or config.max_t
        cap = episode_step_cap(config.env_id, max_t, config.env_kwargs)
        if fast.segment_steps is not None:
            batch = f"{fast.segment_steps} steps of {fast.num_envs} sub-envs"
            sizes = "num_envs or segment_steps"
        elif fast.rollout_steps is not None:
            batch = f"{fast.rollout_steps} steps or more of {fast.num_envs} sub-envs"
            sizes = "num_envs, rollout_steps or rollout_max_t"
        else:
            episodes = fast.num_envs * fast.episodes_per_env
            batch = f"{episodes} episodes of up to {cap} steps"
            sizes = "num_envs, episodes_per_env or rollout_max_t"
        check_fits(
            batch_nbytes(
                parts.spaces,
                fast.num_envs,
                max_t,
                fast.episodes_per_env,
                cap,
                fast.rollout_steps,
                fast.segment_steps,
            ),
            f"training on batches of {batch} ({parts.spaces.obs_shape} "
            f"{parts.spaces.obs_dtype} observations)",
            f"lower {sizes}",
        )

    @property
    def fast(self) -> FastMode:
        assert isinstance(self.config.mode, FastMode)
        return self.config.mode

    def open_envs(self) -> None:
        self.envs = make_vector_env(
            self.config.env_id,
            self.fast.num_envs,
            self.fast.vectorization,
            seed_each=self.fast.group_size > 1,
            **self.config.env_kwargs,
        )

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        # Async envs hold a worker process per sub-env, which must not outlive a run (the next
        # run opens them again; resets are seeded per update, so nothing is lost).
        if self.envs is None:
            self.open_envs()
        try:
            yield
        finally:
            self.envs.close()
            self.envs, self.segments = None, None

    def progress(self) -> tuple[int, int]:
        return self.env_steps, self.fast.budget

    def step(self) -> tuple[np.ndarray, np.ndarray, int]:
        fast = self.fast
        acting_values: list[np.ndarray] | None = None  # V(s) [N] per step, from a shared body
        actor: Actor
        if self.parts.shared_body:
            actor, acting_values = self.actor_critic().recording_actor()
        else:
            actor = self.parts.actor()
        act = lambda obs: actor.act_batch(obs, self.rng)  # noqa: E731
        seeds = vector_reset_seed(self.envs, self.reset_seeds(fast.num_envs, fast.group_size))
        if fast.segment_steps is not None:
            if self.segments is None:  # the episodes start (again) from resets
                self.segments = SegmentCollector(self.envs, seeds)
            batch = self.segments.collect(act, fast.segment_steps)
        else:
            batch = collect_batch(
                self.envs,
                act,
                fast.rollout_max_t or self.config.max_t,
                fast.episodes_per_env,
                seed=seeds,
                storage=self.storage,
                rollout_steps=fast.rollout_steps,
            )
        self.simulated_env_steps += batch.valid.size
        if acting_values is not None:
            self.update_stats = self.update_actor_critic(batch, np.stack(acting_values))
        else:
            self.update_stats = self.update(batch)
        returns, lengths = np.asarray(batch.episode_returns), np.asarray(batch.episode_lengths)
        return returns, lengths, batch.env_steps

    def update(self, batch: Batch) -> dict[str, float]:
        """One update on a batch of whole episodes: returns (bootstrapped at cuts), the value
        baseline's gradients and values, advantages, the policy's gradients, then one clipped Adam
        step per network; the observation statistics take in the batch afterwards (they apply
        from the next rollout on)."""
        fast, engine = self.fast, self.engine
        normalize = self.parts.normalizer() or (lambda obs: obs)
        obs = normalize(batch.counted_obs)
        value_at = None
        if fast.truncation == "bootstrap":
            value_at = lambda o: engine.values(normalize(o))  # noqa: E731
        returns = batch_returns(batch, self.config.gamma, value_at, fast.reward_scale)
        stats: dict[str, float] = {}
        value_grads, values = (
            engine.value_gradients(obs, returns) if engine.has_value else ([], None)
        )
        if values is not None:
            stats["value_loss"] = 0.5 * float(np.mean(np.square(values - returns)))
        adv = advantages(batch, returns, values, fast.return_norm, fast.baseline, fast.group_size)
        targets = PolicyTargets(obs, batch.counted(batch.actions), adv, fast.entropy_coef)
        policy_grads = engine.policy_gradients(targets, stats)
        stats["grad_norm"] = global_norm(policy_grads)
        grads = [policy_grads, value_grads] if values is not None else [policy_grads]
        lr_factor = self.lr_factor()
        apply_gradients(engine, grads, fast.max_grad_norm, lr_factor)
        for _ in range(fast.value_steps - 1):  # more steps of the baseline on the same returns
            value_grads, _ = engine.value_gradients(obs, returns)
            apply_gradients(engine, [None, value_grads], fast.max_grad_norm, lr_factor)
        stats["lr"] = engine.optimizers[0].lr
        if self.parts.obs_norm is not None:
            self.parts.obs_norm.update(batch.counted_obs)
        return stats

    def lr_factor(self) -> float:
        """The learning rates' scale for the next step: the schedule at the budget spent."""
        fast = self.fast
        return LR_SCHEDULES[fast.lr_schedule](self.env_steps / fast.total_env_steps)

    def actor_critic(self) -> ActorCriticEngine:
        from .engines.torch_engine import ActorCriticEngine

        assert isinstance(self.engine, ActorCriticEngine)
        return self.engine

    def update_actor_critic(self, batch: Batch, acting_values: np.ndarray) -> dict[str, float]:
        """The update of a shared body (``cnn_shared``): as :meth:`update`, with the values V(s)
        [T, N] the acting pass computed, and one loss (policy and value) for the one network."""
        fast, engine = self.fast, self.actor_critic()
        value_at = engine.values if fast.truncation == "bootstrap" else None
        returns = batch_returns(batch, self.config.gamma, value_at, fast.reward_scale)
        values = batch.counted(acting_values)
        stats = {"value_loss": 0.5 * float(np.mean(np.square(values - returns)))}
        adv = advantages(batch, returns, values, fast.return_norm, fast.baseline, fast.group_size)
        targets = PolicyTargets(
            batch.counted_obs, batch.counted(batch.actions), adv, fast.entropy_coef
        )
        grads = engine.actor_critic_gradients(targets, returns, stats)
        stats["grad_norm"] = global_norm(grads)
        lr_factor = self.lr_factor()
        apply_gradients(engine, [grads], fast.max_grad_norm, lr_factor)
        stats["lr"] = engine.optimizers[0].lr
        return stats

    def stop_criterion(self, reward: float, eval_episodes: int | None) -> Callback:
        """An evaluation of ``eval_episodes`` (default 100) sampled-action episodes after updates:
        fast mode finishes many episodes per update, so its training average lags the policy."""
        return StopOnEvaluation(reward, eval_episodes or 100, seed=self.config.seed)


def make_loop(config: TrainConfig, parts: AgentParts, device: str = "cpu") -> TrainingLoop:
    """The training loop of ``config``'s mode (the one place that tells the modes apart)."""
    if isinstance(config.mode, CourseMode):
        return CourseLoop(config, parts)
    return FastLoop(config, parts, device)
