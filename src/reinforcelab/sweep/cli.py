"""``reinforcelab sweep``: the command, registered on the main app by ``register``.

Only typer and the config are imported here; Optuna, scipy and Ray load when a sweep actually runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..checks import (
    COUNT,
    EXISTING_FILE,
    EXISTING_FOLDER,
    FINITE,
    WRITABLE_FOLDER,
    Choice,
    Number,
    Seeds,
    Text,
)
from ..cli_options import argument, option, to_path
from ..config import PRESETS, all_fields
from ..errors import UserError
from .backends import RAY_CONNECT_TIMEOUT
from .results import describe
from .spec import METHODS, OBJECTIVES, SweepSpecError

# no markup: a folder named runs/[x] is printed as it is
console = Console(soft_wrap=True, markup=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False)
# The main app's one-line error reporting, handed over by ``register`` (this module must not import
# reinforcelab.cli: that imports this module).
app_fail: Callable[[UserError], None] | None = None
SEEDS = Seeds()
#: a Ray cluster: HOST:PORT (an IPv6 host in brackets), ray://HOST:PORT, or auto / local
RAY_ADDRESS = Text(
    "HOST:PORT, ray://HOST:PORT or auto",
    pattern=r"auto|local|(?:ray://)?(?:\[[0-9A-Fa-f:.]+\]|[\w.-]+):\d{1,5}",
)


def to_seeds(text: str) -> int | list[int]:
    """``10`` (a count) or ``0,1,2`` (a list)."""
    values = [int(s) for s in text.split(",") if s.strip()]
    return values[0] if len(values) == 1 and "," not in text else values


def sweep(
    file: Annotated[
        Path | None,
        argument(
            "FILE",
            EXISTING_FILE,
            "Sweep file (.toml, .yaml); flags below override its keys.",
            to_path,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        option(
            "--out",
            WRITABLE_FOLDER,
            "Sweep folder to create. Default: runs/sweep-<file name or preset>.",
            to_path,
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        option(
            "--resume",
            EXISTING_FOLDER,
            "Continue this sweep folder after Ctrl-C or a crash.",
            to_path,
        ),
    ] = None,
    preset: Annotated[
        str | None,
        option(
            "--preset",
            Choice(tuple(PRESETS)),
            "Base preset the parameters modify, e.g. fast-cartpole.",
            metavar="NAME",
        ),
    ] = None,
    env: Annotated[
        str | None,
        option(
            "--env",
            all_fields()["env_id"].metadata["rule"],
            "Environment id (default: the preset's).",
            metavar="ENV_ID",
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        option(
            "--param",
            Text("NAME=VALUES", pattern=r"[^=]+=.+"),
            "A parameter to vary: NAME=V1,V2 (grid values) or NAME=LOW..HIGH[:log] "
            "(a TPE range). Repeatable.",
            metavar="NAME=VALUES",
        ),
    ] = None,
    seeds: Annotated[
        Any,  # a count or a list (typer has no union type)
        option(
            "--seeds",
            SEEDS,
            "Training seeds: a count (10 -> 0..9) or a list 0,1,2.",
            to_seeds,
            "SEEDS",
        ),
    ] = None,
    confirm_seeds: Annotated[
        Any,
        option(
            "--confirm-seeds",
            SEEDS,
            "Fresh seeds the best configuration and the preset are retrained on "
            "(default: as many as --seeds, from 1000).",
            to_seeds,
            "SEEDS",
        ),
    ] = None,
    method: Annotated[
        str | None,
        option(
            "--method",
            Choice(METHODS),
            "grid (every combination) or tpe (Optuna's TPE sampler).",
            metavar="METHOD",
        ),
    ] = None,
    trials: Annotated[
        int | None,
        option("--trials", COUNT, "TPE: configurations to try (each on every seed).", int),
    ] = None,
    pruning: Annotated[
        bool | None,
        typer.Option(help="TPE: stop a configuration whose seeds so far fall below the median."),
    ] = None,
    objective: Annotated[
        str | None,
        option(
            "--objective",
            Choice(OBJECTIVES),
            "mean, or mean-std (the course's score), of the held-out episodes.",
            metavar="OBJECTIVE",
        ),
    ] = None,
    eval_episodes: Annotated[
        int | None,
        option(
            "--eval-episodes",
            COUNT,
            "Held-out evaluation episodes per trained agent (default 100).",
            int,
        ),
    ] = None,
    total_steps: Annotated[
        int | None,
        option("--total-steps", COUNT, "Per-trial budget: env steps (fast mode).", int),
    ] = None,
    episodes: Annotated[
        int | None,
        option("--episodes", COUNT, "Per-trial budget: episodes (course mode).", int),
    ] = None,
    seconds: Annotated[
        float | None,
        option(
            "--seconds",
            Number(0, open_low=True),
            "Per-trial budget: training wall-clock seconds.",
            float,
        ),
    ] = None,
    stop_reward: Annotated[
        float | None,
        option("--stop-reward", FINITE, "Per-trial early stop at this evaluation score.", float),
    ] = None,
    workers: Annotated[
        int | None,
        option(
            "--workers",
            COUNT,
            "Embedded backend: worker processes (default: one per core).",
            int,
        ),
    ] = None,
    ray_address: Annotated[
        str | None,
        option(
            "--ray-address",
            RAY_ADDRESS,
            "Run the trials on this Ray cluster (HOST:PORT, or auto); needs reinforcelab[ray].",
            metavar="ADDRESS",
        ),
    ] = None,
    ray_timeout: Annotated[
        float,
        option(
            "--ray-timeout",
            Number(0, open_low=True),
            "Seconds the Ray cluster has to answer; then the sweep stops with one line.",
            float,
        ),
    ] = RAY_CONNECT_TIMEOUT,
    tensorboard: Annotated[
        Path | None,
        option(
            "--tensorboard",
            WRITABLE_FOLDER,
            "Write each trial's training scalars under this folder.",
            to_path,
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option(help="Show trials done / running / failed and the best so far.")
    ] = True,
) -> None:
    """Run many seeds of many configurations and report statistics over seeds: trials.csv,
    summary.json (mean and IQM with 95% bootstrap CIs, the best re-trained on fresh seeds, its
    probability of improvement over the preset) and report.png. Ctrl-C or SIGTERM stops it
    (exit code 130) keeping the finished trials; --resume continues."""
    from .driver import SweepInterrupted, resume_sweep, run_sweep
    from .spec import load_spec, parse_param_flag, spec_from_dict

    try:
        flags = {
            "preset": preset,
            "env": env,
            "seeds": seeds,
            "confirm_seeds": confirm_seeds,
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
            summary = resume_sweep(resume, ray_address, workers, progress, tensorboard, ray_timeout)
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
            summary = run_sweep(
                spec, folder, ray_address, workers, progress, tensorboard, ray_timeout
            )
    except SweepInterrupted as exc:
        err_console.print(str(exc), highlight=False)
        raise typer.Exit(130) from None
    except UserError as exc:
        if app_fail is None:  # not registered on the main app: no one-line reporter
            raise
        app_fail(exc)  # exits
        return
    print_summary(console, summary, folder)


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
