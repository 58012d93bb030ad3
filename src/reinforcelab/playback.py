"""Playing episodes with a trained policy: the course's evaluation protocol, watching in a window
and recording a video.

Evaluation runs its episodes side by side in a vector env (one sub-env each) rather than one after
another: the same protocol, many times fewer Python-level steps. Its memory is bounded by the
vector env, not by the episodes asked for: at most ``EVAL_BATCH`` are played at a time, in rounds,
keeping only each episode's running return and length. Each episode starts from its own reset
seed, drawn from the evaluation seed (or fresh entropy), so the episodes are distinct levels, as
the course's one-after-another episodes are. Watching and recording play one episode after another
with :func:`~reinforcelab.rollout.collect_episode`, from the same reset seeds.

What cannot fit in memory (the results of a billion episodes, a GIF of thousands of frames) is
refused before anything is played (``memory.check_fits``).
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
from .envs.make import episode_step_cap, make_env, spaces_of
from .errors import UserError
from .memory import check_fits
from .policies.base import Actor
from .rollout import collect_episode, episode_nbytes
from .seeding import EVAL_RESETS, episode_seeds, vector_reset_seed

#: Episodes an evaluation plays side by side (the sub-envs of its vector env); more are played in
#: rounds of this many. Up to this many, results are those of one vector env with a sub-env each.
EVAL_BATCH = 256
#: Memory kept per episode played: its return and length (Python floats and ints in lists, as
#: EvalResult holds them) and its reset seed.
EPISODE_RESULT_BYTES = 112


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


def check_results_fit(n_episodes: int, doing: str = "evaluating") -> None:
    """Refuse ``n_episodes`` whose results alone cannot fit in memory."""
    check_fits(
        n_episodes * EPISODE_RESULT_BYTES,
        f"{doing} {n_episodes} episodes (a return, a length and a reset seed each)",
        "ask for fewer episodes",
    )


def evaluation_envs(config: TrainConfig, n_episodes: int) -> gym.vector.VectorEnv:
    """The vector env an evaluation of ``n_episodes`` plays on: a sub-env per episode, up to
    ``EVAL_BATCH`` (after checking that the results fit in memory). Gymnasium's own env, whatever
    the agent trained on (EnvPool's ports start other episodes)."""
    from .envs.make import make_vector_env

    check_results_fit(n_episodes)
    return make_vector_env(
        config.env_id, min(n_episodes, EVAL_BATCH), allow_envpool=False, **config.env_kwargs
    )


def evaluate_policy(
    act_batch: Callable[[np.ndarray], np.ndarray],
    envs: gym.vector.VectorEnv,
    env_id: str,
    max_t: int = 1000,
    seed: int | None = None,
    deterministic: bool = False,
    reset_seeds: list[int] | None = None,
    n_episodes: int | None = None,
) -> EvalResult:
    """``n_episodes`` episodes (default: one per sub-env of ``envs``) with ``act_batch`` ([n, ...]
    observations -> [n] actions), played ``envs.num_envs`` at a time, each capped at ``max_t``.

    Episode ``i`` starts from ``reset_seeds[i]`` (default: the evaluation stream of ``seed``, fresh
    entropy when it is None) on vector envs that seed each sub-env; numpy-batched ones (CartPole's)
    take one seed per round, its first episode's. ``seed`` is recorded in the result.
    """
    n = envs.num_envs if n_episodes is None else n_episodes
    if reset_seeds is None:
        reset_seeds = evaluation_seeds(seed, n)
    if len(reset_seeds) != n:
        raise ValueError(f"expected {n} reset seeds, one per episode; got {len(reset_seeds)}")
    returns: list[float] = []
    lengths: list[int] = []
    for start in range(0, n, envs.num_envs):
        round_returns, round_lengths = play_round(
            envs, act_batch, max_t, reset_seeds[start : start + envs.num_envs]
        )
        returns += round_returns
        lengths += round_lengths
    return EvalResult(
        env_id=env_id, returns=returns, lengths=lengths, deterministic=deterministic, seed=seed
    )


def play_round(
    envs: gym.vector.VectorEnv,
    act_batch: Callable[[np.ndarray], np.ndarray],
    max_t: int,
    reset_seeds: list[int],
) -> tuple[list[float], list[int]]:
    """One episode on each of the first ``len(reset_seeds)`` sub-envs, from those seeds and capped
    at ``max_t`` steps: their returns and lengths. Sub-envs beyond them (in a last, partial round)
    step along uncounted. Only running totals are kept: memory does not grow with the episodes'
    length. (The totals add up the rewards in the order ``collect_batch`` adds them, so the
    numbers are the same to the last bit.)"""
    k, n = len(reset_seeds), envs.num_envs
    seeds = reset_seeds + reset_seeds[:1] * (n - k)  # the uncounted sub-envs replay episode 0
    obs, _ = envs.reset(seed=vector_reset_seed(envs, seeds))  # type: ignore[arg-type]
    live = np.arange(n) < k  # this sub-env's episode is counted and not over yet
    totals = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    while live.any():
        obs, rewards, terminated, truncated, _ = envs.step(act_batch(obs))
        totals += np.where(live, rewards, 0.0)
        lengths += live
        live &= ~(terminated | truncated) & (lengths < max_t)
    return totals[:k].tolist(), lengths[:k].tolist()


def evaluate(
    agent: Playable,
    n_episodes: int,
    max_t: int,
    seed: int | None = None,
    deterministic: bool = False,
) -> EvalResult:
    """The course protocol: ``n_episodes`` episodes, sampled actions unless ``deterministic``, each
    capped at ``max_t`` steps, from the reset seeds of ``seed``."""
    config, actor = agent.config, agent.actor()
    rng = np.random.default_rng(seed)
    envs = evaluation_envs(config, n_episodes)
    try:
        return evaluate_policy(
            lambda obs: actor.act_batch(obs, rng, deterministic),
            envs,
            config.env_id,
            max_t,
            seed,
            deterministic,
            n_episodes=n_episodes,
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
    from .artifacts.video import check_video_support, record_video, video_format

    check_video_support(out)
    max_steps = agent.config.max_t if max_steps is None else max_steps
    actor, rng = agent.actor(), np.random.default_rng(seed)
    env = make_env(agent.config.env_id, render_mode="rgb_array", **agent.config.env_kwargs)
    try:
        check_episodes_fit(env, agent.config, episodes, max_steps, gif=video_format(out) == "gif")
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


def check_episodes_fit(
    env: gym.Env, config: TrainConfig, episodes: int, max_steps: int, gif: bool = False
) -> None:
    """Refuse to play ``episodes`` episodes of up to ``max_steps`` steps one after another (to watch
    or record them) when their results, one episode's steps or, for a GIF (held in memory until it
    is written), their frames cannot fit in memory."""
    cap = episode_step_cap(config.env_id, max_steps, config.env_kwargs)
    needed = episodes * EPISODE_RESULT_BYTES + episode_nbytes(spaces_of(env), cap)
    if gif:  # every frame, upscaled as record_video does, as a 4-byte-per-pixel image
        from .artifacts.video import auto_scale

        env.reset(seed=0)  # to render a frame (recording resets every episode with its own seed)
        height, width = np.asarray(env.render()).shape[:2]
        needed += episodes * (cap + 1) * height * width * 4 * auto_scale(height, width) ** 2
    check_fits(
        needed,
        f"playing {episodes} episodes of up to {cap} steps" + (" into a GIF" if gif else ""),
        "fewer episodes or a lower step cap" + ("; an mp4 is written as it plays" if gif else ""),
    )


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
        check_episodes_fit(env, agent.config, episodes, max_steps or agent.config.max_t)
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
