"""CartPole-v1: fast mode, fast mode with a torch module policy, course mode and the course's
per-step loop, side by side in one run.

For every method and seed: train until a 100-episode sampled-action evaluation first reaches 475
(the evaluation runs whenever the recent training returns are high enough, on a separate vector
env, and its time is excluded), then train on to twice that budget and evaluate again (does it stay
solved?). Reported per method: success rate, median training seconds and env steps to solve, env
steps/s, and for the two course-style loops the episode at which the 100-episode training average
first reaches 475 (the course's criterion). Prints a markdown table and writes a PNG.

    python benchmarks/cartpole_speed.py                     # 10 seeds fast, 5 seeds course-style
    python benchmarks/cartpole_speed.py --seeds 3 --slow-seeds 2 --methods fast course
    python benchmarks/cartpole_speed.py --methods fast torch-module --process-runs 0 \\
        --throughput-envs 0
    python benchmarks/cartpole_speed.py --write docs/benchmarks/cartpole_speed.md   # also in docs

"fast mode (torch module)" trains a plain ``nn.Module`` of the built-in MLP's shape (4-16-2, ReLU,
logits) with the same preset through the torch autograd engine on the CPU.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from report import Report, add_write_option

import reinforcelab
from reinforcelab.callbacks import Callback
from reinforcelab.envs.make import make_vector_env
from reinforcelab.playback import evaluate_policy
from reinforcelab.policies.base import Actor
from reinforcelab.policies.mlp import MLPPolicy, linear_layers
from reinforcelab.policies.torch_mlp import CategoricalPolicy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from course_reference import train_per_step

TARGET = 475.0
EVAL_EPISODES = 100
PRECHECK = 0.9  # evaluate only when recent training returns average at least 0.9 * 475


@dataclass
class Trace:
    method: str
    seed: int
    solved: bool = False
    solve_seconds: float = float("nan")
    solve_steps: int = 0
    solve_episode: int = 0
    course_criterion_episode: int | None = None  # 100-episode training average >= 475
    steps_per_second: float = float("nan")
    eval_at_solve: float = float("nan")
    eval_at_double: float = float("nan")
    evals: list[tuple[int, float]] = field(default_factory=list)


class Evaluator:
    """100 sampled-action episodes on a separate vector env; timed so it can be excluded."""

    def __init__(self, seed: int) -> None:
        self.envs = make_vector_env("CartPole-v1", EVAL_EPISODES)
        self.rng = np.random.default_rng([seed, 7])
        self.seed = seed
        self.seconds = 0.0

    def __call__(self, actor: Actor) -> float:
        start = time.perf_counter()
        result = evaluate_policy(
            lambda o: actor.act_batch(o, self.rng), self.envs, "CartPole-v1", 1000, self.seed
        )
        self.seconds += time.perf_counter() - start
        return result.mean_reward


class Probe:
    """Shared logic: watch training, detect the solve, stop at twice the solving budget."""

    def __init__(self, trace: Trace, evaluator: Evaluator, budget_key: str) -> None:
        self.trace, self.evaluator, self.key = trace, evaluator, budget_key
        self.window: deque[float] = deque(maxlen=100)
        self.start = time.perf_counter()

    def after_update(self, returns: list[float], episodes: int, steps: int, actor_fn) -> bool:
        """Returns True when training should stop."""
        tr = self.trace
        self.window.extend(returns)
        if (
            tr.course_criterion_episode is None
            and len(self.window) == 100
            and np.mean(self.window) >= TARGET
        ):
            tr.course_criterion_episode = episodes
        train_seconds = time.perf_counter() - self.start - self.evaluator.seconds
        budget = episodes if self.key == "episodes" else steps
        if not tr.solved:
            recent = np.mean(returns if self.key == "steps" else list(self.window)[-20:])
            if recent >= PRECHECK * TARGET:
                score = self.evaluator(actor_fn())
                tr.evals.append((steps, score))
                if score >= TARGET:
                    tr.solved, tr.solve_seconds, tr.solve_steps = True, train_seconds, steps
                    tr.solve_episode, tr.eval_at_solve = episodes, score
                    self.solve_budget = budget
                    tr.steps_per_second = steps / train_seconds
            return False
        if np.isnan(tr.eval_at_double) and budget >= 2 * self.solve_budget:
            tr.eval_at_double = self.evaluator(actor_fn())
        # Course-style loops also run on until the course's own criterion is met (or the cap).
        return not np.isnan(tr.eval_at_double) and (
            self.key == "steps" or tr.course_criterion_episode is not None
        )


class AgentProbe(Callback):
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def on_update(self, trainer, records) -> None:
        if self.probe.after_update(
            [r.ret for r in records], trainer.episodes, trainer.env_steps, trainer.parts.actor
        ):
            trainer.stop("benchmark done")


class SameShapeMLP(torch.nn.Module):
    """A user's policy with the built-in MLP's shape: 4 -> 16 (ReLU) -> 2 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def run_agent(method: str, seed: int, preset: str, limit: dict, **policy) -> Trace:
    trace = Trace(method, seed)
    agent = reinforcelab.Reinforce(
        "CartPole-v1", preset=preset, seed=seed, device="cpu", **limit, **policy
    )
    unit = "episodes" if agent.config.mode.progress_unit == "episodes" else "steps"
    probe = Probe(trace, Evaluator(seed), unit)
    agent.learn([AgentProbe(probe)])
    if not trace.solved:
        trace.steps_per_second = agent.loop.env_steps / (
            agent.loop.wall_seconds - probe.evaluator.seconds
        )
    return trace


def numpy_copy(policy: CategoricalPolicy) -> MLPPolicy:
    """The built-in policy with a torch module's weights (to act with it as fast mode does)."""
    return MLPPolicy(
        [
            (m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in linear_layers(policy)
        ]
    )


def run_per_step(seed: int, n_episodes: int) -> Trace:
    trace = Trace("per-step loop", seed)
    torch.manual_seed(seed)
    policy = CategoricalPolicy(4, 2, (16,))
    env = gym.make("CartPole-v1")
    probe = Probe(trace, Evaluator(seed), "episodes")
    lengths: list[int] = []

    def on_episode(episode: int, length: int) -> bool:
        lengths.append(length)
        return probe.after_update(
            [float(length)], episode, sum(lengths), lambda: numpy_copy(policy).actor()
        )

    start = time.perf_counter()
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as course mode does: extra threads only slow a 4-16-2 network down
    try:
        train_per_step(policy, env, n_episodes, 1000, 1.0, 1e-2, seed=seed, on_episode=on_episode)
    finally:
        torch.set_num_threads(saved_threads)
    if not trace.solved:
        trace.steps_per_second = sum(lengths) / (
            time.perf_counter() - start - probe.evaluator.seconds
        )
    return trace


def median(xs) -> float:
    xs = [x for x in xs if x is not None and not np.isnan(x)]
    return statistics.median(xs) if xs else float("nan")


def whole_process_seconds(seeds: int, extra: list[str]) -> list[float]:
    """Wall time of the documented command, start-up and imports included."""
    times = []
    for seed in range(seeds):
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "reinforcelab.cli",
                "train",
                "CartPole-v1",
                "--preset",
                "fast-cartpole",
                "--stop-reward",
                "475",
                "--eval-episodes",
                "100",
                "--seed",
                str(seed),
                "--out",
                f"/tmp/reinforcelab-bench-{seed}",
                "--overwrite",
                *extra,
            ],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return times


def throughput(num_envs: int, steps: int, seeds: int) -> dict[str, list[float]]:
    """Training env steps/s of fast mode with ``num_envs`` envs (rollouts and updates, whole
    episodes): steps trained on in the first ``steps`` from scratch, the same once solved (the next
    ``steps``, episodes at the 500-step limit), and sub-env steps simulated from scratch (a batch
    also steps the sub-envs that have finished their episode while it waits for the longest one)."""
    rates: dict[str, list[float]] = {
        "from scratch": [],
        "once solved": [],
        "simulated, from scratch": [],
    }
    for seed in range(seeds):
        agent = reinforcelab.Reinforce(
            "CartPole-v1",
            preset="fast-cartpole",
            seed=seed,
            device="cpu",
            num_envs=num_envs,
            total_env_steps=steps,
        )
        agent.learn()
        trainer = agent.loop
        rates["from scratch"].append(trainer.env_steps / trainer.wall_seconds)
        rates["simulated, from scratch"].append(trainer.simulated_env_steps / trainer.wall_seconds)
        first_steps, first_seconds = trainer.env_steps, trainer.wall_seconds
        agent.learn(total_env_steps=2 * steps)
        rates["once solved"].append(
            (trainer.env_steps - first_steps) / (trainer.wall_seconds - first_seconds)
        )
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=10, help="seeds for fast mode")
    parser.add_argument(
        "--slow-seeds", type=int, default=5, help="seeds for course mode and the per-step loop"
    )
    parser.add_argument(
        "--methods", nargs="+", default=["fast", "torch-module", "course", "per-step"]
    )
    parser.add_argument(
        "--episodes", type=int, default=2000, help="episode cap of the course-style loops"
    )
    parser.add_argument(
        "--process-runs", type=int, default=3, help="whole-process timings of the CLI (0: skip)"
    )
    parser.add_argument("--plot", default="benchmarks/cartpole_speed.png")
    parser.add_argument(
        "--throughput-envs", type=int, default=1024, help="envs of the throughput run (0: skip)"
    )
    parser.add_argument("--throughput-steps", type=int, default=4_000_000)
    parser.add_argument("--throughput-seeds", type=int, default=5)
    add_write_option(parser)
    args = parser.parse_args()

    traces: list[Trace] = []
    peak_mb = rates = None
    if "fast" in args.methods:
        for seed in range(args.seeds):
            traces.append(
                run_agent("fast mode", seed, "fast-cartpole", {"total_env_steps": 20_000_000})
            )
            print(traces[-1], file=sys.stderr)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # Before the torch-based loops run: a fast-mode process never runs torch.
        if args.throughput_envs:
            rates = throughput(args.throughput_envs, args.throughput_steps, args.throughput_seeds)
    if "torch-module" in args.methods:
        for seed in range(args.seeds):
            traces.append(
                run_agent(
                    "fast mode (torch module)",
                    seed,
                    "fast-cartpole",
                    {"total_env_steps": 20_000_000},
                    policy=SameShapeMLP,
                )
            )
            print(traces[-1], file=sys.stderr)
    if "course" in args.methods:
        for seed in range(args.slow_seeds):
            traces.append(
                run_agent("course mode", seed, "course-cartpole", {"n_episodes": args.episodes})
            )
            print(traces[-1], file=sys.stderr)
    if "per-step" in args.methods:
        for seed in range(args.slow_seeds):
            traces.append(run_per_step(seed, args.episodes))
            print(traces[-1], file=sys.stderr)

    methods = list(dict.fromkeys(t.method for t in traces))
    report = Report("CartPole-v1 speed", args.write)
    report.line(
        f"\nCartPole-v1, target: {EVAL_EPISODES}-episode sampled-action evaluation >= {TARGET:g}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads available\n"
    )
    report.header(
        "method",
        "seeds",
        "solved",
        "median train s to solve",
        "median env steps to solve",
        "env steps/s",
        "median episode: 100-ep training avg >= 475",
        "eval at 2x budget (median)",
        "still >= 475 at 2x",
    )
    for m in methods:
        ts = [t for t in traces if t.method == m]
        ok = [t for t in ts if t.solved]
        still = sum(t.eval_at_double >= TARGET for t in ok)
        course_eps = [t.course_criterion_episode for t in ts]
        report.row(
            m,
            len(ts),
            f"{len(ok)}/{len(ts)}",
            f"{median(t.solve_seconds for t in ok):.2f}",
            f"{median(t.solve_steps for t in ok):,.0f}",
            f"{median(t.steps_per_second for t in ts):,.0f}",
            median(course_eps) if any(e is not None for e in course_eps) else "-",
            f"{median(t.eval_at_double for t in ok):.1f}",
            f"{still}/{len(ok)}",
        )
    report.line()
    speed = {m: median(t.steps_per_second for t in traces if t.method == m) for m in methods}
    if "course mode" in speed and "per-step loop" in speed:
        ratio = speed["course mode"] / speed["per-step loop"]
        report.line(f"- course mode / per-step loop env steps/s: {ratio:.1f}x")
    solve = {
        m: median(t.solve_seconds for t in traces if t.method == m and t.solved) for m in methods
    }
    if "fast mode" in solve and "fast mode (torch module)" in solve:
        ratio = solve["fast mode (torch module)"] / solve["fast mode"]
        report.line(f"- fast mode, torch module / numpy MLP median train s to solve: {ratio:.2f}x")
    if "fast mode" in speed and "per-step loop" in speed:
        ratio = speed["fast mode"] / speed["per-step loop"]
        report.line(f"- fast mode / per-step loop env steps/s: {ratio:.0f}x")
    if peak_mb is not None:
        report.line(f"- peak memory (max RSS) after the fast-mode runs: {peak_mb:.0f} MB")
    if args.process_runs and "fast" in args.methods:
        for extra, label in (
            ([], "as documented (writes curve.png)"),
            (["--no-plot"], "with --no-plot"),
        ):
            times = whole_process_seconds(args.process_runs, extra)
            report.line(
                "- whole process `reinforcelab train CartPole-v1 --preset fast-cartpole "
                f"--stop-reward 475 --eval-episodes 100` {label}: median {median(times):.2f} s "
                f"over {len(times)} seeds ({', '.join(f'{t:.2f}' for t in times)})"
            )
    if "fast" in args.methods and rates is not None:
        report.line(
            f"- fast mode training throughput with {args.throughput_envs} envs, updates included, "
            f"median over {args.throughput_seeds} seeds (first {args.throughput_steps:,} "
            "trained-on env steps from scratch, then the next as many):"
        )
        for label, values in rates.items():
            report.line(
                f"    - {label}: {median(values):,.0f} env steps/s "
                f"({', '.join(f'{r:,.0f}' for r in values)})"
            )
    if args.plot:
        plot(traces, methods, args.plot)
        print(f"plot: {args.plot}")
    report.save()


def plot(traces: list[Trace], methods: list[str], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for i, m in enumerate(methods):
        ts = [t for t in traces if t.method == m and t.solved]
        ax1.scatter([i] * len(ts), [t.solve_seconds for t in ts], alpha=0.7)
        ax2.scatter([i] * len(ts), [t.solve_steps for t in ts], alpha=0.7)
    for ax, label in ((ax1, "training seconds to solve"), (ax2, "env steps to solve")):
        ax.set_yscale("log")
        ax.set_xticks(range(len(methods)), methods)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.suptitle(
        f"CartPole-v1: time to a {EVAL_EPISODES}-episode evaluation mean >= {TARGET:g} "
        "(one dot per seed)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
