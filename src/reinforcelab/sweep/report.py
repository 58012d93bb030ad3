"""A finished sweep's outputs: trials.csv (one row per trial), summary.json (statistics per
configuration, the confirmed best against the base preset) and report.png."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..artifacts.checkpoint import write_json
from .results import (
    BASE_ID,
    CONFIRM_BASE_ID,
    CONFIRM_BEST_ID,
    ConfigRun,
    describe,
    ranked,
    run_folder,
)
from .spec import SweepSpec
from .stats import (
    aggregate,
    curve_band,
    performance_profile,
    performance_profile_band,
    probability_of_improvement,
    probability_of_improvement_ci,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

TRIALS_FILE = "trials.csv"
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.png"
CURVE_POINTS = 200
CURVE_WINDOW = 100
TRIAL_COLUMNS = [
    "stage",
    "config_id",
    "seed",
    "status",
    "objective",
    "eval_mean",
    "eval_std",
    "eval_episodes",
    "eval_seed",
    "train_seconds",
    "eval_seconds",
    "trial_seconds",
    "train_env_steps",
    "train_episodes",
    "stop_reason",
    "error",
]


def write_trials_csv(out: Path, configs: list[ConfigRun], spec: SweepSpec) -> Path:
    names = [p.name for p in spec.parameters]
    path = Path(out) / TRIALS_FILE
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TRIAL_COLUMNS + [f"param_{n}" for n in names])
        for config in configs:
            for seed in config.seeds:
                record = config.records.get(seed)
                if record is None:
                    continue
                row = [record.get(c, "") for c in TRIAL_COLUMNS]
                row += [json.dumps(config.params[n]) if n in config.params else "" for n in names]
                writer.writerow(row)
    return path


def write_report(
    out: Path,
    spec: SweepSpec,
    configs: list[ConfigRun],
    best_id: str | None,
    wall_seconds: float,
    backend: str,
) -> dict[str, Any]:
    """``best_id``: the search configuration that was confirmed on fresh seeds."""
    out = Path(out)
    by_id = {c.config_id: c for c in configs}
    search = [c for c in configs if c.stage == "search"]
    rows = [config_summary(c) for c in ranked(search)]  # best first, by the one ranking rule
    summary: dict[str, Any] = {
        "objective": f"{spec.objective} of {spec.eval_episodes} held-out evaluation episodes "
        "(sampled actions) per trained agent; evaluation env seeds never used by training",
        "spec": spec.to_dict(),
        "backend": backend,
        "wall_seconds": round(wall_seconds, 2),
        "counts": {
            state: sum(c.state == state for c in search)
            for state in ("complete", "pruned", "failed")
        },
        "configurations": rows,
        "base": config_summary(by_id[BASE_ID]) if BASE_ID in by_id else None,
    }
    confirm_base = by_id.get(CONFIRM_BASE_ID)
    confirm_best = by_id.get(CONFIRM_BEST_ID, confirm_base)  # none when the preset itself was best
    if confirm_base is not None and confirm_best is not None and best_id is not None:
        selected = next(r for r in rows if r["config_id"] == best_id)
        best_scores, base_scores = confirm_best.scores(), confirm_base.scores()
        summary["best"] = {
            "config_id": selected["config_id"],
            "params": confirm_best.params,
            "selection": {k: selected[k] for k in ("mean", "mean_ci", "iqm", "iqm_ci", "n")},
            "confirmation": config_summary(confirm_best),
        }
        summary["base_confirmation"] = config_summary(confirm_base)
        if best_scores and base_scores:
            summary["probability_of_improvement"] = {
                "value": float(probability_of_improvement(best_scores, base_scores)),
                "ci": list(probability_of_improvement_ci(best_scores, base_scores)),
                "of": "best over base preset, on the confirmation seeds",
            }
            low, high = min(best_scores + base_scores), max(best_scores + base_scores)
            # From just below the lowest score (where every run is above) to the highest (none is).
            thresholds = np.linspace(low - 0.02 * (high - low or 1.0), high, 101)
            summary["performance_profile"] = {
                "thresholds": thresholds.round(6).tolist(),
                **{
                    name: profile_summary(scores, thresholds)
                    for name, scores in (("best", best_scores), ("base", base_scores))
                },
            }
    write_json(out / SUMMARY_FILE, summary)
    plot_report(out, spec, summary, by_id)
    return summary


def config_summary(config: ConfigRun) -> dict[str, Any]:
    scores = config.scores()
    return {
        "config_id": config.config_id,
        "params": config.params,
        "state": config.state,
        "seeds": config.ok_seeds(),
        "scores": scores,
        **aggregate(scores),
        "errors": sorted(
            {r["error"] for r in config.records.values() if r.get("status") == "failed"}
        ),
    }


def profile_summary(scores: list[float], thresholds: np.ndarray) -> dict[str, list[float]]:
    low, high = performance_profile_band(scores, thresholds)
    return {
        "fraction": performance_profile(scores, thresholds).tolist(),
        "low": low.tolist(),
        "high": high.tolist(),
    }


# ----------------------------------------------------------------------------- curves
def learning_curves(run_folders: list[Path], x_column: str) -> tuple[np.ndarray, np.ndarray]:
    """The 100-episode rolling mean of each run on a common x grid [points] -> curves [runs,
    points]. A run that stopped early (a reached stop_reward) holds its last value to the grid's
    end."""
    runs = []
    for folder in run_folders:
        with (folder / "metrics.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            continue
        returns = np.array([float(r["return"]) for r in rows])
        cumulative = np.concatenate([[0.0], np.cumsum(returns)])
        idx = np.arange(1, len(returns) + 1)
        rolling = (cumulative[idx] - cumulative[np.maximum(idx - CURVE_WINDOW, 0)]) / np.minimum(
            idx, CURVE_WINDOW
        )
        runs.append((np.array([float(r[x_column]) for r in rows]), rolling))
    if not runs:
        return np.zeros(0), np.zeros((0, 0))
    grid = np.linspace(0.0, max(x[-1] for x, _ in runs), CURVE_POINTS)
    return grid, np.stack([np.interp(grid, x, y) for x, y in runs])


def plot_report(
    out: Path, spec: SweepSpec, summary: dict[str, Any], by_id: dict[str, ConfigRun]
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(18, 5.5))
    score_name = "mean - std" if spec.objective == "mean-std" else "mean return"

    # 1. Every configuration: mean and IQM over seeds with 95% CIs, best first.
    ax = axes[0]
    rows = [r for r in summary["configurations"] if r.get("n")][:25]
    ys = np.arange(len(rows))
    for offset, key, colour in ((-0.15, "mean", "tab:blue"), (0.15, "iqm", "tab:orange")):
        values = np.array([r[key] for r in rows])
        ci = np.array([r[f"{key}_ci"] for r in rows]).reshape(-1, 2)
        ax.errorbar(
            values,
            ys + offset,
            xerr=[values - ci[:, 0], ci[:, 1] - values],
            fmt="o",
            color=colour,
            label=key.upper() if key == "iqm" else "mean",
            capsize=3,
        )
    ax.set_yticks(ys, [f"{r['config_id']}  {describe(r['params'])[:40]}" for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel(f"held-out {score_name} (95% bootstrap CI over seeds)")
    ax.set_title("configurations (search seeds)")
    legend(ax)

    # 2. Performance profile of the confirmed best against the preset.
    ax = axes[1]
    profile = summary.get("performance_profile")
    if profile:
        tau = np.array(profile["thresholds"])
        preset_best = summary["best"]["config_id"] == BASE_ID
        profiles = (
            [("base", "preset, the best (confirmation seeds)", "tab:gray")]
            if preset_best
            else [
                ("best", "best (confirmation seeds)", "tab:green"),
                ("base", "preset (confirmation seeds)", "tab:gray"),
            ]
        )
        for name, label, colour in profiles:
            p = profile[name]
            ax.step(tau, p["fraction"], where="post", color=colour, label=label)
            ax.fill_between(tau, p["low"], p["high"], step="post", color=colour, alpha=0.2)
        poi = summary["probability_of_improvement"]
        ax.set_title(
            "performance profile"
            + (
                ""
                if preset_best
                else f"; P(best > preset) = {poi['value']:.2f} "
                f"[{poi['ci'][0]:.2f}, {poi['ci'][1]:.2f}]"
            )
        )
        legend(ax)
    else:
        ax.set_title("performance profile: no confirmation runs")
    ax.set_xlabel(f"threshold tau ({score_name})")
    ax.set_ylabel("fraction of runs scoring > tau")

    # 3. Learning curves across seeds with bands.
    ax = axes[2]
    x_column = spec.base_config().mode.plot_axis
    pairs = [(CONFIRM_BEST_ID, "best", "tab:green"), (CONFIRM_BASE_ID, "preset", "tab:gray")]
    pairs = [p for p in pairs if p[0] in by_id] or [(BASE_ID, "preset", "tab:gray")]
    for config_id, label, colour in pairs:
        config = by_id[config_id]
        folders = [out / run_folder(config_id, s) for s in config.ok_seeds()]
        grid, curves = learning_curves(folders, x_column)
        if len(curves):
            middle, low, high = curve_band(curves)
            ax.plot(grid, middle, color=colour, label=f"{label}: mean of {len(curves)} seeds")
            ax.fill_between(grid, low, high, color=colour, alpha=0.25)
    ax.set_xlabel(x_column.replace("_", " "))
    ax.set_ylabel(f"training return ({CURVE_WINDOW}-episode rolling mean)")
    ax.set_title("learning curves (95% bootstrap band)")
    legend(ax)

    fig.suptitle(f"sweep of {spec.preset}" + (f" on {spec.env_id}" if spec.env_id else ""))
    fig.tight_layout()
    path = Path(out) / REPORT_FILE
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def legend(ax: Axes) -> None:
    """A legend, unless nothing was drawn (every trial failed): matplotlib warns then."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
