"""``reinforcelab sweep``: the command, registered on the main app by ``register``.

Only typer is imported here; Optuna, scipy and Ray load when a sweep actually runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..errors import UserError
from .results import describe
from .spec import SweepSpecError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
# The main app's one-line error reporting, handed over by ``register`` (this module must not import
# reinforcelab.cli: that imports this module).
app_fail: Callable[[UserError], None] | None = None


def sweep(
    file: Annotated[
        Path | None,
        typer.Argument(help="Sweep file (.toml, .yaml); flags below override its keys."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Sweep folder to create. Default: runs/sweep-<file name or preset>."),
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue this sweep folder after Ctrl-C or a crash.")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Base preset the parameters modify, e.g. fast-cartpole.")
    ] = None,
    env: Annotated[str | None, typer.Option(help="Environment id (default: the preset's).")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="A parameter to vary: NAME=V1,V2 (grid values) or NAME=LOW..HIGH[:log] "
            "(a TPE range). Repeatable.",
        ),
    ] = None,
    seeds: Annotated[
        str | None, typer.Option(help="Training seeds: a count (10 -> 0..9) or a list 0,1,2.")
    ] = None,
    confirm_seeds: Annotated[
        str | None,
        typer.Option(
            help="Fresh seeds the best configuration and the preset are retrained on "
            "(default: as many as --seeds, from 1000)."
        ),
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="grid (every combination) or tpe (Optuna's TPE sampler).")
    ] = None,
    trials: Annotated[
        int | None, typer.Option(help="TPE: configurations to try (each on every seed).")
    ] = None,
    pruning: Annotated[
        bool | None,
        typer.Option(help="TPE: stop a configuration whose seeds so far fall below the median."),
    ] = None,
    objective: Annotated[
        str | None,
        typer.Option(help="mean, or mean-std (the course's score), of the held-out episodes."),
    ] = None,
    eval_episodes: Annotated[
        int | None,
        typer.Option(help="Held-out evaluation episodes per trained agent (default 100)."),
    ] = None,
    total_steps: Annotated[
        int | None, typer.Option(help="Per-trial budget: env steps (fast mode).")
    ] = None,
    episodes: Annotated[
        int | None, typer.Option(help="Per-trial budget: episodes (course mode).")
    ] = None,
    seconds: Annotated[
        float | None, typer.Option(help="Per-trial budget: training wall-clock seconds.")
    ] = None,
    stop_reward: Annotated[
        float | None, typer.Option(help="Per-trial early stop at this evaluation score.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Embedded backend: worker processes (default: one per core).")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Run the trials on this Ray cluster (HOST:PORT, or auto); needs reinforcelab[ray]."
        ),
    ] = None,
    tensorboard: Annotated[
        Path | None, typer.Option(help="Write each trial's training scalars under this folder.")
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="Show trials done / running / failed and the best so far.")
    ] = True,
) -> None:
    """Run many seeds of many configurations and report statistics over seeds: trials.csv,
    summary.json (mean and IQM with 95% bootstrap CIs, the best re-trained on fresh seeds, its
    probability of improvement over the preset) and report.png."""
    from .driver import SweepInterrupted, resume_sweep, run_sweep
    from .spec import load_spec, parse_param_flag, spec_from_dict

    try:
        flags = {
            "preset": preset,
            "env": env,
            "seeds": _seeds(seeds),
            "confirm_seeds": _seeds(confirm_seeds),
            "method": method,
            "trials": trials,
            "pruning": pruning,
            "objective": objective,
            "eval_episodes": eval_episodes,
        }
        budget = {
            "total_env_steps": total_steps,
            "n_episodes": episodes,
            "seconds": seconds,
            "stop_reward": stop_reward,
        }
        if resume is not None:
            given = [k for k, v in {**flags, **budget, "out": out}.items() if v is not None]
            if file is not None or param or given:
                raise SweepSpecError(
                    "--resume continues a sweep as it was started: give no sweep file, --param or "
                    f"--{(given or ['param'])[0].replace('_', '-')}"
                )
            summary = resume_sweep(resume, ray_address, workers, progress, tensorboard)
            folder = resume
        else:
            data = load_spec(file) if file is not None else {}
            data.update({k: v for k, v in flags.items() if v is not None})
            data["budget"] = {
                **data.get("budget", {}),
                **{k: v for k, v in budget.items() if v is not None},
            }
            if param:
                data["parameters"] = dict(parse_param_flag(p) for p in param)
            spec = spec_from_dict(data)
            folder = out or Path("runs") / f"sweep-{file.stem if file else spec.preset}"
            summary = run_sweep(spec, folder, ray_address, workers, progress, tensorboard)
    except SweepInterrupted as exc:
        err_console.print(str(exc), highlight=False)
        raise typer.Exit(130) from None
    except UserError as exc:
        if app_fail is None:  # not registered on the main app: no one-line reporter
            raise
        app_fail(exc)  # exits
        return
    print_summary(console, summary, folder)


def _seeds(text: str | None) -> int | list[int] | None:
    if text is None:
        return None
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise SweepSpecError(
            f"--seeds must be a count or a comma-separated list of integers; got {text!r}"
        ) from exc
    return values[0] if len(values) == 1 and "," not in text else values


def print_summary(console: Console, summary: dict[str, Any], folder: Path) -> None:
    def interval(stat: dict[str, Any], key: str) -> str:
        low, high = stat[f"{key}_ci"]
        return f"{stat[key]:.1f} [{low:.1f}, {high:.1f}]"

    counts = summary["counts"]
    console.print(
        f"{counts['complete']} configurations complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed in {summary['wall_seconds']:.1f} s ({summary['backend']})"
    )
    console.print("top configurations (search seeds; mean and IQM with 95% bootstrap CIs):")
    for row in [r for r in summary["configurations"] if r.get("n")][:5]:
        state = "" if row["state"] == "complete" else f" ({row['state']})"
        console.print(
            f"  {row['config_id']:<11} {describe(row['params']):<36} mean {interval(row, 'mean')}  "
            f"IQM {interval(row, 'iqm')}  n={row['n']}{state}",
            highlight=False,
        )
    best = summary.get("best")
    if best and best["confirmation"].get("n"):
        conf, base = best["confirmation"], summary["base_confirmation"]
        poi = summary["probability_of_improvement"]
        if best["config_id"] == "base":
            console.print(
                f"best: the preset itself; on {conf['n']} fresh seeds: "
                f"mean {interval(conf, 'mean')}, IQM {interval(conf, 'iqm')}",
                highlight=False,
            )
        else:
            console.print(
                f"best {best['config_id']} on {conf['n']} fresh seeds: "
                f"mean {interval(conf, 'mean')}, IQM {interval(conf, 'iqm')}; "
                f"preset: mean {interval(base, 'mean')}; "
                f"P(best > preset) = {poi['value']:.2f} [{poi['ci'][0]:.2f}, {poi['ci'][1]:.2f}]",
                highlight=False,
            )
    console.print(f"sweep folder: {folder}  (summary.json, trials.csv, report.png)")


def register(app: typer.Typer, fail: Callable[[UserError], None]) -> None:
    """Add ``sweep`` to the main app, reporting a ``UserError`` with its ``fail`` (one line, exit
    code 2)."""
    global app_fail
    app_fail = fail
    app.command("sweep")(sweep)
