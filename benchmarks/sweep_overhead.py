"""End-to-end time of a sweep on the embedded backend, and where it goes.

A grid of 10 fast-cartpole configurations (lr x num_envs) on 10 seeds, each trial training until a
100-episode evaluation reaches 475 (or 300k env steps), then scored on 100 held-out episodes; plus
the preset on the same seeds and the best and the preset on 10 fresh seeds (130 trials). Prints a
markdown table: wall time including the report, and per trial the training, the held-out
evaluation, the rest of the trial inside its worker (env and agent set-up, run folder writes) and
the driver's share (dispatch, Optuna, waiting), and how busy the workers were.

    python benchmarks/sweep_overhead.py                  # 10 x 10, one worker per core
    python benchmarks/sweep_overhead.py --seeds 3 --workers 2 --out /tmp/sweep-bench
    python benchmarks/sweep_overhead.py --write docs/benchmarks/sweep_overhead.md
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

from report import Report, add_write_option

from reinforcelab.sweep import run_sweep, spec_from_dict
from reinforcelab.sweep.backends import usable_cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument(
        "--out", type=Path, default=None, help="sweep folder (default: a temporary one)"
    )
    add_write_option(parser)
    args = parser.parse_args()

    spec = spec_from_dict(
        {
            "preset": "fast-cartpole",
            "seeds": args.seeds,
            "eval_episodes": 100,
            "budget": {"stop_reward": 475, "total_env_steps": 300_000},
            "parameters": {"lr": [0.03, 0.05, 0.1, 0.2, 0.3], "num_envs": [64, 128]},
        }
    )
    report = Report("Sweep overhead", args.write)
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch) / "sweep"
        start = time.perf_counter()
        summary = run_sweep(spec, out, workers=args.workers, progress=False)
        wall = time.perf_counter() - start
        with (out / "trials.csv").open() as f:
            rows = [r for r in csv.DictReader(f) if r["status"] == "ok"]
        table(spec, summary, rows, wall, args.workers or usable_cores(), report)


def table(spec, summary, rows, wall: float, workers: int, report: Report) -> None:
    def column(name: str) -> list[float]:
        return [float(r[name]) for r in rows]

    n = len(rows)
    train, held_out, trial = (
        column("train_seconds"),
        column("eval_seconds"),
        column("trial_seconds"),
    )
    in_worker_rest = [t - a - b for t, a, b in zip(trial, train, held_out)]
    driver_share = (wall * workers - sum(trial)) / n
    best = summary["best"]
    report.line(
        f"sweep: {len(spec.grid())} configurations x {len(spec.seeds)} seeds of fast-cartpole "
        f"(+ preset, + confirmation on {len(spec.confirm_seeds)} fresh seeds) = {n} trials on "
        f"{workers} workers\n"
    )
    report.header("measure", "value")
    report.row("wall time, end to end incl. report", f"{wall:.1f} s")
    report.row("training per trial (median)", f"{statistics.median(train):.2f} s")
    report.row(
        f"held-out evaluation per trial, {spec.eval_episodes} episodes (median)",
        f"{statistics.median(held_out):.2f} s",
    )
    report.row(
        "rest of a trial in its worker: set-up, run folder (median)",
        f"{statistics.median(in_worker_rest):.2f} s",
    )
    report.row(
        "driver share per trial: dispatch, Optuna, idle workers (mean)", f"{driver_share:.2f} s"
    )
    report.row(
        "overhead per trial beyond training (mean: worker rest + driver share)",
        f"{statistics.mean(in_worker_rest) + driver_share:.2f} s",
    )
    report.row(
        "workers busy (sum of trial time / (wall x workers))",
        f"{sum(trial) / (wall * workers):.0%}",
    )
    report.row("best configuration", f"{best['config_id']} {best['params'] or '(preset)'}")
    conf = best["confirmation"]
    report.row(
        "best, confirmed on fresh seeds: mean [95% CI]",
        f"{conf['mean']:.1f} [{conf['mean_ci'][0]:.1f}, {conf['mean_ci'][1]:.1f}]",
    )
    report.save()


if __name__ == "__main__":
    main()
