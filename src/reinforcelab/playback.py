"""Playing episodes with a trained policy: the course's evaluation protocol, watching in a window
and recording a video.

Evaluation runs its n episodes side by side in a vector env (one sub-env each) rather than one
after another: the same protocol, n times fewer Python-level steps. Each sub-env starts from its
own reset seed, drawn from the evaluation seed (or fresh entropy), so the episodes are distinct
levels, as the course's one-after-another episodes are. Watching and recording play one episode
after another with :func:`~reinforcelab.rollout.collect_episode`, from the same reset seeds.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from .checks import COUNT, FLAG, SEED, WRITABLE_FILE, OrNone, arguments
from .config import TrainConfig
from .envs.make import make_env
from .errors import UserError
from .policies.base import Actor
from .rollout import collect_batch, collect_episode
from .seeding import EVAL_RESETS, episode_seeds, vector_reset_seed


class Playable(Protocol):
    """What playback needs of an agent (a :class:`~reinforcelab.Reinforce`)."""

    config: TrainConfig

    def actor(self) -> Actor: ...


@dataclass
class EvalResult:
    """Returns of the evaluation episodes, their mean and population std (as the course reports)."""

    env_id: str
    returns: list[float]
    lengths: list[int]
    deterministic: bool
    seed: int | None
    eval_datetime: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())

    @property
    def mean_reward(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std_reward(self) -> float:
        return float(np.std(self.returns))  # population std (ddof=0), as the course

    @property
    def score(self) -> float:
        """mean - std: the number the course's pass bar is set on."""
        return self.mean_reward - self.std_reward

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(
            mean_reward=self.mean_reward,
            std_reward=self.std_reward,
            n_evaluation_episodes=len(self.returns),
        )
        return d


def evaluation_seeds(seed: int | None, n: int) -> list[int]:
    """The env-reset seeds of an evaluation's ``n`` episodes (and of a replay of them)."""
    return episode_seeds(seed, n, EVAL_RESETS)


def evaluate_policy(
    act_batch: Callable[[np.ndarray], np.ndarray],
    envs: gym.vector.VectorEnv,
    env_id: str,
    max_t: int = 1000,
    seed: int | None = None,
    deterministic: bool = False,
    reset_seeds: list[int] | None = None,
) -> EvalResult:
    """One episode per sub-env of ``envs`` with ``act_batch`` ([n, ...] observations -> [n]
    actions).

    Sub-env ``i`` starts from ``reset_seeds[i]`` (default: the evaluation stream of ``seed``, fresh
    entropy when it is None); ``seed`` is recorded in the result.
    """
    if reset_seeds is None:
        reset_seeds = evaluation_seeds(seed, envs.num_envs)
    batch = collect_batch(
        envs, act_batch, max_t, episodes_per_env=1, seed=vector_reset_seed(envs, reset_seeds)
    )
    return EvalResult(
        env_id=env_id,
        returns=batch.episode_returns,
        lengths=batch.episode_lengths,
        deterministic=deterministic,
        seed=seed,
    )


def evaluate(
    agent: Playable,
    n_episodes: int,
    max_t: int,
    seed: int | None = None,
    deterministic: bool = False,
) -> EvalResult:
    """The course protocol: ``n_episodes`` episodes, sampled actions unless ``deterministic``, each
    capped at ``max_t`` steps, from the reset seeds of ``seed``."""
    from .envs.make import make_vector_env

    config, actor = agent.config, agent.actor()
    rng = np.random.default_rng(seed)
    # Gymnasium's own env, whatever the agent trained on (EnvPool's ports start other episodes)
    envs = make_vector_env(config.env_id, n_episodes, allow_envpool=False, **config.env_kwargs)
    try:
        return evaluate_policy(
            lambda obs: actor.act_batch(obs, rng, deterministic),
            envs,
            config.env_id,
            max_t,
            seed,
            deterministic,
        )
    finally:
        envs.close()


@arguments(
    out=WRITABLE_FILE,
    episodes=COUNT,
    max_steps=OrNone(COUNT),
    fps=COUNT,
    seed=OrNone(SEED),
    deterministic=FLAG,
)
def record_replay(
    agent: Playable,
    out: Path,
    episodes: int = 1,
    max_steps: int | None = None,
    fps: int = 30,
    seed: int | None = None,
    deterministic: bool = False,
) -> dict[str, Any]:
    """Write a replay video (mp4, or GIF by the file name) of ``agent``; each episode step-capped.
    The episodes start as an evaluation with this seed does: distinct levels, seeded or not."""
    from .artifacts.video import check_video_support, record_video

    check_video_support(out)
    max_steps = agent.config.max_t if max_steps is None else max_steps
    actor, rng = agent.actor(), np.random.default_rng(seed)
    env = make_env(agent.config.env_id, render_mode="rgb_array", **agent.config.env_kwargs)
    try:
        return record_video(
            lambda o: actor.act(o, rng, deterministic),
            env,
            out,
            episodes=episodes,
            max_steps=max_steps,
            fps=fps,
            seed=evaluation_seeds(seed, episodes),
        )
    finally:
        env.close()


class NoWindowError(UserError, RuntimeError):
    """No window can be opened here (no display, or pygame cannot reach it)."""


def has_display() -> bool:
    """Whether a window could be shown: always on macOS and Windows, with X11 or Wayland
    elsewhere."""
    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def watch(
    agent: Playable,
    episodes: int = 3,
    seed: int | None = None,
    deterministic: bool = False,
    max_steps: int | None = None,
) -> tuple[list[float], list[int]]:
    """Play ``episodes`` episodes in a window (``render_mode="human"``; Gymnasium shows envs that
    only render frames, such as Pixelcopter, through its HumanRendering wrapper) and return their
    returns and lengths. The episodes start as an evaluation with this seed does."""
    COUNT.check("episodes", episodes)
    if not has_display():
        raise NoWindowError("no display found (DISPLAY is not set)")
    actor, rng = agent.actor(), np.random.default_rng(seed)
    with warnings.catch_warnings():  # Gymnasium's note that it wraps the env in HumanRendering
        warnings.simplefilter("ignore")
        env = make_env(agent.config.env_id, render_mode="human", **agent.config.env_kwargs)
    returns, lengths = [], []
    try:
        for episode_seed in evaluation_seeds(seed, episodes):
            try:
                episode = collect_episode(
                    env,
                    lambda o: actor.act(o, rng, deterministic),
                    max_steps or agent.config.max_t,
                    seed=episode_seed,
                )
            except Exception as exc:  # pygame reports an unusable display only when it draws
                if type(exc).__name__ == "error" and type(exc).__module__.startswith("pygame"):
                    raise NoWindowError(f"could not open a window ({exc})") from exc
                raise
            returns.append(episode.total_reward)
            lengths.append(episode.length)
    finally:
        env.close()
    return returns, lengths
