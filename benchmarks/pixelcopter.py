"""Pixelcopter-PLE-v0: env throughput (single and vectorised), fast-mode training to the course bar.

The course bar: mean - std >= 5 over 10 sampled-action evaluation episodes (capped at 10,000 steps).
Training is evaluated with that protocol every ``--eval-every`` seconds of training; evaluation time
is excluded from the training clock. Prints markdown tables.

    python benchmarks/pixelcopter.py                           # env table + 3 seeds x 5 minutes
    python benchmarks/pixelcopter.py --seeds 1 --minutes 20    # how far one longer run gets
    python benchmarks/pixelcopter.py --no-train                # env throughput only
    python benchmarks/pixelcopter.py --no-env --preset fast-pixelcopter-pixels --seeds 3 \\
        --minutes 30                                           # from pixels, where the time goes
    python benchmarks/pixelcopter.py --write docs/benchmarks/pixelcopter.md   # saved in the docs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field

from report import Report, add_write_option

import reinforcelab
from reinforcelab.callbacks import Callback

BAR = 5.0


@dataclass
class Trace:
    seed: int
    bar_seconds: float | None = None
    bar_steps: int | None = None
    best_mean: float = float("-inf")
    best_std: float = float("nan")
    evals: list[tuple[float, int, float, float]] = field(default_factory=list)
    final_steps: int = 0
    final_seconds: float = 0.0


class TimedEvaluation(Callback):
    def __init__(self, agent, trace: Trace, every: float, budget: float) -> None:
        self.agent, self.trace, self.every, self.budget = agent, trace, every, budget
        self.start = time.perf_counter()
        self.eval_seconds = 0.0
        self.next_eval = every

    def on_update(self, trainer, records) -> None:
        train_seconds = time.perf_counter() - self.start - self.eval_seconds
        if train_seconds >= self.next_eval or train_seconds >= self.budget:
            self.next_eval += self.every
            t0 = time.perf_counter()
            result = self.agent.evaluate(10, seed=1000 + trainer.updates)
            self.eval_seconds += time.perf_counter() - t0
            tr = self.trace
            tr.evals.append(
                (train_seconds, trainer.env_steps, result.mean_reward, result.std_reward)
            )
            print(
                f"  seed {tr.seed}: {train_seconds:6.0f} s, {trainer.env_steps:>11,} steps: "
                f"eval {result.mean_reward:7.2f} +/- {result.std_reward:6.2f}",
                file=sys.stderr,
                flush=True,
            )
            if result.mean_reward > tr.best_mean:
                tr.best_mean, tr.best_std = result.mean_reward, result.std_reward
            if tr.bar_seconds is None and result.mean_reward - result.std_reward >= BAR:
                tr.bar_seconds, tr.bar_steps = train_seconds, trainer.env_steps
        if train_seconds >= self.budget:
            self.trace.final_steps, self.trace.final_seconds = trainer.env_steps, train_seconds
            trainer.stop("benchmark budget")


def train_table(seeds: int, minutes: float, every: float, preset: str, report: Report) -> None:
    traces = []
    for seed in range(seeds):
        trace = Trace(seed)
        agent = reinforcelab.Reinforce(
            "Pixelcopter-PLE-v0", preset=preset, seed=seed, device="cpu", total_env_steps=10**12
        )
        agent.learn([TimedEvaluation(agent, trace, every, minutes * 60)])
        traces.append(trace)
    report.line(
        f"\nPixelcopter-PLE-v0, preset {preset}, {minutes:g} min of training per seed, evaluation "
        f"every {every:g} s (10 sampled-action episodes, capped at 10,000 steps)\n"
    )
    report.header(
        "seed",
        "training s to course bar (mean - std >= 5)",
        "env steps to bar",
        "best eval mean (+/- std)",
        "env steps in budget",
        "training env steps/s",
    )
    for t in traces:
        bar = f"{t.bar_seconds:.0f}" if t.bar_seconds is not None else "not reached"
        steps = f"{t.bar_steps:,}" if t.bar_steps is not None else "-"
        report.row(
            t.seed,
            bar,
            steps,
            f"{t.best_mean:.1f} (+/- {t.best_std:.1f})",
            f"{t.final_steps:,}",
            f"{t.final_steps / max(t.final_seconds, 1e-9):,.0f}",
        )
    reached = [t.bar_seconds for t in traces if t.bar_seconds is not None]
    report.line(
        f"\ncourse bar reached by {len(reached)}/{len(traces)} seeds"
        + (f", median {statistics.median(reached):.0f} s" if reached else "")
        + f"; median best eval mean {statistics.median(t.best_mean for t in traces):.1f}"
    )


def time_split(preset: str, report: Report, frames: int = 1024) -> None:
    """Where a fast-mode update's time goes: stepping the vector env, acting (a forward pass per
    step), and the update's forward and backward passes (on one chunk of about 1,000 frames, as the
    torch engine runs them), per 1,000 env steps."""
    import numpy as np
    import torch

    from reinforcelab.envs.make import make_vector_env

    agent = reinforcelab.Reinforce("Pixelcopter-PLE-v0", preset=preset, seed=0, device="cpu")
    cfg = agent.config
    torch.set_num_threads(1)  # as training runs
    envs = make_vector_env(cfg.env_id, cfg.num_envs, **cfg.env_kwargs)
    obs, _ = envs.reset(seed=0)
    actor, rng = agent.actor(), np.random.default_rng(0)
    steps = max(1, frames // cfg.num_envs)
    start = time.perf_counter()
    for _ in range(steps):
        actions = actor.act_batch(obs, rng)
    act = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        obs, *_ = envs.step(actions)
    env = time.perf_counter() - start
    batch = torch.from_numpy(np.repeat(obs, -(-frames // len(obs)), axis=0)[:frames])
    parts = [agent.policy.torch_module()] + (
        [agent.value.module] if hasattr(agent.value, "module") else []
    )
    sum(part(batch[:64]).float().sum() for part in parts).backward()  # first calls set up kernels
    start = time.perf_counter()
    loss = sum(part(batch).float().sum() for part in parts)
    forward = time.perf_counter() - start
    start = time.perf_counter()
    loss.backward()
    backward = time.perf_counter() - start
    per_k = 1000 / (steps * cfg.num_envs)
    report.line(
        f"\n{preset}: seconds per 1,000 env steps "
        f"({cfg.num_envs} envs, {cfg.env_kwargs or 'vector obs'}):\n"
    )
    report.header(
        "env step", "acting (forward)", "update forward (policy + value)", "update backward"
    )
    report.row(
        f"{env * per_k:.3f}",
        f"{act * per_k:.3f}",
        f"{forward * 1000 / frames:.3f}",
        f"{backward * 1000 / frames:.3f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget per seed")
    parser.add_argument(
        "--eval-every", type=float, default=20.0, help="seconds of training between evaluations"
    )
    parser.add_argument("--preset", default="fast-pixelcopter")
    parser.add_argument("--no-train", action="store_true", help="only the env throughput table")
    parser.add_argument("--no-env", action="store_true", help="skip the env throughput table")
    parser.add_argument(
        "--no-split", action="store_true", help="skip the time split of a torch-policy preset"
    )
    add_write_option(parser)
    args = parser.parse_args()
    report = Report("Pixelcopter-PLE-v0 training", args.write)
    if not args.no_env:
        import pixelcopter_env

        pixelcopter_env.env_table(pixelcopter_env.make_parser().parse_args([]), report)
    if (
        not args.no_split
        and reinforcelab.preset(args.preset).env_kwargs.get("obs_type") == "pixels"
    ):
        time_split(args.preset, report)
    if not args.no_train:
        train_table(args.seeds, args.minutes, args.eval_every, args.preset, report)
    report.save()


if __name__ == "__main__":
    main()
