"""A training run as a folder: config, weights, resume state, per-episode metrics and the final
evaluation.

``train_run`` is what ``reinforcelab train`` does; it is usable from Python as well.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .agent import Reinforce
from .artifacts.checkpoint import FORMAT, write_json
from .artifacts.files import CONFIG_FILE, METRICS_FILE, RESULTS_FILE, RUN_FILES
from .callbacks import Callback, Checkpoint, MetricsCSV, ProgressBar, StopOnEvaluation
from .checks import (
    COUNT,
    DEVICE,
    FINITE,
    FLAG,
    WRITABLE_FOLDER,
    Instance,
    Items,
    Mapping,
    OrNone,
    arguments,
)
from .config import TrainConfig
from .errors import UserError
from .loops import TrainingDiverged
from .playback import EvalResult


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
) -> RunResult:
    """Train an agent into the run folder ``out`` and evaluate it with the course protocol.

    Args:
        policy: your own torch policy, as the ``Reinforce`` arguments ``{"policy": module or
            class, "policy_kwargs": ..., "policy_output": ...}`` (default: the built-in one).
        stop_reward: stop early at this score: in course mode when the 100-episode training
            average reaches it; in fast mode (or with ``stop_eval_episodes``) when an evaluation of
            ``stop_eval_episodes`` sampled-action episodes on a separate env does.
        checkpoint_every: save model and resume state every this many updates (default: the
            mode's, 100 in course mode and 10 in fast mode); also at the end and on Ctrl-C.
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
    created = prepare_out(out, overwrite)
    try:  # from here on the folder is complete and resumable from step 0
        Checkpoint(out, 0, options).save(loop)
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
    loop = agent.training_loop()
    loop.load_state_dict(state)
    _truncate_metrics(out / METRICS_FILE, loop.episodes)
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
    config, loop = agent.config, agent.training_loop()
    callbacks: list[Callback] = [MetricsCSV(out / METRICS_FILE)]
    if progress:
        callbacks.append(ProgressBar())
    stop = None
    if options["stop_reward"] is not None:
        stop = loop.stop_criterion(options["stop_reward"], options["stop_eval_episodes"])
        callbacks.append(stop)
    callbacks.append(Checkpoint(out, options["checkpoint_every"], options))
    callbacks += extra_callbacks or []

    try:
        agent.learn(callbacks)  # the Checkpoint callback saves the model when training ends
    except TrainingDiverged as exc:
        raise TrainingDiverged(f"{exc}. {out} keeps the last finite checkpoint") from exc
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
    return RunResult(out, agent, evaluation, summary)
