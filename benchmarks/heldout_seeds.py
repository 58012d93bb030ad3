"""Score a preset on fresh seeds exactly as a sweep trial does: train with the preset's budget (and
an optional wall-clock cap), then the course's score, mean - std of 100 sampled-action episodes, on
the sweep's held-out evaluation seeds. Prints a markdown table; run folders land in --out.

    python benchmarks/heldout_seeds.py --preset fast-pixelcopter --seeds 1003 1004 --seconds 600
    python benchmarks/heldout_seeds.py --seeds 1005 --write docs/benchmarks/heldout_seeds.md
"""

from __future__ import annotations

import argparse
import statistics
from concurrent.futures import ProcessPoolExecutor

from report import Report, add_write_option

from reinforcelab.sweep.spec import SweepSpec
from reinforcelab.sweep.trial import TrialTask, run_trial


def trial(name: str, seed: int, seconds: float | None, episodes: int, out: str) -> dict:
    # The sweep's own bookkeeping: the same training config and held-out evaluation seeds.
    spec = SweepSpec(
        preset=name,
        parameters=[],
        seeds=[seed],
        confirm_seeds=[],
        eval_episodes=episodes,
        objective="mean-std",
    )
    task = TrialTask(
        stage="held-out",
        config_id=name,
        seed=seed,
        params={},
        config=spec.config_for({}, seed).to_dict(),
        folder=f"{name}/seed-{seed}",
        eval_episodes=episodes,
        eval_seed=spec.eval_seed(seed),
        objective=spec.objective,
        seconds=seconds,
    )
    return run_trial(task, out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="fast-pixelcopter")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1003, 1004])
    parser.add_argument(
        "--seconds", type=float, default=600.0, help="wall-clock cap on training (0: none)"
    )
    parser.add_argument("--episodes", type=int, default=100, help="held-out evaluation episodes")
    parser.add_argument("--workers", type=int, default=2, help="trials side by side")
    parser.add_argument("--out", default="runs/heldout")
    add_write_option(parser)
    args = parser.parse_args()
    seconds = args.seconds or None
    with ProcessPoolExecutor(args.workers) as pool:
        records = list(
            pool.map(
                trial,
                [args.preset] * len(args.seeds),
                args.seeds,
                [seconds] * len(args.seeds),
                [args.episodes] * len(args.seeds),
                [args.out] * len(args.seeds),
            )
        )
    report = Report("Held-out seeds", args.write)
    report.line(
        f"\n{args.preset}: mean - std of {args.episodes} held-out sampled episodes per seed, "
        f"training capped at {seconds or 'no'} s, {args.workers} trials side by side\n"
    )
    report.header("seed", "score (mean - std)", "mean", "std", "training s", "env steps")
    for r in records:
        if r["status"] != "ok":
            report.row(r["seed"], f"{r['status']}: {r.get('error', '')}", "", "", "", "")
            continue
        report.row(
            r["seed"],
            f"{r['objective']:.1f}",
            f"{r['eval_mean']:.1f}",
            f"{r['eval_std']:.1f}",
            f"{r['train_seconds']:.0f}",
            f"{r['train_env_steps']:,}",
        )
    scores = [r["objective"] for r in records if r["status"] == "ok"]
    if scores:
        report.line(f"\nmedian score {statistics.median(scores):.1f} over {len(scores)} seeds")
    report.save()


if __name__ == "__main__":
    main()
