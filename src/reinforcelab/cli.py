"""The ``reinforcelab`` command line: a thin layer over the Python API."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console

from . import load as load_agent
from .artifacts.checkpoint import CheckpointError
from .artifacts.hub import HubError
from .artifacts.plots import PlotError
from .artifacts.video import VideoError
from .trainers import TrainingDiverged
from .config import COURSE_BARS, MODE_FIELDS, PRESETS, ConfigError, TrainConfig, preset as get_preset
from .make_env import EnvError
from .run import (NoWindowError, RunFolderError, default_out, plot_run, record_replay, resume_run, train_run,
                  watch)

app = typer.Typer(
    help="REINFORCE (Monte Carlo policy gradient) agents for Gymnasium: train, evaluate, record, "
    "plot, share. Course mode reproduces the HF Deep RL course Unit 4; fast mode trains on "
    "vectorised environments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# Errors a user can cause; reported as one line, no traceback.
USER_ERRORS = (EnvError, CheckpointError, RunFolderError, HubError, VideoError, PlotError, KeyError, ValueError,
               FileNotFoundError, TrainingDiverged)

#: The command-line option of each config field that has one (others are set with --set FIELD=VALUE).
FIELD_OPTIONS = {"seed": "--seed", "n_episodes": "--episodes", "total_env_steps": "--total-steps", "lr": "--lr",
                 "gamma": "--gamma", "hidden_sizes": "--hidden", "max_t": "--max-t"}


def option_error(exc: ConfigError) -> str:
    """A config error named by the option the user typed."""
    option = FIELD_OPTIONS.get(exc.field, exc.field)
    return f"{option} {exc.problem}"


def check_option(option: str, value: float | None, low: float, integer: bool = True) -> None:
    """One-line error unless ``value`` is None or a finite number >= ``low`` (> 0 for ``low=0``
    floats)."""
    if value is None:
        return
    if integer and value < low:
        raise ValueError(f"{option} must be an integer >= {low:g}; got {value}")
    if not integer and not (math.isfinite(value) and value > low):
        raise ValueError(f"{option} must be a finite number > {low:g}; got {value}")

HubEndpoint = Annotated[Optional[str], typer.Option(help="Hub URL (default: HF_ENDPOINT or https://huggingface.co).")]
HubToken = Annotated[Optional[str], typer.Option(help="Hub token for private repos (default: saved login or HF_TOKEN).")]

ENV_PRESETS = {"CartPole-v1": "course-cartpole", "Pixelcopter-PLE-v0": "course-pixelcopter"}


def fail(message: str) -> None:
    err_console.print(err_console.render_str("[bold red]error:[/] ") + message, highlight=False)  # message: no markup
    raise typer.Exit(2)


def parse_value(text: str):
    lowered = text.strip().lower()
    if lowered in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_overrides(config: TrainConfig, assignments: list[str], **flags) -> TrainConfig:
    changes = {k: v for k, v in flags.items() if v is not None}
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for item in assignments:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in fields:
            raise ValueError(f"--set: unknown config field {key!r}; fields: {', '.join(sorted(fields))}")
        changes[key] = parse_value(value)
    if "hidden_sizes" in changes and not isinstance(changes["hidden_sizes"], (list, tuple)):
        text = str(changes["hidden_sizes"])
        try:
            changes["hidden_sizes"] = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise ValueError(f"--hidden must be comma-separated positive integers, e.g. 64,128; got {text!r}") from None
    return config.replace(**changes)


@app.command()
def train(
    env_id: Optional[str] = typer.Argument(
        None, help="Gymnasium environment id, e.g. CartPole-v1 or Pixelcopter-PLE-v0 (not needed with --resume)."),
    preset: Optional[str] = typer.Option(
        None, help=f"Named hyperparameters: {', '.join(PRESETS)}. Default: the course preset for the env."),
    seed: Optional[int] = typer.Option(None, help="Seed for torch, numpy and the envs (bit-identical reruns on CPU)."),
    out: Optional[Path] = typer.Option(None, help="Run folder to create. Default: runs/<env>-<mode>-s<seed>."),
    overwrite: bool = typer.Option(False, help="Replace an existing run folder at --out."),
    episodes: Optional[int] = typer.Option(None, help="Course mode: training episodes (one update each)."),
    total_steps: Optional[int] = typer.Option(None, help="Fast mode: training budget in env steps."),
    stop_reward: Optional[float] = typer.Option(
        None, help="Stop once the score reaches this: the 100-episode training average (course mode) "
        "or the mean of --eval-episodes evaluation episodes (fast mode)."),
    eval_episodes: Optional[int] = typer.Option(
        None, help="Episodes of the early-stopping evaluation (with --stop-reward); also used by fast mode."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate."),
    gamma: Optional[float] = typer.Option(None, help="Discount factor."),
    hidden: Optional[str] = typer.Option(None, help="Hidden layer widths, comma-separated, e.g. 64,128."),
    max_t: Optional[int] = typer.Option(None, help="Step cap per episode."),
    set_: list[str] = typer.Option([], "--set", help="Override any config field: --set entropy_coef=0.01 (repeatable)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    plot: bool = typer.Option(True, help="Write the learning curve curve.png into the run folder."),
    record: bool = typer.Option(False, help="Record one episode as replay.mp4 into the run folder."),
    resume: Optional[Path] = typer.Option(
        None, help="Continue this run folder from its last checkpoint (optimizer, RNG and env state); "
        "--episodes / --total-steps may raise its budget."),
    checkpoint_every: Optional[int] = typer.Option(
        None, help="Save model and resume state every N updates (default 100 course, 10 fast); also at the end and on Ctrl-C."),
    tensorboard: Optional[Path] = typer.Option(
        None, help="Write TensorBoard scalars (episode return, 100-episode mean, env steps/s) to this folder; "
        "needs reinforcelab[tensorboard]."),
) -> None:
    """Train an agent into a run folder: config.json, model.safetensors, metrics.csv, results.json,
    curve.png (and replay.mp4 with --record)."""
    try:
        check_option("--eval-episodes", eval_episodes, 1)
        check_option("--checkpoint-every", checkpoint_every, 1)
        check_option("--episodes", episodes, 1)
        check_option("--total-steps", total_steps, 1)
        if stop_reward is not None and not math.isfinite(stop_reward):
            raise ValueError(f"--stop-reward must be a finite number; got {stop_reward}")
        if resume is not None:
            if tensorboard is not None:
                raise ValueError("--tensorboard applies to new runs, not to --resume")
            result = resume_run(resume, progress=progress, n_episodes=episodes, total_env_steps=total_steps)
            config = result.agent.config
        elif env_id is None:
            raise ValueError("give an environment id (e.g. CartPole-v1) or --resume RUN")
        else:
            config, result = new_run(env_id, preset, seed, out, overwrite, episodes, total_steps, stop_reward,
                                     eval_episodes, lr, gamma, hidden, max_t, set_, progress, checkpoint_every,
                                     tensorboard)
        written = []
        if plot and result.summary["train_episodes"] > 0:
            written.append(plot_run([result.out], result.out / "curve.png"))
        if record:
            written.append(record_replay(result.agent, result.out / "replay.mp4", seed=config.seed)["path"])
    except ConfigError as exc:
        fail(option_error(exc))
    except USER_ERRORS as exc:
        fail(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc))
    s, ev = result.summary, result.evaluation
    console.print(
        f"[bold]{config.env_id}[/] {config.mode} mode: {s['stop_reason']} after {s['train_episodes']} episodes, "
        f"{s['train_env_steps']:,} env steps, {s['train_wall_seconds']:.1f} s"
    )
    console.print(f"evaluation ({len(ev.returns)} episodes, sampled actions): "
                  f"{ev.mean_reward:.2f} +/- {ev.std_reward:.2f}")
    console.print(f"run folder: {result.out}  ({', '.join(sorted(p.name for p in result.out.iterdir()))})")
    if s["interrupted"]:
        console.print(f"continue with: reinforcelab train --resume {result.out}")


def new_run(env_id, preset, seed, out, overwrite, episodes, total_steps, stop_reward, eval_episodes, lr, gamma,
            hidden, max_t, assignments, progress, checkpoint_every, tensorboard=None):
    config = get_preset(preset or ENV_PRESETS.get(env_id, "course-cartpole"))
    config = apply_overrides(
        config, assignments, env_id=env_id, seed=seed, n_episodes=episodes, total_env_steps=total_steps,
        lr=lr, gamma=gamma, hidden_sizes=hidden, max_t=max_t,
    )
    result = train_run(config, out or default_out(config), overwrite=overwrite, stop_reward=stop_reward,
                       stop_eval_episodes=eval_episodes, progress=progress, checkpoint_every=checkpoint_every,
                       extra_callbacks=tensorboard_callbacks(tensorboard))
    return config, result


def tensorboard_callbacks(logdir: Optional[Path]) -> list:
    if logdir is None:
        return []
    from .tensorboard import TensorBoardScalars  # only now: tensorboardX imports torch

    return [TensorBoardScalars(logdir)]


@app.command()
def evaluate(
    run: str = typer.Argument(..., help="A run folder (config.json + model.safetensors) or a Hub repo USER/NAME."),
    episodes: int = typer.Option(10, help="Number of evaluation episodes."),
    deterministic: bool = typer.Option(False, help="Greedy actions instead of sampled ones."),
    seed: Optional[int] = typer.Option(None, help="Seed for the env resets and the action sampling."),
    max_t: Optional[int] = typer.Option(None, help="Step cap per episode (default: the run's max_t)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
    endpoint: HubEndpoint = None,
    token: HubToken = None,
) -> None:
    """Evaluate a trained agent with the course protocol (mean and population std of returns) and
    say whether it passes the course's bar (mean - std)."""
    try:
        check_option("--episodes", episodes, 1)
        check_option("--max-t", max_t, 1)
        agent = load_agent(run, endpoint=endpoint, token=token)
        result = agent.evaluate(episodes, deterministic=deterministic, seed=seed, max_t=max_t)
    except USER_ERRORS as exc:
        fail(str(exc))
    bar = COURSE_BARS.get(result.env_id)
    if as_json:
        d = result.to_dict()
        keys = ("env_id", "mean_reward", "std_reward", "returns", "lengths", "deterministic", "seed")
        print(json.dumps({"n_episodes": d["n_evaluation_episodes"], **{k: d[k] for k in keys},
                          "score": result.score, "course_bar": bar,
                          "passes_course_bar": None if bar is None else result.score >= bar}))
        return
    console.print(f"{result.env_id}: mean_reward={result.mean_reward:.2f} +/- {result.std_reward:.2f} "
                  f"over {len(result.returns)} episodes ({'greedy' if deterministic else 'sampled'} actions)")
    verdict = "" if bar is None else (f"; {'passes' if result.score >= bar else 'below'} the course bar "
                                      f"of {bar:g}")
    console.print(f"score (mean - std): {result.score:.2f}{verdict}")


@app.command("record")
def record_cmd(
    run: str = typer.Argument(..., help="A run folder, or a Hub repo USER/NAME."),
    out: Path = typer.Option(Path("replay.mp4"), help="Video file: .mp4 (H.264) or .gif."),
    episodes: int = typer.Option(1, help="Episodes to record, back to back."),
    max_steps: Optional[int] = typer.Option(None, help="Step cap per episode (default: the run's max_t)."),
    fps: int = typer.Option(30, help="Frames per second."),
    seed: Optional[int] = typer.Option(None, help="Seed for the env reset and the action sampling."),
    deterministic: bool = typer.Option(False, help="Greedy actions instead of sampled ones."),
    endpoint: HubEndpoint = None,
    token: HubToken = None,
) -> None:
    """Record a replay video of a trained agent (frames = steps + 1 per episode)."""
    try:
        check_option("--episodes", episodes, 1)
        check_option("--max-steps", max_steps, 1)
        check_option("--fps", fps, 0, integer=False)
        from .artifacts.video import check_video_support

        check_video_support(out)
        agent = load_agent(run, endpoint=endpoint, token=token)
        info = record_replay(agent, out, episodes, max_steps, fps, seed, deterministic)
    except USER_ERRORS as exc:
        fail(str(exc))
    console.print(f"wrote {info['path']}: {info['frames']} frames, {info['size'][0]}x{info['size'][1]}, "
                  f"episode returns {info['episode_returns']}")


@app.command("plot")
def plot_cmd(
    runs: list[Path] = typer.Argument(..., help="One or more run folders (several seeds: mean with a band)."),
    out: Path = typer.Option(Path("curve.png"), help="PNG file to write."),
    window: int = typer.Option(100, help="Rolling-mean window in episodes."),
    x: Optional[str] = typer.Option(None, help="x axis: episode or env_steps (default: by mode)."),
) -> None:
    """Plot learning curves: episode returns, the rolling mean and the env's reward threshold."""
    try:
        path = plot_run(runs, out, window, x)
    except USER_ERRORS as exc:
        fail(str(exc))
    console.print(f"wrote {path}")


@app.command()
def push(
    run: Path = typer.Argument(..., help="The run folder to publish."),
    repo_id: str = typer.Option(..., help="Hub repo USER/NAME (created if missing)."),
    token: Optional[str] = typer.Option(None, help="Hub token with write access (default: saved login or HF_TOKEN)."),
    endpoint: HubEndpoint = None,
    private: bool = typer.Option(False, help="Create the repo as private."),
    eval_episodes: int = typer.Option(10, help="Evaluation episodes for the model card (course protocol)."),
    seed: Optional[int] = typer.Option(None, help="Seed of the evaluation and the replay."),
    dry_run: Optional[Path] = typer.Option(
        None, help="Write the folder that would be uploaded here (plus DIR-manifest.json beside it); contact nothing."),
    video: bool = typer.Option(True, help="Record replay.mp4 for the card."),
) -> None:
    """Evaluate, record and publish a run to the Hugging Face Hub with a model card."""
    import shlex

    from .artifacts.hub import HubUploadError
    from .publish import publish_run

    try:
        result = publish_run(run, repo_id, token=token, endpoint=endpoint, private=private,
                             eval_episodes=eval_episodes, seed=seed, video=video, dry_run=dry_run)
    except HubUploadError as exc:
        again = [f"reinforcelab push {shlex.quote(str(run))} --repo-id {repo_id}",
                 f"--endpoint {shlex.quote(endpoint)}" if endpoint else "", "--private" if private else "",
                 f"--eval-episodes {eval_episodes}" if eval_episodes != 10 else "",
                 f"--seed {seed}" if seed is not None else "", "" if video else "--no-video"]
        fail(f"{exc}\nTo publish the run again: {' '.join(a for a in again if a)}")
    except USER_ERRORS as exc:
        fail(str(exc))
    ev = result.evaluation
    console.print(f"evaluation: {ev.mean_reward:.2f} +/- {ev.std_reward:.2f} over {eval_episodes} episodes; "
                  f"files: {', '.join(result.files)}")
    if result.dry_run:
        console.print(f"dry run: nothing uploaded; Hub folder {result.folder}, manifest {result.manifest}")
    else:
        console.print(f"pushed to {result.url}")


@app.command()
def enjoy(
    source: str = typer.Argument(..., help="A run folder or a Hub repo USER/NAME."),
    episodes: int = typer.Option(3, help="Episodes to play."),
    record: Optional[Path] = typer.Option(None, help="Record them to this .mp4/.gif file instead of showing them."),
    deterministic: bool = typer.Option(False, help="Greedy actions instead of sampled ones."),
    seed: Optional[int] = typer.Option(None, help="Seed for the env and the action sampling."),
    endpoint: HubEndpoint = None,
    token: HubToken = None,
    allow_pickle: bool = typer.Option(
        False, help="Accept a repo whose model is only a pickle (course notebook agents). Pickles can run code."),
) -> None:
    """Load an agent (locally or from the Hub: only safetensors and JSON are downloaded) and watch it
    play: in a window when there is a display, else printed. With --record the printed episodes
    are the recorded ones."""
    try:
        check_option("--episodes", episodes, 1)
        if record is not None:
            from .artifacts.video import check_video_support

            check_video_support(record)
        agent = load_agent(source, endpoint=endpoint, token=token, allow_pickle=allow_pickle)
        if record is not None:
            info = record_replay(agent, record, episodes, None, 30, seed, deterministic)
            returns, lengths = info["episode_returns"], info["episode_steps"]
        else:
            try:
                returns, lengths = watch(agent, episodes, seed, deterministic)
            except NoWindowError as exc:
                console.print(f"{exc}: printing the episodes instead of showing them "
                              "(--record FILE.mp4 films them)")
                result = agent.evaluate(episodes, deterministic=deterministic, seed=seed)
                returns, lengths = result.returns, result.lengths
    except USER_ERRORS as exc:
        fail(str(exc))
    for i, (ret, length) in enumerate(zip(returns, lengths), 1):
        console.print(f"episode {i}: return {ret:g} in {length} steps")
    console.print(f"{agent.config.env_id}: {np.mean(returns):.2f} +/- {np.std(returns):.2f}")
    if record is not None:
        console.print(f"wrote {info['path']} ({info['frames']} frames: these {episodes} episodes)")


@app.command()
def presets() -> None:
    """List the named presets: one table per mode, with the fields that mode uses."""
    from rich.table import Table

    for mode, fields in MODE_FIELDS.items():
        names = [name for name, cfg in PRESETS.items() if cfg.mode == mode]
        table = Table(title=f"{mode} mode", title_justify="left")
        table.add_column("field")
        for name in names:
            table.add_column(name)
        for field in fields:
            if field in ("mode", "seed", "env_kwargs"):
                continue
            values = [getattr(PRESETS[name], field) for name in names]
            table.add_row(field, *("-" if v is None else ",".join(map(str, v)) if isinstance(v, tuple)
                                   else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)
                                   for v in values))
        console.print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


from .sweep.cli import register as register_sweep  # noqa: E402  (after the app's own commands)

register_sweep(app, fail, USER_ERRORS)

if __name__ == "__main__":
    main()
