"""The REINFORCE updates and the training loops (course mode and fast mode).

Data flows one way: env(s) -> rollout -> returns -> loss/update -> episode records -> callbacks.
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .artifacts.checkpoint import RESUME_FILE, load_state
from .make_env import make_env, make_vector_env
from .optim import Adam
from .returns import discounted_returns, reward_to_go, standardize
from .rollout import Batch, Episode, collect_batch, collect_episode

if TYPE_CHECKING:
    from .agent import Reinforce


@dataclass
class EpisodeRecord:
    """One finished training episode, as written to metrics.csv."""

    episode: int
    ret: float
    length: int
    env_steps: int
    wall_seconds: float


# ---------------------------------------------------------------------------- updates
def course_loss(policy: torch.nn.Module, episode: Episode, gamma: float) -> torch.Tensor | None:
    """The course's loss, sum_t -log pi(a_t|s_t) * standardised G_t, from one batched forward pass.

    Returns None for a 1-step episode: its standardised return is 0 by definition (the course gets a
    NaN there), so it carries no gradient and the caller skips the optimizer step.
    """
    if episode.length < 2:
        return None
    # float64 reward-to-go cast to float32, as the course's torch.tensor(list of floats) does.
    returns = torch.as_tensor(reward_to_go(episode.rewards, gamma), dtype=torch.float32)
    advantages = standardize(returns)
    log_probs = policy.log_probs(torch.from_numpy(episode.obs), torch.from_numpy(episode.actions))
    return -(log_probs * advantages).sum()


def episode_ids(valid: torch.Tensor, episode_end: torch.Tensor) -> torch.Tensor:
    """[T, N] index of the episode each step belongs to (unique across envs)."""
    ends_before = torch.cumsum(episode_end.long(), 0) - episode_end.long()
    per_env = int(episode_end.sum(0).max().item()) + 1
    env_index = torch.arange(valid.shape[1], device=valid.device)
    return ends_before + env_index * per_env


def per_episode_standardize(values: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Standardise each episode's values on their own (unbiased std; 1-step episodes give 0)."""
    n_ids = int(ids.max().item()) + 1
    ones = torch.ones_like(values)
    count = torch.zeros(n_ids, dtype=values.dtype, device=values.device).index_add_(0, ids, ones)
    total = torch.zeros_like(count).index_add_(0, ids, values)
    mean = total / count.clamp_min(1)
    centred = values - mean[ids]
    sq = torch.zeros_like(count).index_add_(0, ids, centred.square())
    std = (sq / (count - 1).clamp_min(1)).sqrt()
    out = centred / (std[ids] + torch.finfo(torch.float32).eps)
    return torch.where(count[ids] > 1, out, torch.zeros_like(out))


def fast_losses(agent: "Reinforce", batch: Batch) -> dict[str, torch.Tensor]:
    """Policy (and value) losses for one batch of whole episodes from vector envs.

    Only counted steps go through the networks; the value of s_T is needed only at truncations.
    """
    cfg = agent.config
    device = agent.device
    valid = batch.valid
    bootstrap = None
    if agent.value is not None and cfg.truncation == "bootstrap" and batch.truncated.any():
        t, n = batch.truncated.nonzero(as_tuple=True)
        with torch.no_grad():
            next_values = agent.value(agent.policy_input(batch.obs[t + 1, n].to(device))).cpu()
        bootstrap = np.zeros(batch.rewards.shape)
        bootstrap[t.numpy(), n.numpy()] = cfg.gamma * next_values.double().numpy()
    returns = discounted_returns(batch.rewards.numpy(), batch.episode_end.numpy(), cfg.gamma, bootstrap)

    valid_np = valid.numpy()
    advantages = torch.as_tensor(returns[valid_np], dtype=torch.float32, device=device)
    obs = agent.policy_input(batch.obs[:-1][valid].to(device))
    losses: dict[str, torch.Tensor] = {}
    if agent.value is not None:
        v = agent.value(obs)
        losses["value"] = 0.5 * (v - advantages).square().mean()
        advantages = advantages - v.detach()
    if cfg.return_norm == "batch":
        advantages = standardize(advantages)
    elif cfg.return_norm == "episode":
        advantages = per_episode_standardize(advantages, episode_ids(valid, batch.episode_end)[valid].to(device))
    log_probs, entropy = agent.policy.log_probs_and_entropy(obs, batch.actions[valid].to(device))
    # Mean, not the course's sum: the step size then does not grow with the batch.
    losses["policy"] = -(log_probs * advantages).mean() - cfg.entropy_coef * entropy.mean()
    losses["entropy"] = entropy.mean().detach()
    return losses


# ------------------------------------------------------------------------- training loop
class StopOnSignal:
    """While active, the first Ctrl-C asks training to stop after the current update."""

    def __init__(self) -> None:
        self.requested = False
        self.previous = None

    def __enter__(self) -> "StopOnSignal":
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

    def __init__(self, agent: "Reinforce") -> None:
        self.agent = agent
        self.config = agent.config
        self.episodes = 0
        self.env_steps = 0
        self.updates = 0
        self.wall_seconds = 0.0
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.stop_reason: str | None = None
        self.interrupted = False

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

    # Resume state: everything that decides what training does next. It holds a pickled env, so
    # it is for the local run folder only (torch.save), never for sharing.
    def optimizers(self) -> list[Adam]:
        raise NotImplementedError

    def env_state(self) -> Any:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {
            "counters": {"episodes": self.episodes, "env_steps": self.env_steps, "updates": self.updates,
                         "wall_seconds": self.wall_seconds},
            "recent_returns": list(self.recent_returns),
            "tensors": {k: v.detach().cpu().clone() for k, v in self.agent.tensors().items()},
            "optimizers": [o.state_dict() for o in self.optimizers()],
            "rng": self.rng.bit_generator.state,
            "env": pickle.dumps(self.env_state()),
            "reset_seed": self.reset_seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, value in state["counters"].items():
            setattr(self, name, value)
        self.recent_returns.clear()
        self.recent_returns.extend(state["recent_returns"])
        for name, module in self.agent.modules().items():
            load_state(module, state["tensors"], name, Path(RESUME_FILE))
        for optimizer, saved in zip(self.optimizers(), state["optimizers"]):
            optimizer.load_state_dict(saved)
        self.rng.bit_generator.state = state["rng"]
        self.set_env_state(pickle.loads(state["env"]))
        self.reset_seed = state["reset_seed"]

    def set_env_state(self, env: Any) -> None:
        raise NotImplementedError

    def run(self, callbacks: list[Any]) -> None:
        self.stop_reason = None
        for cb in callbacks:
            cb.on_training_start(self)
        start = time.perf_counter()
        offset = self.wall_seconds
        try:
            with torch_threads_for(self.agent), StopOnSignal() as ctrl_c:
                while self.stop_reason is None and self.budget_left():
                    finished = self.step()
                    self.updates += 1
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

    def record(self, finished: list[tuple[float, int]]) -> list[EpisodeRecord]:
        records = []
        for ret, length in finished:
            self.episodes += 1
            self.env_steps += length
            self.recent_returns.append(ret)
            records.append(EpisodeRecord(self.episodes, ret, length, self.env_steps, self.wall_seconds))
        return records


@contextlib.contextmanager
def torch_threads_for(agent: "Reinforce") -> Iterator[None]:
    """Tiny networks run fastest on one thread: extra threads only add synchronisation."""
    saved = torch.get_num_threads()
    small = agent.config.mode == "course" or max(agent.config.hidden_sizes) <= 64
    torch.set_num_threads(1 if small else saved)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


class CourseTrainer(Trainer):
    """The course's loop: play one episode, make one Adam update on it, repeat."""

    def __init__(self, agent: "Reinforce") -> None:
        super().__init__(agent)
        self.env = make_env(self.config.env_id, **self.config.env_kwargs)
        self.optimizer = Adam(agent.policy.parameters(), lr=self.config.lr)
        self.rng = np.random.default_rng(self.config.seed)
        self.reset_seed = self.config.seed

    def budget_left(self) -> bool:
        return self.episodes < self.config.n_episodes

    def optimizers(self) -> list[Adam]:
        return [self.optimizer]

    def env_state(self) -> Any:
        return self.env

    def set_env_state(self, env: Any) -> None:
        self.env.close()
        self.env = env

    def step(self) -> list[tuple[float, int]]:
        actor = self.agent.numpy_actor()
        episode = collect_episode(self.env, lambda o: actor.act(o, self.rng), self.config.max_t,
                                  seed=self.reset_seed)
        self.reset_seed = None  # later resets continue the env's own random stream
        loss = course_loss(self.agent.policy, episode, self.config.gamma)
        if loss is not None:
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return [(episode.total_reward, episode.length)]


class FastTrainer(Trainer):
    """Batched REINFORCE: whole episodes from ``num_envs`` vector envs per update."""

    def __init__(self, agent: "Reinforce") -> None:
        super().__init__(agent)
        cfg = self.config
        self.envs = make_vector_env(cfg.env_id, cfg.num_envs, **cfg.env_kwargs)
        self.optimizer = Adam(agent.policy.parameters(), lr=cfg.lr)
        self.value_optimizer = (Adam(agent.value.parameters(), lr=cfg.value_lr)
                                if agent.value is not None else None)
        self.rng = np.random.default_rng(cfg.seed)
        self.reset_seed = cfg.seed

    def budget_left(self) -> bool:
        return self.env_steps < self.config.total_env_steps

    def optimizers(self) -> list[Adam]:
        return [self.optimizer] + ([self.value_optimizer] if self.value_optimizer is not None else [])

    def env_state(self) -> Any:
        return self.envs

    def set_env_state(self, envs: Any) -> None:
        self.envs.close()
        self.envs = envs

    def step(self) -> list[tuple[float, int]]:
        cfg, agent = self.config, self.agent
        actor = agent.numpy_actor()
        batch = collect_batch(self.envs, lambda obs: actor.act_batch(obs, self.rng), cfg.rollout_max_t or cfg.max_t,
                              cfg.episodes_per_env, seed=self.reset_seed)
        self.reset_seed = None
        losses = fast_losses(agent, batch)
        self.optimizer.zero_grad()
        if self.value_optimizer is not None:
            self.value_optimizer.zero_grad()
            (losses["policy"] + losses["value"]).backward()
        else:
            losses["policy"].backward()
        if cfg.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(agent.policy.parameters(), cfg.max_grad_norm)
            if agent.value is not None:
                torch.nn.utils.clip_grad_norm_(agent.value.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        if self.value_optimizer is not None:
            self.value_optimizer.step()
        if agent.obs_norm is not None:  # new statistics apply from the next rollout on
            agent.obs_norm.update(batch.obs[:-1][batch.valid].to(agent.device))
        return list(zip(batch.episode_returns, batch.episode_lengths))


def make_trainer(agent: "Reinforce") -> Trainer:
    return CourseTrainer(agent) if agent.config.mode == "course" else FastTrainer(agent)
