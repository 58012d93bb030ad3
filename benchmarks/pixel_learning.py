"""Pixelcopter from pixels: one training run, evaluated with 100 sampled episodes at set minutes.

Trains ``--preset`` (default ``fast-pixelcopter-pixels``, with ``--set field=value`` overrides)
on ``--seed`` and, at each of ``--at`` minutes of training (wall clock, evaluation time excluded;
run it under the CPU lock so the minutes mean something), saves the agent to ``--save``-Ns and
evaluates it as ``reinforcelab evaluate FOLDER --episodes 100 --seed 777`` does (the same
function: that command re-measures a row). Training ends at the last mark or the budget, whichever
comes first; a budget that ends first is evaluated there. Prints one markdown row per evaluation
(and appends a JSON line to ``--out``).

    flock /work/notes/cpu.lock python benchmarks/pixel_learning.py --seed 11 --at 10 15 \\
        --save runs/pixels-s11
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from typing import Any

import reinforcelab
from reinforcelab.callbacks import Callback


class Checkpoints(Callback):
    """Saves and evaluates at each of ``at`` minutes of training; stops after the last."""

    def __init__(self, agent: Any, args: argparse.Namespace) -> None:
        self.agent, self.args = agent, args
        self.at = sorted(args.at)
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        self.eval_wall = self.eval_cpu = 0.0

    def on_training_end(self, loop: Any) -> None:
        if self.at:  # the budget ended training first: evaluate where it ended
            self.at = [0.0]
            self.on_update(loop, None)

    def on_update(self, loop: Any, records: Any) -> None:
        wall = time.perf_counter() - self.wall0 - self.eval_wall
        if not self.at or wall < self.at[0] * 60:
            return
        self.at.pop(0)
        cpu = time.process_time() - self.cpu0 - self.eval_cpu
        w0, c0 = time.perf_counter(), time.process_time()
        folder = None
        if self.args.save:
            folder = self.agent.save(f"{self.args.save}-{wall:.0f}s")
        result = self.agent.evaluate(self.args.episodes, seed=self.args.eval_seed)
        self.eval_wall += time.perf_counter() - w0
        self.eval_cpu += time.process_time() - c0
        row = {
            "seed": loop.config.seed,
            "train_wall_s": round(wall),
            "train_cpu_s": round(cpu),
            "env_steps": loop.env_steps,
            "updates": loop.updates,
            "lr": loop.update_stats.get("lr"),
            "eval_episodes": self.args.episodes,
            "eval_seed": self.args.eval_seed,
            "mean": round(result.mean_reward, 1),
            "std": round(result.std_reward, 1),
            "score": round(result.score, 1),
            "folder": str(folder) if folder else None,
        }
        print(
            f"| {row['seed']} | {row['train_wall_s']} | {row['train_cpu_s']} "
            f"| {row['env_steps']:,} | {row['mean']} ± {row['std']} | **{row['score']}** "
            f"| `{row['folder']}` |",
            flush=True,
        )
        if self.args.out:
            with open(self.args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
        if not self.at:
            loop.stop("last checkpoint")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="fast-pixelcopter-pixels")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides: field=value")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--at", type=float, nargs="+", default=[10, 15], help="minutes")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--eval-seed", type=int, default=777)
    parser.add_argument("--save", default=None, help="save the agent to SAVE-<seconds>s")
    parser.add_argument("--out", default=None, help="append a JSON line per evaluation")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        key, _, text = item.partition("=")
        try:
            overrides[key] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            overrides[key] = text
    agent = reinforcelab.Reinforce(preset=args.preset, seed=args.seed, device="cpu", **overrides)
    print(f"# {args.preset} {args.set} seed {args.seed}", file=sys.stderr, flush=True)
    agent.learn([Checkpoints(agent, args)])


if __name__ == "__main__":
    main()
