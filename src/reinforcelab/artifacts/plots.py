"""Learning curves from run folders: per-episode returns and their rolling mean, one run or many.

Runs are grouped by training mode (course / fast); each group is drawn as one curve, so a plot of
course and fast runs compares them instead of averaging them together. All runs must share an env.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..checks import WRITABLE_FILE, arguments
from ..errors import UserError
from .files import CONFIG_FILE, METRICS_FILE, atomic_write

REQUIRED_COLUMNS = ("episode", "return", "length", "env_steps")
XAxis = Literal["episode", "env_steps"]
X_LABELS = {"episode": "training episode", "env_steps": "environment steps"}
GRID_POINTS = 1000  # common env-step grid for averaging several runs
# Longer curves are thinned (smooth lines) or binned (raw returns): same look, fast.
MAX_POINTS = 4000


class PlotError(UserError, ValueError):
    """A run folder without usable metrics, or plot arguments that make no sense."""


@dataclass
class RunMetrics:
    """One run's metrics.csv as arrays, plus what config.json says about the run."""

    path: Path
    episodes: np.ndarray  # 1..N, in the order metrics.csv lists them
    returns: np.ndarray
    lengths: np.ndarray
    env_steps: np.ndarray  # cumulative environment steps when each episode finished
    env_id: str | None = None
    mode: str | None = None
    seed: int | None = None

    def x(self, axis: XAxis) -> np.ndarray:
        return self.episodes if axis == "episode" else self.env_steps


def rolling_mean(values: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` values, like the course's 100-episode score deque:
    ``out[i] = mean(values[max(0, i - window + 1) : i + 1])`` (the first ``window - 1`` entries
    average the values seen so far)."""
    if window < 1:
        raise PlotError(f"window must be at least 1; got {window}")
    values = np.asarray(values, dtype=np.float64)
    csum = np.concatenate(([0.0], np.cumsum(values)))
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(0, idx - window)
    return (csum[idx] - csum[start]) / (idx - start)


@dataclass
class MetricsTable:
    """The rows of a metrics.csv, checked: one header, then episodes 1..N in order."""

    path: Path
    episodes: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray
    env_steps: np.ndarray
    #: bytes of the header and each row, as written (to cut the file after a row)
    line_ends: list[int]


def read_metrics(
    csv_path: Path, partial_tail: bool = False, trained: int | None = None
) -> MetricsTable:
    """Read and check a metrics.csv as ``MetricsCSV`` writes it: a header, then one complete row
    per episode, episodes numbered 1, 2, ... and env steps never decreasing; ``trained`` rows
    exactly, when given. Anything else (two headers, a malformed or unfinished row, episodes out
    of order or repeated, rows missing or too many) is a damaged file: a PlotError says where.
    ``partial_tail``: an unfinished last line (its writer was killed) is left out instead."""
    damaged = f"{csv_path} is damaged:"
    raw = csv_path.read_bytes()
    if not raw and trained:
        raise PlotError(f"{damaged} it is empty, but the run finished at episode {trained}")
    lines = raw.splitlines(keepends=True)
    if lines and not lines[-1].endswith((b"\n", b"\r")):
        if not partial_tail:
            raise PlotError(f"{damaged} its last line ({len(lines)}) is unfinished")
        lines.pop()
    try:
        text = [line.decode() for line in lines]
    except UnicodeDecodeError as exc:
        raise PlotError(f"{damaged} it is not text ({exc})") from exc
    rows = csv.reader(text)
    header = next(rows, None)
    if header is None:
        raise PlotError(f"{csv_path} is empty; the run recorded no episodes")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise PlotError(
            f"{csv_path} lacks the column(s) {', '.join(missing)}; expected a header "
            f"{','.join(REQUIRED_COLUMNS)},wall_seconds"
        )
    columns = [header.index(c) for c in REQUIRED_COLUMNS]
    table = []
    for number, row in enumerate(rows, start=2):
        if row == header:
            raise PlotError(f"{damaged} line {number} repeats the header (two writers?)")
        if len(row) != len(header):
            raise PlotError(
                f"{damaged} line {number} has {len(row)} fields instead of {len(header)}"
            )
        try:
            values = [float(row[i]) for i in columns]
        except ValueError as exc:
            raise PlotError(f"{damaged} line {number} is malformed ({exc})") from exc
        expected = len(table) + 1
        if values[0] != expected:
            raise PlotError(
                f"{damaged} line {number} is episode {row[columns[0]]}, expected {expected} "
                "(episodes repeated or out of order)"
            )
        if table and values[3] < table[-1][3]:
            raise PlotError(f"{damaged} line {number}: env_steps go down ({row[columns[3]]})")
        table.append(values)
    if trained is not None and len(table) != trained:
        raise PlotError(
            f"{damaged} it has {len(table)} episodes, but the run finished at episode {trained}"
        )
    array = np.array(table, dtype=np.float64).reshape(-1, len(REQUIRED_COLUMNS))
    episodes, lengths, env_steps = (array[:, i].astype(np.int64) for i in (0, 2, 3))
    line_ends = np.cumsum([len(line) for line in lines]).tolist()
    return MetricsTable(csv_path, episodes, array[:, 1], lengths, env_steps, line_ends)


def read_run_metrics(run_dir: str | Path) -> RunMetrics:
    """Read ``metrics.csv`` (and ``config.json`` when present) of a run folder.

    ``run_dir`` may also be the path of a metrics CSV file itself. A damaged file is a PlotError
    (see ``read_metrics``), as is a finished run (one with results.json) whose metrics.csv does not
    hold exactly the episodes it trained.
    """
    run_dir = Path(run_dir)
    csv_path = run_dir if run_dir.suffix == ".csv" and run_dir.is_file() else run_dir / METRICS_FILE
    folder = csv_path.parent
    if not folder.is_dir():
        raise PlotError(f"{run_dir} is not a folder; expected a run folder holding {METRICS_FILE}")
    if not csv_path.is_file():
        raise PlotError(
            f"{folder} has no {METRICS_FILE}; is it a run folder written by `reinforcelab train`?"
        )
    trained = trained_episodes(folder) if csv_path.name == METRICS_FILE else None
    table = read_metrics(csv_path, trained=trained)
    if len(table.episodes) == 0:
        raise PlotError(f"{csv_path} has no episodes yet (only a header)")

    env_id = mode = seed = None
    config_path = folder / CONFIG_FILE
    if config_path.is_file():  # optional here: metrics alone still make a curve
        try:
            data = json.loads(config_path.read_text())
            config = data.get("config") or {}
            env_id = data.get("env_id") or config.get("env_id")
            mode, seed = config.get("mode"), config.get("seed")
        except (ValueError, AttributeError) as exc:
            raise PlotError(f"{config_path} is damaged: not a run's config ({exc})") from exc
    return RunMetrics(
        folder, table.episodes, table.returns, table.lengths, table.env_steps, env_id, mode, seed
    )


def trained_episodes(folder: Path) -> int | None:
    """The episodes a finished run trained (its results.json), or None while it has none: while
    it trains, or after a crash, when its rows may run ahead of its last checkpoint."""
    from .checkpoint import read_results

    results = read_results(folder)
    return None if results is None else int(results["training"]["train_episodes"])


def reward_threshold(env_id: str | None) -> float | None:
    """``gymnasium.spec(env_id).reward_threshold``, or None when unknown or undefined."""
    if env_id is None:
        return None
    import gymnasium as gym

    if env_id not in gym.registry:  # our own envs (Pixelcopter) must be registered to have a spec
        try:
            from reinforcelab.envs import register_envs

            register_envs()
        except ImportError:  # the envs package is optional here: no spec, no threshold line
            pass
    try:
        threshold = gym.spec(env_id).reward_threshold
    except Exception:  # unknown id: gymnasium raises one of several NameNotFound-style errors
        return None
    return None if threshold is None else float(threshold)


def _group_curve(
    runs: list[RunMetrics], window: int, x: XAxis
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    """(x, mean, low, high, truncated) of several runs' rolling means on a common x axis.

    Episode axis: the first N episodes, N = the shortest run. Env-step axis: each run's rolling
    mean, linearly interpolated on a grid over the env-step range that every run covers.
    ``truncated`` says whether a longer run was cut.
    """
    means = [rolling_mean(r.returns, window) for r in runs]
    if x == "episode":
        n = min(len(m) for m in means)
        stack = np.stack([m[:n] for m in means])
        grid = np.arange(1, n + 1)
        truncated = any(len(m) > n for m in means)
    else:
        lo = max(float(r.env_steps[0]) for r in runs)
        hi = min(float(r.env_steps[-1]) for r in runs)
        if hi <= lo:
            raise PlotError(
                "these runs share no range of environment steps; plot them with x='episode'"
            )
        grid = np.linspace(lo, hi, GRID_POINTS)
        stack = np.stack([np.interp(grid, r.env_steps, m) for r, m in zip(runs, means)])
        truncated = any(float(r.env_steps[-1]) > hi for r in runs)
    return grid, stack.mean(axis=0), stack.min(axis=0), stack.max(axis=0), truncated


def _thin(n: int) -> np.ndarray:
    """At most MAX_POINTS indices spread evenly over range(n), always keeping the last one."""
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_POINTS).round().astype(int))


def _binned_spread(
    x: np.ndarray, y: np.ndarray, per_bin: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(last x, 10th percentile, 90th percentile) of consecutive bins of ``per_bin`` points (the
    last bin may be shorter)."""
    n_bins = math.ceil(len(y) / per_bin)
    padded = np.full(n_bins * per_bin, np.nan)
    padded[: len(y)] = y
    low, high = np.nanpercentile(padded.reshape(n_bins, per_bin), [10, 90], axis=1)
    ends = np.minimum(np.arange(1, n_bins + 1) * per_bin, len(y)) - 1
    return x[ends], low, high


def _seeds_text(runs: list[RunMetrics]) -> str:
    seeds = [r.seed for r in runs]
    if all(s is None for s in seeds):
        return "unseeded" if len(runs) == 1 else f"{len(runs)} runs"
    shown = ", ".join("none" if s is None else str(s) for s in seeds)
    return f"seed{'s' if len(seeds) > 1 else ''} {shown}"


@arguments(out_path=WRITABLE_FILE)
def plot_learning_curves(
    run_dirs: str | Path | Sequence[str | Path],
    out_path: str | Path,
    window: int = 100,
    title: str | None = None,
    x: XAxis = "episode",
) -> Path:
    """Plot training returns of one or more run folders into an image (PNG unless ``out_path``
    names another matplotlib format, e.g. ``.svg``).

    One run: faint per-episode returns and a bold trailing ``window``-episode mean. Several runs of
    the same mode: each run's rolling mean to its own end, and the mean of them with a shaded
    min-max band over the first N episodes where N is the shortest run (or, with
    ``x="env_steps"``, over the env-step range all runs cover). Runs of different modes get one
    colour each. A dashed line marks the env's
    ``reward_threshold`` when Gymnasium defines one (475 for CartPole-v1).

    Args:
        run_dirs: run folders (each with ``metrics.csv``, ideally ``config.json``), or one folder.
        out_path: image file to write; parent folders are created; replaced atomically. A path
            that cannot be written is refused before anything is read.
        window: rolling-mean window in episodes (the course uses 100).
        title: plot title; default names the env, mode(s) and seeds.
        x: ``"episode"`` (training episode index) or ``"env_steps"`` (cumulative environment
            steps; fairer for fast mode, where thousands of episodes make up one update).

    Returns:
        ``out_path`` as a Path.

    Raises:
        PlotError: no runs, a folder without metrics.csv, an empty metrics.csv, runs of different
            envs, a bad ``window`` or ``x``.
    """
    out_path = Path(out_path)
    fig = learning_curve_figure(run_dirs, window, title, x)
    fmt = out_path.suffix.lstrip(".").lower() or "png"
    if fmt not in fig.canvas.get_supported_filetypes():
        raise PlotError(f"cannot save a plot as {out_path.name!r}; use .png (or .svg, .pdf)")
    # Light PNG compression: the default level spends a tenth of a second for a few kB.
    options = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}
    # atomic_write: one line naming out_path if it fails (writable when checked, not now)
    return atomic_write(out_path, lambda tmp: fig.savefig(tmp, dpi=120, format=fmt, **options))


def learning_curve_figure(
    run_dirs: str | Path | Sequence[str | Path],
    window: int = 100,
    title: str | None = None,
    x: XAxis = "episode",
):
    """The matplotlib Figure that ``plot_learning_curves`` saves (same arguments)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend needed

    if x not in X_LABELS:
        raise PlotError(f"x must be 'episode' or 'env_steps'; got {x!r}")
    if window < 1:
        raise PlotError(f"window must be at least 1; got {window}")
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    if not run_dirs:
        raise PlotError("no run folders given")
    runs = [read_run_metrics(d) for d in run_dirs]
    env_ids = sorted({r.env_id for r in runs if r.env_id is not None})
    if len(env_ids) > 1:
        raise PlotError(
            f"these runs train different envs ({', '.join(env_ids)}); plot each env separately"
        )
    env_id = env_ids[0] if env_ids else None

    groups: dict[str, list[RunMetrics]] = {}
    for r in runs:
        groups.setdefault(r.mode or "unknown mode", []).append(r)

    # Fixed margins: constrained layout costs more time than the rest of the plot together.
    fig = Figure(figsize=(9, 5))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.1, top=0.93)
    ax = fig.add_subplot()
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]

    def plot_rolling_mean(run: RunMetrics, **style: Any) -> None:
        xs = run.x(x)
        keep = _thin(len(xs))
        ax.plot(xs[keep], rolling_mean(run.returns, window)[keep], **style)

    label_mode = len(groups) > 1
    for i, (mode, members) in enumerate(groups.items()):
        color = colors[i % len(colors)]
        prefix = f"{mode}: " if label_mode else ""
        if len(members) == 1:
            run = members[0]
            xs = run.x(x)
            if len(xs) <= MAX_POINTS:
                ax.plot(
                    xs,
                    run.returns,
                    color=color,
                    alpha=0.25,
                    linewidth=0.7,
                    label=f"{prefix}episode return",
                )
            else:
                # 100k noisy points draw slowly and as a solid blob anyway: show their spread per
                # bin
                per_bin = math.ceil(len(xs) / (MAX_POINTS // 2))
                bx, lo, hi = _binned_spread(xs, run.returns, per_bin)
                ax.fill_between(
                    bx,
                    lo,
                    hi,
                    color=color,
                    alpha=0.2,
                    linewidth=0,
                    step="pre",
                    label=f"{prefix}episode returns (10-90th percentile per {per_bin} episodes)",
                )
            plot_rolling_mean(
                run, color=color, linewidth=2.2, label=f"{prefix}mean of last {window} episodes"
            )
        else:
            # Each run to its own end (runs stop at different points, e.g. when an early stop is
            # reached); the mean and band where every run still has data.
            for j, run in enumerate(members):
                label = f"{prefix}each run ({window}-episode rolling mean)" if j == 0 else None
                plot_rolling_mean(run, color=color, alpha=0.45, linewidth=0.9, label=label)
            grid, mean, low, high, truncated = _group_curve(members, window, x)
            keep = _thin(len(grid))
            grid, mean, low, high = grid[keep], mean[keep], low[keep], high[keep]
            common = ""
            if truncated:
                common = (
                    f", first {int(grid[-1]):,} episodes (all runs)"
                    if x == "episode"
                    else f", up to {int(grid[-1]):,} steps (all runs)"
                )
            ax.fill_between(
                grid,
                low,
                high,
                color=color,
                alpha=0.2,
                linewidth=0,
                label=f"{prefix}min-max over {len(members)} runs",
            )
            ax.plot(
                grid,
                mean,
                color=color,
                linewidth=2.2,
                label=f"{prefix}mean of {len(members)} runs{common}",
            )

    threshold = reward_threshold(env_id)
    if threshold is not None:
        ax.axhline(
            threshold,
            color="black",
            linestyle="--",
            linewidth=1.2,
            label=f"reward threshold ({threshold:g})",
        )

    if title is None:
        parts = "; ".join(
            f"{mode} mode, {_seeds_text(members)}" for mode, members in groups.items()
        )
        title = f"REINFORCE on {env_id or 'unknown env'} ({parts})"
    ax.set_title(title)
    ax.set_xlabel(X_LABELS[x])
    ax.set_ylabel("episode return")
    ax.grid(True, alpha=0.3)
    ax.margins(x=0.01)
    if x == "env_steps":
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 4), useMathText=True)
    ax.legend(loc="best", fontsize="small", framealpha=0.9)
    return fig


def plot_run(runs: list[Path], out: Path, window: int = 100, x: XAxis | None = None) -> Path:
    """Learning curves of one or more run folders (several seeds: mean with a band), by default
    along the x axis of the first run's mode (env steps for fast mode, which finishes many
    episodes per update)."""
    if x is None:
        from ..config import MODES

        mode = MODES.get(read_run_metrics(runs[0]).mode or "")
        x = "episode" if mode is None else mode.plot_axis  # type: ignore[assignment]
    return plot_learning_curves(runs, out, window=window, x=x)
