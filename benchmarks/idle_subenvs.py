"""Idle sub-envs: fast-mode training's env steps/s against the vector env's own stepping rate, with
and without ``rollout_steps`` (sub-envs play whole episodes back to back instead of waiting for
the batch's longest episode), measured side by side in one run.

CartPole-v1 at 1024 sub-envs: the env alone (random actions drawn up front), then training from
scratch with fast-cartpole's settings for each ``rollout_steps``. Reported: counted (trained-on)
env steps/s, its share of the env-only rate, the share of simulated steps that count, the mean
length of the episodes counted while training (policies that improve as they go), and, for the
trained policy, the mean length of the counted episodes of one more batch next to that of its
independent episodes (a check that the counted ones are not biased towards short episodes).

    python benchmarks/idle_subenvs.py
    python benchmarks/idle_subenvs.py --rollout-steps none 100 200 500 --steps 4000000 --repeats 3
    python benchmarks/idle_subenvs.py --write docs/benchmarks/idle_subenvs.md
    python benchmarks/idle_subenvs.py --pixelcopter 120000000 --pixelcopter-rollout-steps none 1000
    python benchmarks/idle_subenvs.py --breakdown

``--breakdown`` also trains once more per ``rollout_steps`` with the loop's collector, its acting,
the env's step and the update wrapped in CPU-time clocks (``time.process_time``: the machine's load
moves it less than wall-clock), and reports the CPU microseconds each part costs per step of all
sub-envs (per simulated step, counted or not), next to the env alone's.

``--pixelcopter N`` also trains fast-pixelcopter for N env steps with each of
``--pixelcopter-rollout-steps`` and reports its env steps/s in successive windows: without
``rollout_steps`` the rate falls as the agent improves (a batch waits for its longest episode, and
a good agent's episodes run to the 1000-step cut while the others wait).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

import numpy as np
from report import Report, add_write_option

import reinforcelab
from reinforcelab import loops
from reinforcelab.callbacks import Callback
from reinforcelab.envs.make import make_vector_env
from reinforcelab.rollout import collect_batch


def env_only_rate(num_envs: int, seconds: float, seed: int) -> float:
    envs = make_vector_env("CartPole-v1", num_envs)
    rng = np.random.default_rng(seed)
    actions = rng.integers(0, 2, (1000, num_envs))
    envs.reset(seed=seed)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for row in actions:
            envs.step(row)
        steps += actions.size
    rate = steps / (time.perf_counter() - start)
    envs.close()
    return rate


def env_only_cpu(num_envs: int, steps: int, seed: int) -> float:
    """CPU microseconds per step of all sub-envs, random actions (drawn up front)."""
    envs = make_vector_env("CartPole-v1", num_envs)
    actions = np.random.default_rng(seed).integers(0, 2, (steps, num_envs))
    envs.reset(seed=seed)
    start = time.process_time()
    for row in actions:
        envs.step(row)
    spent = time.process_time() - start
    envs.close()
    return 1e6 * spent / steps


def cpu_breakdown(num_envs: int, rollout_steps: int | None, steps: int, seed: int) -> dict:
    """CPU microseconds per simulated step of all sub-envs spent stepping the env, acting, in the
    collector's own bookkeeping, in the update and elsewhere, from a training run whose collector
    (``loops.collect_batch``), acting, env step and update are wrapped in clocks."""
    clock = time.process_time
    spent = dict.fromkeys(("env", "act", "collect", "update"), 0.0)

    def timed(part, fn):
        def call(*args, **kwargs):
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[part] += clock() - start

        return call

    collect, update = loops.collect_batch, loops.FastLoop.update

    def timed_collect(envs, act, *args, **kwargs):
        envs.step = timed("env", envs.step)  # an instance attribute over the class's method
        try:
            return timed("collect", collect)(envs, timed("act", act), *args, **kwargs)
        finally:
            del envs.step

    loops.collect_batch, loops.FastLoop.update = timed_collect, timed("update", update)
    try:
        agent = cartpole_agent(num_envs, rollout_steps, steps, seed)
        start = clock()
        agent.learn()
        total = clock() - start
    finally:
        loops.collect_batch, loops.FastLoop.update = collect, update
    loop = agent.training_loop()
    per_step = 1e6 * num_envs / loop.simulated_env_steps
    return {
        "env": spent["env"] * per_step,
        "act": spent["act"] * per_step,
        "bookkeeping": (spent["collect"] - spent["env"] - spent["act"]) * per_step,
        "update": spent["update"] * per_step,
        "other": (total - spent["collect"] - spent["update"]) * per_step,
        "total": total * per_step,
        "counted_share": loop.env_steps / loop.simulated_env_steps,
    }


def cartpole_agent(
    num_envs: int, rollout_steps: int | None, steps: int, seed: int
) -> reinforcelab.Reinforce:
    """fast-cartpole with the sub-envs, rollout length and budget being measured."""
    return reinforcelab.Reinforce(
        "CartPole-v1",
        preset="fast-cartpole",
        seed=seed,
        device="cpu",
        num_envs=num_envs,
        rollout_steps=rollout_steps,
        total_env_steps=steps,
    )


def training_rate(num_envs: int, rollout_steps: int | None, steps: int, seed: int) -> dict:
    agent = cartpole_agent(num_envs, rollout_steps, steps, seed)
    lengths: list[int] = []

    class Lengths(Callback):
        def on_update(self, trainer, records) -> None:
            lengths.extend(r.length for r in records)

    agent.learn([Lengths()])
    loop = agent.training_loop()
    return {
        "rate": loop.env_steps / loop.wall_seconds,
        "counted_share": loop.env_steps / loop.simulated_env_steps,
        "mean_length": float(np.mean(lengths)),
        "updates": loop.updates,
        "agent": agent,
    }


def pixelcopter_windows(
    rollout_steps: int | None, steps: int, windows: int, seed: int
) -> list[float]:
    """Env steps/s of fast-pixelcopter training in ``windows`` successive windows of env steps."""
    marks: list[tuple[int, float]] = []

    class Marks(Callback):
        def on_update(self, trainer, records) -> None:
            marks.append((trainer.env_steps, trainer.wall_seconds))

    agent = reinforcelab.Reinforce(
        "Pixelcopter-PLE-v0",
        preset="fast-pixelcopter",
        seed=seed,
        device="cpu",
        rollout_steps=rollout_steps,
        total_env_steps=steps,
    )
    agent.learn([Marks()])
    edges = np.linspace(0, steps, windows + 1)
    rates = []
    for lo, hi in itertools.pairwise(edges):
        inside = [(s, w) for s, w in marks if lo <= s <= hi]
        if len(inside) >= 2:
            (s0, w0), (s1, w1) = inside[0], inside[-1]
            rates.append((s1 - s0) / max(w1 - w0, 1e-9))
        else:
            rates.append(float("nan"))
    return rates


def counted_mean_length(
    agent: reinforcelab.Reinforce, num_envs: int, rollout_steps: int | None, seed: int
) -> float:
    """Mean length of the counted episodes of one more batch, collected as training collects them
    but by the trained policy, so that it compares with that policy's independent episodes (the
    batches during training came from earlier, shorter-lived policies)."""
    envs = make_vector_env("CartPole-v1", num_envs)
    actor, rng = agent.actor(), np.random.default_rng(seed)
    batch = collect_batch(
        envs,
        lambda obs: actor.act_batch(obs, rng),
        agent.config.max_t,
        seed=seed,
        rollout_steps=rollout_steps,
    )
    envs.close()
    return float(np.mean(batch.episode_lengths))


def independent_mean_length(agent: reinforcelab.Reinforce, episodes: int, seed: int) -> float:
    return float(np.mean(agent.evaluate(episodes, seed=seed, max_t=agent.config.max_t).lengths))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--rollout-steps", nargs="+", default=["none", "100", "200", "500"])
    parser.add_argument("--steps", type=int, default=2_000_000, help="training env steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each runs every variant")
    parser.add_argument("--env-seconds", type=float, default=3.0)
    parser.add_argument(
        "--pixelcopter",
        type=int,
        default=0,
        metavar="STEPS",
        help="also train fast-pixelcopter for STEPS env steps per variant (0: no)",
    )
    parser.add_argument("--pixelcopter-rollout-steps", nargs="+", default=["none", "1000"])
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also report the CPU microseconds per step of each part of training",
    )
    add_write_option(parser)
    args = parser.parse_args()
    report = Report("Idle sub-envs", args.write)
    variants = [None if v == "none" else int(v) for v in args.rollout_steps]
    env_rates, rows = [], {v: [] for v in variants}
    for round_ in range(args.repeats):  # variants take turns, so the machine's load hits them alike
        env_rates.append(env_only_rate(args.num_envs, args.env_seconds, round_))
        for v in variants:
            rows[v].append(training_rate(args.num_envs, v, args.steps, seed=round_))
    env_rate = statistics.median(env_rates)
    report.line(
        f"CartPole-v1, {args.num_envs} sub-envs, fast-cartpole settings, {args.steps:,} training "
        f"env steps from scratch per run, medians over {args.repeats} rounds (variants take "
        "turns)\n"
    )
    report.line(f"env alone (random actions): {env_rate:,.0f} env steps/s\n")
    report.header(
        "rollout_steps",
        "training env steps/s",
        "share of env-only",
        "counted share of simulated steps",
        "updates",
        "mean counted episode length while training",
        "trained policy: counted episodes of one batch",
        "trained policy: 1000 independent episodes",
    )
    for v, runs in rows.items():
        rate = statistics.median(r["rate"] for r in runs)
        counted = statistics.median(
            counted_mean_length(r["agent"], args.num_envs, v, 98) for r in runs
        )
        independent = statistics.median(independent_mean_length(r["agent"], 1000, 99) for r in runs)
        report.row(
            v or "none (episodes_per_env=1)",
            f"{rate:,.0f}",
            f"{rate / env_rate:.0%}",
            f"{statistics.median(r['counted_share'] for r in runs):.0%}",
            f"{statistics.median(r['updates'] for r in runs):.0f}",
            f"{statistics.median(r['mean_length'] for r in runs):.1f}",
            f"{counted:.1f}",
            f"{independent:.1f}",
        )
    if args.breakdown:
        env_us = env_only_cpu(args.num_envs, 3000, seed=0)
        report.line(
            f"\nCPU microseconds per step of all {args.num_envs} sub-envs (counted or not), by "
            f"part, one training run each ({args.steps:,} env steps, seed 0); env alone "
            f"(random actions): {env_us:.1f}. The last column is the share of env-only stepping "
            "these CPU times imply: counted share x env alone / total.\n"
        )
        report.header(
            "rollout_steps", "env", "act", "bookkeeping", "update", "other", "total", "implied"
        )
        for v in variants:
            b = cpu_breakdown(args.num_envs, v, args.steps, seed=0)
            parts = ("env", "act", "bookkeeping", "update", "other", "total")
            implied = b["counted_share"] * env_us / b["total"]
            report.row(v or "none", *(f"{b[k]:.1f}" for k in parts), f"{implied:.0%}")
    if args.pixelcopter:
        report.line(
            f"\nPixelcopter-PLE-v0, fast-pixelcopter ({args.pixelcopter:,} env steps, seed 0): env "
            f"steps/s in {args.windows} successive windows of the run\n"
        )
        edges = np.linspace(0, args.pixelcopter, args.windows + 1) / 1e6
        report.header(
            "rollout_steps", *(f"{lo:.0f}-{hi:.0f}M" for lo, hi in itertools.pairwise(edges))
        )
        for v in args.pixelcopter_rollout_steps:
            rates = pixelcopter_windows(
                None if v == "none" else int(v), args.pixelcopter, args.windows, seed=0
            )
            report.row(v, *(f"{r:,.0f}" for r in rates))
    report.save()


if __name__ == "__main__":
    main()
