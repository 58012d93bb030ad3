"""A training run as a folder: config, weights, per-episode metrics and the final evaluation.

``train_run`` is what ``reinforcelab train`` does; it is usable from Python as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agent import Reinforce, check_count
from .artifacts.checkpoint import FORMAT, write_json
from .artifacts.files import CONFIG_FILE, METRICS_FILE, RESULTS_FILE, RUN_FILES
from .callbacks import (
    Callback,
    Checkpoint,
    MetricsCSV,
    ProgressBar,
    StopOnEvaluation,
    StopOnTrainingAverage,
)
from .config import TrainConfig
from .errors import UserError
from .evaluation import EvalResult, evaluation_seeds
from .trainers import TrainingDiverged


class RunFolderError(UserError, ValueError):
    """An output folder that would be overwritten, or that is not a run folder."""


def is_run_folder(path: Path) -> bool:
    try:
        return json.loads((path / CONFIG_FILE).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def prepare_out(out: Path, overwrite: bool) -> bool:
    """Create ``out`` and return whether it was created. An existing non-empty folder is reused only
    with ``overwrite`` and only if it is a run folder; then the files a run writes are removed and
    anything else in it (a user's notes) is kept."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise RunFolderError(
                f"{out} already exists; pass --overwrite to replace it or choose another --out"
            )
        if not is_run_folder(out):
            raise RunFolderError(
                f"{out} exists and is not a reinforcelab run folder; refusing to overwrite it"
            )
        remove_run_files(out)
        return False
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return created


def remove_run_files(out: Path) -> None:
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)


def default_out(config: TrainConfig, root: Path = Path("runs")) -> Path:
    """runs/<env>-<mode>-s<seed>, with -2, -3, ... appended when taken."""
    seed = "none" if config.seed is None else str(config.seed)
    base = root / f"{config.env_id}-{config.mode}-s{seed}"
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
) -> RunResult:
    """Train an agent into the run folder ``out`` and evaluate it with the course protocol.

    Args:
        policy: your own torch policy, as the ``Reinforce`` arguments ``{"policy": module or
            class, "policy_kwargs": ..., "policy_output": ...}`` (default: the built-in one).
        stop_reward: stop early at this score: in course mode when the 100-episode training
            average reaches it; in fast mode (or with ``stop_eval_episodes``) when an evaluation of
            ``stop_eval_episodes`` sampled-action episodes on a separate env does.
        checkpoint_every: save model and resume state every this many updates (default: every
            100 in course mode, 10 in fast mode); they are also saved at the end and on Ctrl-C.
    """
    out = Path(out)
    if stop_eval_episodes is not None:
        check_count("stop_eval_episodes", stop_eval_episodes)
    if checkpoint_every is not None:
        check_count("checkpoint_every", checkpoint_every)
    options = {
        "stop_reward": stop_reward,
        "stop_eval_episodes": stop_eval_episodes,
        "checkpoint_every": checkpoint_every or (100 if config.mode == "course" else 10),
    }
    # Everything that can fail or take a while (env checks, making the envs, importing torch) happens
    # before the folder is touched.
    agent = Reinforce(config=config, device=device, **(policy or {}))
    agent.trainer = agent.make_trainer()
    created = prepare_out(out, overwrite)
    try:  # from here on the folder is complete and resumable from step 0
        Checkpoint(out, 0, agent.save, options).save(agent.trainer)
    except BaseException:  # Ctrl-C included: leave nothing half made behind
        remove_run_files(out)
        if created:
            out.rmdir()
        raise
    return _train(agent, out, options, progress, extra_callbacks)


def resume_run(
    out: Path, progress: bool = True, device: str = "auto", policy: Any = None, **budget: Any
) -> RunResult:
    """Continue an interrupted (or finished) run where its last checkpoint left it.

    ``budget`` may raise ``n_episodes`` / ``total_env_steps``. With the same budget, an
    interrupted-and-resumed run ends with the same weights and metrics as an uninterrupted one.
    ``policy``: the module to load a torch policy into when its class cannot be imported here.
    """
    from .artifacts.checkpoint import load_resume_state

    out = Path(out)
    state = load_resume_state(out)
    agent = Reinforce.load(out, device=device, policy=policy)
    if budget:
        agent.config = agent.config.replace(**{k: v for k, v in budget.items() if v is not None})
    agent.trainer = agent.make_trainer()
    agent.trainer.load_state_dict(state)
    _truncate_metrics(out / METRICS_FILE, agent.trainer.episodes)
    return _train(agent, out, state["run_options"], progress, None)


def _truncate_metrics(path: Path, episodes: int) -> None:
    """Drop rows written after the checkpoint (they will be produced again)."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: 1 + episodes]))


def _train(
    agent: Reinforce,
    out: Path,
    options: dict[str, Any],
    progress: bool,
    extra_callbacks: list[Callback] | None,
) -> RunResult:
    config = agent.config
    stop_reward, stop_eval_episodes = options["stop_reward"], options["stop_eval_episodes"]
    callbacks: list[Callback] = [MetricsCSV(out / METRICS_FILE)]
    if progress:
        callbacks.append(ProgressBar(config.print_every if config.mode == "course" else None))
    evaluator = None
    if stop_reward is not None:
        if config.mode == "fast" or stop_eval_episodes is not None:
            evaluator = StopOnEvaluation(stop_reward, stop_eval_episodes or 100, seed=config.seed)
            callbacks.append(evaluator)
        else:
            callbacks.append(StopOnTrainingAverage(stop_reward))
    callbacks.append(Checkpoint(out, options["checkpoint_every"], agent.save, options))
    callbacks += extra_callbacks or []

    try:
        agent.learn(callbacks)  # the Checkpoint callback saves the model when training ends
    except TrainingDiverged as exc:
        raise TrainingDiverged(f"{exc}. {out} keeps the last finite checkpoint") from exc
    trainer = agent.trainer
    evaluation = agent.evaluate(config.eval_episodes, seed=config.seed)
    summary = {
        "stop_reason": trainer.stop_reason,
        "interrupted": trainer.interrupted,
        "train_episodes": trainer.episodes,
        "train_env_steps": trainer.env_steps,
        "train_simulated_env_steps": trainer.simulated_env_steps,
        "train_updates": trainer.updates,
        "train_wall_seconds": round(trainer.wall_seconds, 4),
        "train_average_return_100": trainer.average_return if trainer.recent_returns else None,
    }
    if evaluator is not None:
        summary["early_stop_eval_seconds"] = round(evaluator.eval_seconds, 4)
        summary["early_stop_evaluations"] = [
            {"updates": u, "env_steps": s, "wall_seconds": round(w, 4), "mean_return": m}
            for u, s, w, m in evaluator.history
        ]
        summary["solved"] = evaluator.solved_at is not None
    write_json(out / RESULTS_FILE, {**evaluation.to_dict(), "training": summary})
    return RunResult(out, agent, evaluation, summary)


def record_replay(
    agent: Reinforce,
    out: Path,
    episodes: int = 1,
    max_steps: int | None = None,
    fps: int = 30,
    seed: int | None = None,
    deterministic: bool = False,
) -> dict[str, Any]:
    """Write a replay video (mp4, or GIF by the file name) of ``agent``; each episode step-capped."""
    import numpy as np

    from .artifacts.video import check_video_support, record_video
    from .make_env import make_env

    check_video_support(out)
    check_count("episodes", episodes)
    max_steps = agent.config.max_t if max_steps is None else max_steps
    check_count("max_steps", max_steps)
    actor = agent.actor()
    rng = np.random.default_rng(seed)
    env = make_env(agent.config.env_id, render_mode="rgb_array", **agent.config.env_kwargs)
    try:  # the episodes start as an evaluation with this seed does: distinct levels, seeded or not
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
    """Whether a window could be shown: always on macOS and Windows, with X11 or Wayland elsewhere."""
    import os
    import sys

    return sys.platform in ("darwin", "win32") or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def watch(
    agent: Reinforce,
    episodes: int = 3,
    seed: int | None = None,
    deterministic: bool = False,
    max_steps: int | None = None,
) -> tuple[list[float], list[int]]:
    """Play ``episodes`` episodes in a window (``render_mode="human"``; Gymnasium shows envs that only
    render frames, such as Pixelcopter, through its HumanRendering wrapper) and return their returns
    and lengths. The episodes start as an evaluation with this seed does."""
    import warnings

    import numpy as np

    from .make_env import make_env
    from .rollout import collect_episode

    check_count("episodes", episodes)
    if not has_display():
        raise NoWindowError("no display found (DISPLAY is not set)")
    actor = agent.actor()
    rng = np.random.default_rng(seed)
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


def plot_run(runs: list[Path], out: Path, window: int = 100, x: str | None = None) -> Path:
    """Learning curves of one or more run folders (several seeds: mean with a band)."""
    from .artifacts.plots import plot_learning_curves, read_run_metrics

    if x is None:  # fast mode finishes many episodes per update: env steps are the fairer axis
        x = "env_steps" if read_run_metrics(runs[0]).mode == "fast" else "episode"
    return plot_learning_curves(runs, out, window=window, x=x)
