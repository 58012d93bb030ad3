"""Where fast-mode training from Pixelcopter's pixels spends its time, before and after the shared
CNN (issue 22), and with the preset's throughput levers measured since: 2x2 pixel blocks averaged
before a 4x4 stride-2 first convolution (``cnn_downsample``), and 128 envs x 16-step segments (the
same 2,048 steps per update, acting on twice the frames per forward pass).

Each variant is ``fast-pixelcopter-pixels`` with some config fields changed; ``before`` is the
preset as it was up to issue 22 (a policy CNN and a value CNN, whole episodes cut at 300 steps).
Every variant trains from its initial weights; the variants take turns (``--updates`` updates
each, ``--rounds`` times) so that a busy machine's noise falls on all of them alike. Timed with the
process's CPU clock (training runs on one thread): the vector env's steps, the update, and acting
(the rest of collecting: the policy's forward pass, sampling and the rollout's bookkeeping).
Prints a markdown table:

- env steps/CPU-s: counted env steps (the steps the updates learn from) per CPU second of
  training (median over rounds); whole episodes wait for a batch's longest episode, so early in
  training many more steps are simulated than counted, segments count every step;
- in kernel: the share of the CPU time spent in the kernel (mostly page faults of fresh memory);
- env / act / update: CPU seconds per 1,000 simulated (env, act) or counted (update) steps, and
  their shares of the time.

    python benchmarks/pixel_update.py                             # every variant
    python benchmarks/pixel_update.py --rounds 5 --variants \
        "before: separate CNNs, whole episodes" "shared body, whole episodes"
    python benchmarks/pixel_update.py --rounds 6 --variants \
        "the preset: shared, 8,16, hidden 64, segments" \
        "the preset, 2x2 blocks averaged (cnn_downsample)" \
        "the preset, 128 envs x 16-step segments" \
        "cnn_downsample, 128 envs x 16-step segments"
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np

import reinforcelab
from reinforcelab.loops import FastLoop

# The preset up to issue 22 (whole episodes; the separate networks at their old sizes).
BEFORE: dict[str, Any] = {
    "cnn_shared": False,
    "cnn_channels": (16, 32),
    "hidden_sizes": (128,),
    "num_envs": 64,
    "segment_steps": None,
    "rollout_max_t": 300,
    "lr_schedule": "constant",
}
SHARED_SMALL = {"cnn_shared": True, "cnn_channels": (8, 16), "hidden_sizes": (64,)}
VARIANTS: dict[str, dict[str, Any]] = {
    "before: separate CNNs, whole episodes": BEFORE,
    "shared body, whole episodes": {**BEFORE, "cnn_shared": True},
    "shared, channels 8,16, hidden 64, whole episodes": {**BEFORE, **SHARED_SMALL},
    "separate CNNs, the preset's segments": {
        key: BEFORE[key] for key in ("cnn_shared", "cnn_channels", "hidden_sizes")
    },
    "the preset: shared, 8,16, hidden 64, segments": {},
    "the preset, 2x2 blocks averaged (cnn_downsample)": {"cnn_downsample": True},
    "the preset, 128 envs x 16-step segments": {"num_envs": 128, "segment_steps": 16},
    "cnn_downsample, 128 envs x 16-step segments": {
        "cnn_downsample": True,
        "num_envs": 128,
        "segment_steps": 16,
    },
    "cnn_downsample, 256 envs x 8-step segments": {
        "cnn_downsample": True,
        "num_envs": 256,
        "segment_steps": 8,
    },
}


class Timed:
    """One variant's loop, with CPU timers on its env steps and its update."""

    def __init__(self, name: str, overrides: dict[str, Any], seed: int) -> None:
        self.name = name
        agent = reinforcelab.Reinforce(
            preset="fast-pixelcopter-pixels", seed=seed, device="cpu", **overrides
        )
        self.loop = FastLoop(agent.config, agent.parts, "cpu")
        self.env = self.update = self.total = self.kernel = 0.0
        self.rates: list[float] = []
        envs, step = self.loop.envs, self.loop.envs.step

        def timed_step(actions: np.ndarray) -> Any:
            t = time.process_time()
            out = step(actions)
            self.env += time.process_time() - t
            return out

        envs.step = timed_step
        for name in ("update", "update_actor_critic"):
            setattr(self.loop, name, self.timed_update(getattr(self.loop, name)))

    def timed_update(self, update: Any) -> Any:
        def timed(*args: Any) -> Any:
            t = time.process_time()
            out = update(*args)
            self.update += time.process_time() - t
            return out

        return timed

    def train(self, updates: int) -> None:
        loop = self.loop
        with loop.threads():
            steps0, cpu0, kernel0 = loop.env_steps, time.process_time(), os.times().system
            for _ in range(updates):
                returns, lengths, steps = loop.step()
                loop.updates += 1
                loop.record(returns, lengths, steps)
            cpu = time.process_time() - cpu0
        self.total += cpu
        self.kernel += os.times().system - kernel0
        self.rates.append((loop.env_steps - steps0) / cpu)

    def row(self) -> str:
        sim, counted = self.loop.simulated_env_steps, self.loop.env_steps
        act = self.total - self.env - self.update
        per = (1e3 * self.env / sim, 1e3 * act / sim, 1e3 * self.update / counted)
        shares = " / ".join(f"{t / self.total:.0%}" for t in (self.env, act, self.update))
        return (
            f"| {self.name} | {statistics.median(self.rates):,.0f} | {counted:,} | {sim:,} "
            f"| {self.total:.1f} | {self.kernel / self.total:.0%} | {per[0]:.3f} | {per[1]:.3f} "
            f"| {per[2]:.3f} | {shares} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--updates", type=int, default=8, help="updates per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = [Timed(name, VARIANTS[name], args.seed) for name in args.variants]
    wall0 = time.perf_counter()
    for _ in range(args.rounds):
        for run in runs:
            run.train(args.updates)
    print(
        f"\nPixelcopter from pixels, {args.rounds} rounds x {args.updates} updates per variant "
        f"from initial weights (seed {args.seed}), {time.perf_counter() - wall0:.0f} s wall; "
        "CPU s per 1,000 steps:\n"
    )
    print(
        "| variant | env steps/CPU-s | counted steps | simulated steps | CPU s | in kernel | env "
        "| act | update | share env / act / update |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(run.row())


if __name__ == "__main__":
    main()
