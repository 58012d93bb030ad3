"""Env steps per second of a vector env stepped in this process (sync) or in one worker process per
sub-env (Gymnasium's AsyncVectorEnv), with random actions: the measurement behind
``TrainConfig.vectorization="auto"`` (see ``reinforcelab.envs.make``).

Usage:  python benchmarks/vector_stepping.py [--seconds 5] [--num-envs 8 16 64] [--write PATH]

LunarLander-v3 needs the Box2D extra (``pip install -e ".[box2d]"``). CartPole-v1 is the reference
row: ``auto`` gives it Gymnasium's numpy-batched CartPoleVectorEnv. The load average is printed with
the table, because on a shared machine the other users' processes take cores from the async workers.
"""

from __future__ import annotations

import argparse
import os
import time

from report import Report, add_write_option

from reinforcelab.envs.make import make_vector_env


def steps_per_second(
    env_id: str, num_envs: int, vectorization: str, seconds: float
) -> tuple[float, float]:
    """(env steps per wall-clock second, per CPU second of this process) over ``seconds`` of random
    actions (autoreset keeps every sub-env running)."""
    envs = make_vector_env(env_id, num_envs, vectorization=vectorization)
    try:
        envs.reset(seed=list(range(num_envs)) if vectorization != "auto" else 0)
        envs.action_space.seed(0)
        envs.step(envs.action_space.sample())  # workers started, first step paid
        steps = 0
        wall, cpu = time.perf_counter(), time.process_time()
        while time.perf_counter() - wall < seconds:
            envs.step(envs.action_space.sample())
            steps += num_envs
        return steps / (time.perf_counter() - wall), steps / max(time.process_time() - cpu, 1e-9)
    finally:
        envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per row")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[8, 16, 64])
    add_write_option(parser)
    args = parser.parse_args()
    rows = [("CartPole-v1", "auto"), ("CartPole-v1", "sync")]
    rows += [("LunarLander-v3", mode) for mode in ("sync", "async")]
    report = Report("Vector env stepping: sync or async", args.write)
    report.line(
        f"random actions, {args.seconds:g} s per row; "
        f"{os.cpu_count()} CPUs, load average before: {os.getloadavg()[0]:.1f}\n"
    )
    report.header(
        "env", "vectorization", "num_envs", "env steps/s", "env steps per CPU s of the main process"
    )
    for env_id, mode in rows:
        for n in args.num_envs:
            rate, cpu_rate = steps_per_second(env_id, n, mode, args.seconds)
            report.row(env_id, mode, n, f"{rate:,.0f}", f"{cpu_rate:,.0f}")
    report.line(f"\nload average after: {os.getloadavg()[0]:.1f}")
    report.save()


if __name__ == "__main__":
    main()
