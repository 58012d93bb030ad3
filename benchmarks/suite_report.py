"""What ``suite.py`` reports: the summary table (medians over seeds and every seed's value), the
per-run table, what each method ran with, and the time-to-threshold plot."""

from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from report import Report
from suite import ENV_BY_ID, cap_minutes, reinforcelab_config
from suite_zoo import ZOO_REVISION, zoo_setup

METHOD_NAMES = {"reinforcelab": "reinforcelab", "sb3-ppo": "SB3 PPO", "sb3-a2c": "SB3 A2C"}
# how reinforcelab stepped its training envs (envs.make.vectorization_mode's answer)
BACKENDS = {
    "vector_entry_point": "its numpy-batched vector env",
    "envpool": "EnvPool",
    "sync": "Gymnasium's sync vector env",
    "async": "Gymnasium's async vector env",
}


def write_report(
    report: Report, results: list[dict[str, Any]], args: argparse.Namespace, seconds: float
) -> None:
    runs = [r for r in results if ran(r)]
    report.line(conditions(results, args, seconds))
    report.line()
    report.header(
        "env", "method", "solved", "train s to threshold", "env steps to threshold",
        "final score", "peak MB",
    )  # fmt: skip
    for (env_id, method), group in grouped(results).items():
        done = [r for r in group if ran(r)]
        if not done and all("not_run" in r for r in group):
            report.row(env_id, METHOD_NAMES[method], "not run", *["-"] * 4)
            continue
        solved = sum(r["solved"] is not None for r in done)
        tried = [r for r in group if "not_run" not in r]
        not_run = len(group) - len(tried)
        report.row(
            env_id,
            METHOD_NAMES[method],
            f"{solved}/{len(tried)}" + (f" ({not_run} not run)" if not_run else ""),
            cell(done, solved_seconds, seconds_text),
            cell(done, solved_steps, steps_text),
            cell(done, lambda r: r["final"]["score"], score_text),
            cell(done, lambda r: r["peak_rss_mb"], lambda x: f"{x:.0f}"),
        )
    report.line(
        "\nMedian over seeds, then each seed's value in seed order. Time: training wall-clock "
        "seconds (evaluations excluded) until the first evaluation at or above the threshold; "
        "'>T': not reached in T seconds (such a seed counts as never in the median). Env steps: "
        "those the learner counted (reinforcelab: steps of the episodes it learned from; SB3: "
        "every step). Final score: the last evaluation's mean (Pixelcopter: mean - std). Peak "
        "MB: the run's process's max RSS."
    )
    plot_path = write_plot(runs, args, report)
    if plot_path is not None:
        report.line(f"\n![time to threshold]({plot_path})")
    report.line("\n### Every run\n")
    report.header(
        "env", "method", "seed", "result", "train s", "CPU s", "env steps", "evaluations",
        "best", "final", "peak MB", "load avg",
    )  # fmt: skip
    for r in results:
        spec = r["spec"]
        if "not_run" in r:
            report.row(spec["env_id"], METHOD_NAMES[spec["method"]], spec["seed"], "not run",
                       *["-"] * 8)  # fmt: skip
            continue
        if "failed" in r:
            report.row(spec["env_id"], METHOD_NAMES[spec["method"]], spec["seed"], "failed: "
                       + r["failed"], *["-"] * 8)  # fmt: skip
            continue
        result = ("solved" if r["solved"] else f"not reached ({r['stop_reason']})") + (
            " (reused)" if r.get("reused") else ""
        )
        report.row(
            spec["env_id"],
            METHOD_NAMES[spec["method"]],
            spec["seed"],
            result,
            seconds_text(r["train_seconds"]),
            seconds_text(r["train_cpu_seconds"]),
            steps_text(r["env_steps"]),
            len(r["evaluations"]),
            evaluation_text(r["best"]),
            evaluation_text(r["final"]),
            f"{r['peak_rss_mb']:.0f}",
            " -> ".join(f"{x:.1f}" for x in r["load_average"]),
        )
    report.line(
        "\nTrain s and env steps: where the run stopped (at the threshold, its time cap or its "
        "step budget). CPU s: the process's CPU seconds on the training clock. Best and final: "
        "evaluation mean +/- std over 100 episodes."
    )
    settings_table(report, args, runs)


def conditions(results: list[dict[str, Any]], args: argparse.Namespace, seconds: float) -> str:
    """The paragraph that says how this suite ran."""
    side = (
        f"**{args.parallel} seeds of a method ran side by side**"
        if args.parallel > 1
        else "one run at a time"
    )
    unit = "each group" if args.parallel > 1 else "each"
    lock = f"{unit} under the lock `{args.lock}`" if args.lock else "without a CPU lock"
    caps = {e: cap_minutes(args, e) for e in args.envs}
    minutes = (
        f"{caps[args.envs[0]]:g} min per run"
        if len(set(caps.values())) == 1
        else "per env: " + ", ".join(f"{cap:g} min {e}" for e, cap in caps.items())
    )
    failed = sum("failed" in r for r in results)
    not_run = sum("not_run" in r for r in results)
    head = (
        "**Quick run** (`--quick`: fewer seeds, short caps): a check that the suite works and a "
        "first look, not its verdict. "
        if args.quick
        else ""
    )
    reused = sum(bool(r.get("reused")) for r in results)
    return (
        f"{head}{len(results)} runs ({seeds_text(args.first_seed, args.seeds)}), {side}, "
        f"{lock}; {os.cpu_count()} CPUs; training cap {minutes}, and each method's own step "
        f"budget; evaluations of 100 sampled-action episodes once the training clock grew by "
        f"{args.eval_growth:.0%} since the last; "
        + (
            f"written from the results in {args.results} (`--report-only`: nothing run here)"
            if args.report_only
            else f"suite wall time {seconds / 60:.1f} min"
            + (f"; {reused} result(s) reused from {args.results}" if reused else "")
        )
        + (f"; **{failed} run(s) failed**" if failed else "")
        + (f"; **{not_run} run(s) not run** (no result in {args.results})" if not_run else "")
        + "."
    )


def seeds_text(first: int, n: int) -> str:
    return f"seed {first}" if n == 1 else f"seeds {first}-{first + n - 1}"


def settings_table(report: Report, args: argparse.Namespace, runs: list[dict[str, Any]]) -> None:
    report.line(f"\n### What each method ran\n\nrl-zoo3: {ZOO_REVISION}.\n")
    methods = [m for m in ("reinforcelab", "sb3-ppo", "sb3-a2c") if m in args.methods]
    report.header("env", "threshold", *[METHOD_NAMES[m] for m in methods])
    for env_id in args.envs:
        env = ENV_BY_ID[env_id]
        cells = []
        for method in methods:
            if method == "reinforcelab":
                config, label = reinforcelab_config(env)
                mine = [r for r in runs if r["spec"]["env_id"] == env_id]
                backends = sorted(
                    {BACKENDS[r["vectorization"]] for r in mine if "vectorization" in r}
                )
                stepped = f", stepped by {' and '.join(backends)}" if backends else ""
                cells.append(f"{label}: {config.mode.total_env_steps:,} env steps{stepped}")
            else:
                cells.append(zoo_setup(method.removeprefix("sb3-"), env_id).describe())
        bar = f"{'mean - std' if env.score == 'mean-std' else 'mean'} >= {env.threshold:g}"
        report.row(env_id, bar, *cells)


# --------------------------------------------------------------------------------- cells
def ran(r: dict[str, Any]) -> bool:
    """A run with a result (neither failed nor, with ``--report-only``, missing)."""
    return "failed" not in r and "not_run" not in r


def grouped(results: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        key = (r["spec"]["env_id"], r["spec"]["method"])
        groups.setdefault(key, []).append(r)
    return groups


def solved_seconds(r: dict[str, Any]) -> float:
    return r["solved"]["seconds"] if r["solved"] else math.inf


def solved_steps(r: dict[str, Any]) -> float:
    return r["solved"]["steps"] if r["solved"] else math.inf


def cell(
    runs: list[dict[str, Any]],
    value: Callable[[dict[str, Any]], float],
    text: Callable[[float], str],
) -> str:
    """'median (seed values)'; a seed that never reached the threshold shows as '>' its stopping
    point (time or steps) and counts as infinite in the median."""
    if not runs:
        return "-"
    values = [value(r) for r in runs]
    shown = []
    for r, v in zip(runs, values):
        if math.isinf(v):
            reached = r["train_seconds"] if value is solved_seconds else r["env_steps"]
            shown.append(">" + text(reached))
        else:
            shown.append(text(v))
    median = statistics.median(values)
    head = "not reached" if math.isinf(median) else text(median)
    return head if len(runs) == 1 and not math.isinf(median) else f"{head} ({', '.join(shown)})"


def seconds_text(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def steps_text(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def score_text(x: float) -> str:
    return f"{x:.1f}"


def evaluation_text(e: dict[str, Any]) -> str:
    return f"{e['mean']:.1f} +/- {e['std']:.1f}"


# ---------------------------------------------------------------------------------- plot
def write_plot(runs: list[dict[str, Any]], args: argparse.Namespace, report: Report) -> str | None:
    """Training seconds to the threshold, one panel per env, one dot per seed (a cross where a
    seed stopped without reaching it); saved beside the page (or in the results directory), named
    by the time, so earlier sections keep their pictures. Returns the link for the page."""
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    envs = [e for e in args.envs if any(r["spec"]["env_id"] == e for r in runs)]
    methods = [m for m in ("reinforcelab", "sb3-ppo", "sb3-a2c") if m in args.methods]
    cols = min(3, len(envs))
    rows = math.ceil(len(envs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, env_id in zip(axes.flat, envs):
        for x, method in enumerate(methods):
            mine = [
                r for r in runs if r["spec"]["env_id"] == env_id and r["spec"]["method"] == method
            ]
            for i, r in enumerate(mine):
                dx = (i - (len(mine) - 1) / 2) * 0.08
                if r["solved"]:
                    ax.plot(x + dx, r["solved"]["seconds"], "o", color=f"C{x}")
                else:
                    ax.plot(x + dx, r["train_seconds"], "x", color=f"C{x}", markersize=8)
        ax.set_yscale("log")
        shown = [r["solved"]["seconds"] if r["solved"] else r["train_seconds"] for r in runs
                 if r["spec"]["env_id"] == env_id]  # fmt: skip
        ax.set_ylim(min(shown) / 1.5, max(shown) * 1.5)  # no zooming in on small differences
        low, high = ax.get_ylim()
        # inside one decade every minor tick gets its number, across decades the 2s and 5s
        digits = range(1, 10) if high / low < 10 else (2, 5)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _, d=digits: minor_label(v, d)))
        ax.set_xticks(range(len(methods)), [METHOD_NAMES[m] for m in methods])
        ax.set_xlim(-0.5, len(methods) - 0.5)
        ax.set_title(env_id, fontsize=10)
        if ax in axes[:, 0]:
            ax.set_ylabel("training s to threshold")
        ax.grid(True, axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(envs) :]:
        ax.axis("off")
    fig.suptitle(
        "Time to threshold (dot: a seed; cross: stopped there without reaching it)"
        + (" - quick run" if args.quick else ""),
        fontsize=10,
    )
    fig.tight_layout()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M")
    name = f"{stamp}{'-quick' if args.quick else ''}.png"
    if report.path is not None:
        folder = report.path.parent / report.path.stem
        link = f"{report.path.stem}/{name}"
    else:
        folder, link = Path(args.results), str(Path(args.results) / name)
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / name, dpi=90)
    plt.close(fig)
    print(f"plot: {folder / name}", flush=True)
    return link


def minor_label(value: float, digits: Sequence[int]) -> str:
    """The number of a minor tick of a log axis whose leading digit is one of ``digits``."""
    digit = round(value / 10 ** math.floor(math.log10(value)))
    return f"{value:.3g}" if digit in digits else ""
