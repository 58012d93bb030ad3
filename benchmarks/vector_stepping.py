"""Env steps per second of a vector env stepped in this process (sync), in one worker process per
sub-env (Gymnasium's AsyncVectorEnv) or by EnvPool, with random actions: the measurement behind
``vectorization="auto"`` (see ``reinforcelab.envs.make``: ``ASYNC_FASTER``, ``ENVPOOL_FASTER``).

Usage:  python benchmarks/vector_stepping.py [--seconds 5] [--num-envs 8 16 64] [--write PATH]

LunarLander needs the Box2D extra (``pip install -e ".[box2d]"``), the EnvPool rows EnvPool
(``".[envpool]"``; skipped without it). EnvPool's own threads count as CPU of the main process.
CartPole-v1 is the reference row: ``auto`` gives it Gymnasium's numpy-batched CartPoleVectorEnv.
The load average is printed with the table, because on a shared machine the other users'
processes take cores from the async workers and EnvPool's threads.
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
    from reinforcelab.envs.envpool_env import envpool_installed

    modes = ("sync", "async", "envpool") if envpool_installed() else ("sync", "async")
    rows = [("CartPole-v1", "auto"), ("CartPole-v1", "sync")]
    rows += [("CartPole-v1", "envpool")] if envpool_installed() else []
    for env_id in ("LunarLander-v3", "LunarLanderContinuous-v3", "Pendulum-v1", "Acrobot-v1"):
        rows += [(env_id, mode) for mode in modes]
    report = Report("Vector env stepping: sync, async or EnvPool", args.write)
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
