"""Env throughput of Pixelcopter-PLE-v0: env steps per second, single env and numpy-batched vector env.

Prints a markdown table. Actions are drawn up front (so the policy costs nothing) from two
policies: uniform random (episodes last ~7 steps, so resets dominate) and "thrust with p=0.1"
(~33 steps). Finished episodes are reset as a training loop would: ``reset()`` for the single
env, next-step autoreset for the vector env. Each cell is the median over the repeats.

    python benchmarks/pixelcopter_env.py
    python benchmarks/pixelcopter_env.py --num-envs 1 64 1024 4096 --repeats 5 --seconds 2
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import gymnasium as gym
import numpy as np

from reinforcelab.envs import register_envs

ENV_ID = "Pixelcopter-PLE-v0"
POLICIES = {"random": 0.5, "thrust p=0.1": 0.1}  # probability of action 0 (thrust)


def actions_for(policy: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) >= POLICIES[policy]).astype(np.int64)


def single_env_rate(policy: str, seconds: float, seed: int) -> float:
    env = gym.make(ENV_ID)
    env.reset(seed=seed)
    actions = actions_for(policy, (200_000,), seed).tolist()
    steps, start = 0, time.perf_counter()
    while True:
        for a in actions[steps % 100_000 : steps % 100_000 + 1000]:
            if env.step(a)[2]:
                env.reset()
        steps += 1000
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed


def vector_env_rate(policy: str, num_envs: int, seconds: float, seed: int) -> float:
    envs = gym.make_vec(ENV_ID, num_envs=num_envs)
    envs.reset(seed=seed)
    actions = actions_for(policy, (256, num_envs), seed)
    for a in actions[:16]:  # warm-up
        envs.step(a)
    batches, start = 0, time.perf_counter()
    while True:
        envs.step(actions[batches % 256])
        batches += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return batches * num_envs / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 64, 1024], help="vector env sizes")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per cell (median reported)")
    parser.add_argument("--seconds", type=float, default=1.5, help="duration of one measurement")
    parser.add_argument("--no-single", action="store_true", help="skip the single-env row")
    args = parser.parse_args(argv)
    register_envs()

    rows = [] if args.no_single else [("single env (gym.make)", None)]
    rows += [(f"vector env, num_envs={n} (gym.make_vec)", n) for n in args.num_envs]
    print(f"Pixelcopter-PLE-v0 env steps/s, median of {args.repeats} x {args.seconds:g} s "
          f"({platform.python_implementation()} {platform.python_version()}, numpy {np.__version__})\n")
    print("| env | " + " | ".join(POLICIES) + " |")
    print("|---|" + "---:|" * len(POLICIES))
    for label, n in rows:
        cells = []
        for policy in POLICIES:
            if n is None:
                rates = [single_env_rate(policy, args.seconds, seed) for seed in range(args.repeats)]
            else:
                rates = [vector_env_rate(policy, n, args.seconds, seed) for seed in range(args.repeats)]
            cells.append(f"{statistics.median(rates):,.0f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
