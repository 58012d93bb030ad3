"""Env throughput of Pixelcopter-PLE-v0: steps per second of the single and the numpy-batched env.

Prints a markdown table. Actions are drawn up front (so the policy costs nothing) from two
policies: uniform random (episodes last ~7 steps, so resets dominate) and "thrust with p=0.1"
(~33 steps). Finished episodes are reset as a training loop would: ``reset()`` for the single
env, next-step autoreset for the vector env. Each cell is the median over the repeats; the
repeats go round all the cells in turn, so that a busy spell of the machine is shared out.

The pixel rows (``obs_type="pixels"``, 48x48 screens) return one frame per sub-env and step,
so their env steps/s are frames/s: RGB (3, 48, 48), grayscale (1, 48, 48) and grayscale with
``frame_stack=4`` (4, 48, 48). The machine these run on is shared: the load averages printed
around the table say how busy it was (on 2 CPUs, a load above 2 means this run got less than
a whole core). The "per CPU s" columns divide by this process's CPU time instead of the wall
clock: they show what the code costs, and depend less on what else runs (caches are still
shared).

    python benchmarks/pixelcopter_env.py
    python benchmarks/pixelcopter_env.py --num-envs 1 64 1024 4096 --repeats 5 --seconds 2
    python benchmarks/pixelcopter_env.py --num-envs --no-single --pixel-num-envs 256 1024 \\
        --repeats 7
    python benchmarks/pixelcopter_env.py --write docs/benchmarks/pixelcopter_env.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import gymnasium as gym
import numpy as np
from report import Report, add_write_option

from reinforcelab.envs import register_envs

ENV_ID = "Pixelcopter-PLE-v0"
POLICIES = {"random": 0.5, "thrust p=0.1": 0.1}  # probability of action 0 (thrust)
PIXELS = {  # row label -> env kwargs
    "pixels RGB": dict(obs_type="pixels"),
    "pixels grayscale": dict(obs_type="pixels", grayscale=True),
    "pixels grayscale, frame_stack=4": dict(obs_type="pixels", grayscale=True, frame_stack=4),
}


def actions_for(policy: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) >= POLICIES[policy]).astype(np.int64)


def single_env_rate(policy: str, seconds: float, seed: int, **env_kwargs) -> tuple[float, float]:
    """Env steps per second of wall-clock time and per second of this process's CPU time."""
    env = gym.make(ENV_ID, **env_kwargs)
    env.reset(seed=seed)
    actions = actions_for(policy, (200_000,), seed).tolist()
    steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        for a in actions[steps % 100_000 : steps % 100_000 + 1000]:
            if env.step(a)[2]:
                env.reset()
        steps += 1000
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed, steps / (time.process_time() - cpu_start)


def vector_env_rate(
    policy: str, num_envs: int, seconds: float, seed: int, **env_kwargs
) -> tuple[float, float]:
    """Sub-env steps per second of wall-clock time and per second of this process's CPU time."""
    envs = gym.make_vec(ENV_ID, num_envs=num_envs, **env_kwargs)
    envs.reset(seed=seed)
    actions = actions_for(policy, (256, num_envs), seed)
    for a in actions[:16]:  # warm-up
        envs.step(a)
    batches, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        envs.step(actions[batches % 256])
        batches += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return batches * num_envs / elapsed, batches * num_envs / (
                time.process_time() - cpu_start
            )


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--num-envs", type=int, nargs="*", default=[1, 64, 1024], help="vector env sizes"
    )
    parser.add_argument(
        "--pixel-num-envs",
        type=int,
        nargs="*",
        default=[256],
        help="vector env sizes for the pixel rows",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="measurements per cell (median reported)"
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="duration of one measurement")
    parser.add_argument("--no-single", action="store_true", help="skip the single-env rows")
    add_write_option(parser)
    return parser


def env_table(args: argparse.Namespace, report: Report) -> None:
    """Measure every row and add the table (with the load around it) to ``report``."""
    register_envs()

    rows = [] if args.no_single else [("single env (gym.make)", None, {})]
    rows += [(f"vector env, num_envs={n} (gym.make_vec)", n, {}) for n in args.num_envs]
    if not args.no_single:
        rows.append(("single env, pixels grayscale (gym.make)", None, PIXELS["pixels grayscale"]))
    rows += [
        (f"vector env, num_envs={n}, {label} (gym.make_vec)", n, kwargs)
        for n in args.pixel_num_envs
        for label, kwargs in PIXELS.items()
    ]
    report.line(
        f"Pixelcopter-PLE-v0 env steps/s, median of {args.repeats} x {args.seconds:g} s "
        f"({platform.python_implementation()} {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start)\n"
    )
    rates: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for seed in range(args.repeats):
        for row, (_, n, kwargs) in enumerate(rows):
            for policy in POLICIES:
                if n is None:
                    rate = single_env_rate(policy, args.seconds, seed, **kwargs)
                else:
                    rate = vector_env_rate(policy, n, args.seconds, seed, **kwargs)
                rates.setdefault((row, policy), []).append(rate)
    report.row("env", *POLICIES, *(f"{p}, per CPU s" for p in POLICIES))
    report.line("|---|" + "---:|" * (2 * len(POLICIES)))
    for row, (label, _, _) in enumerate(rows):
        cells = [
            f"{statistics.median(rate[clock] for rate in rates[row, policy]):,.0f}"
            for clock in (0, 1)
            for policy in POLICIES
        ]
        report.row(label, *cells)
    report.line(f"\nload average {os.getloadavg()[0]:.2f} at the end")


def main() -> None:
    args = make_parser().parse_args()
    report = Report("Pixelcopter-PLE-v0 env throughput", args.write)
    env_table(args, report)
    report.save()


if __name__ == "__main__":
    main()
