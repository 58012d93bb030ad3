"""The ``reinforcelab`` command line: a thin layer over the Python API."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .agent import Reinforce
from .artifacts.checkpoint import CheckpointError
from .config import PRESETS, TrainConfig, preset as get_preset
from .make_env import EnvError
from .run import RunFolderError, default_out, train_run

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
USER_ERRORS = (EnvError, CheckpointError, RunFolderError, KeyError, ValueError, FileNotFoundError)

ENV_PRESETS = {"CartPole-v1": "course-cartpole", "Pixelcopter-PLE-v0": "course-pixelcopter"}


def fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
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
        changes["hidden_sizes"] = [int(x) for x in str(changes["hidden_sizes"]).split(",") if x]
    return config.replace(**changes)


@app.command()
def train(
    env_id: str = typer.Argument(..., help="Gymnasium environment id, e.g. CartPole-v1 or Pixelcopter-PLE-v0."),
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
) -> None:
    """Train an agent into a run folder: config.json, model.safetensors, metrics.csv, results.json."""
    try:
        config = get_preset(preset or ENV_PRESETS.get(env_id, "course-cartpole"))
        if preset is None and env_id not in ENV_PRESETS:
            config = config.replace(env_id=env_id)
        config = apply_overrides(
            config, set_, env_id=env_id, seed=seed, n_episodes=episodes, total_env_steps=total_steps,
            lr=lr, gamma=gamma, hidden_sizes=hidden, max_t=max_t,
        )
        out = out or default_out(config)
        result = train_run(config, out, overwrite=overwrite, stop_reward=stop_reward,
                           stop_eval_episodes=eval_episodes, progress=progress)
    except USER_ERRORS as exc:
        fail(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc))
    s, ev = result.summary, result.evaluation
    console.print(
        f"[bold]{config.env_id}[/] {config.mode} mode: {s['stop_reason']} after {s['train_episodes']} episodes, "
        f"{s['train_env_steps']:,} env steps, {s['train_wall_seconds']:.1f} s"
    )
    console.print(f"evaluation ({len(ev.returns)} episodes, sampled actions): "
                  f"{ev.mean_reward:.2f} +/- {ev.std_reward:.2f}")
    console.print(f"run folder: {result.out}")


@app.command()
def evaluate(
    run: Path = typer.Argument(..., help="A run folder (config.json + model.safetensors)."),
    episodes: int = typer.Option(10, help="Number of evaluation episodes."),
    deterministic: bool = typer.Option(False, help="Greedy actions instead of sampled ones."),
    seed: Optional[int] = typer.Option(None, help="Seed for the env resets and the action sampling."),
    max_t: Optional[int] = typer.Option(None, help="Step cap per episode (default: the run's max_t)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
) -> None:
    """Evaluate a trained agent with the course protocol (mean and population std of returns)."""
    try:
        agent = Reinforce.load(run)
        result = agent.evaluate(episodes, deterministic=deterministic, seed=seed, max_t=max_t)
    except USER_ERRORS as exc:
        fail(str(exc))
    if as_json:
        d = result.to_dict()
        keys = ("env_id", "mean_reward", "std_reward", "returns", "lengths", "deterministic", "seed")
        print(json.dumps({"n_episodes": d["n_evaluation_episodes"], **{k: d[k] for k in keys}}))
    else:
        console.print(f"{result.env_id}: mean_reward={result.mean_reward:.2f} +/- {result.std_reward:.2f} "
                      f"over {len(result.returns)} episodes ({'greedy' if deterministic else 'sampled'} actions)")


@app.command()
def presets() -> None:
    """List the named presets and their hyperparameters."""
    for name, cfg in PRESETS.items():
        console.print(f"[bold]{name}[/]: " + ", ".join(f"{k}={v}" for k, v in cfg.to_dict().items()
                                                        if k != "env_kwargs"))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
