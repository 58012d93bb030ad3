"""LunarLander side by side: reinforcelab's fast presets against Stable-Baselines3 PPO with the
rl-zoo3 hyperparameters, same machine, same evaluation, one run.

For every env, agent and seed it trains, evaluates periodically and prints wall-clock training
seconds and env steps until a 100-episode evaluation with *sampled* actions (the course's protocol)
has a mean >= 200, and the final evaluation mean. Evaluation time is excluded from the training
seconds. Both agents are evaluated by the same code on the same episodes (reinforcelab's
``evaluate_policy`` on a vector env of 100 LunarLanders, reset seeds from the benchmark seed), at
most every ``--eval-every`` env steps and only once the mean of the last 100 training episodes
(sampled actions too) reaches ``--precheck`` times the goal: below that an evaluation cannot
plausibly pass, and a 100-episode evaluation costs up to 100,000 env steps. A run stops at the goal
or at its budget; a run that never reaches the goal counts as its whole budget. PPO's budget is
checked after each rollout (16 x 1024 steps), so it can overrun ``--budget-seconds`` by one rollout.

PPO: rl-zoo3's ``hyperparams/ppo.yml`` (DLR-RM/rl-baselines3-zoo) gives LunarLander and
LunarLanderContinuous the same settings: n_envs 16, n_steps 1024, batch_size 64, gae_lambda 0.98,
gamma 0.999, n_epochs 4, ent_coef 0.01, 1e6 timesteps (the rest are SB3's defaults: lr 3e-4,
clip 0.2, MlpPolicy 64x64 Tanh). Both agents train with one torch/BLAS thread (reinforcelab's
trainer does so itself), so two runs could share the 2-core machine fairly; this script runs them
one after the other.

Stable-Baselines3 is a benchmark-only dependency, not one of reinforcelab's:

    pip install -e ".[box2d]" stable-baselines3

Full run (hours on a 2-core machine):

    python benchmarks/lunarlander.py --seeds 3

Short run:

    python benchmarks/lunarlander.py --seeds 1 --budget-seconds 300 --envs LunarLander-v3

Add ``--write docs/benchmarks/lunarlander.md`` to save the table in the docs as well.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass, field

import numpy as np
from report import Report, add_write_option

GOAL = 200.0
PRESETS = {
    "LunarLander-v3": "fast-lunarlander",
    "LunarLanderContinuous-v3": "fast-lunarlander-continuous",
}
ZOO_PPO = dict(n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999, n_epochs=4, ent_coef=0.01)
ZOO_N_ENVS, ZOO_TIMESTEPS = 16, 1_000_000


@dataclass
class Run:
    env_id: str
    agent: str
    seed: int
    train_seconds: float = 0.0
    env_steps: int = 0
    solved_seconds: float | None = None
    solved_steps: int | None = None
    final_mean: float = float("nan")
    evaluations: list[tuple[int, float, float]] = field(
        default_factory=list
    )  # (steps, seconds, mean)


class Evaluator:
    """Periodic 100-episode sampled-action evaluations, timed separately from training."""

    def __init__(self, run: Run, args: argparse.Namespace) -> None:
        from reinforcelab.envs.make import make_vector_env

        self.run, self.args = run, args
        self.envs = make_vector_env(run.env_id, args.eval_episodes)
        self.seconds = 0.0
        self.last_steps = -args.eval_every
        self.count = 0

    def due(self, steps: int, training_mean: float) -> bool:
        return (
            steps - self.last_steps >= self.args.eval_every
            and training_mean >= self.args.precheck * GOAL
        )

    def evaluate(self, act, steps: int, train_seconds: float) -> float:
        from reinforcelab.playback import evaluate_policy
        from reinforcelab.seeding import episode_seeds

        start = time.perf_counter()
        # Fresh episodes each time, the same for every agent: seeded by (benchmark seed, count).
        seeds = episode_seeds(self.run.seed, self.args.eval_episodes, 7, self.count)
        mean = evaluate_policy(act, self.envs, self.run.env_id, 1000, reset_seeds=seeds).mean_reward
        self.seconds += time.perf_counter() - start
        self.count += 1
        self.last_steps = steps
        self.run.evaluations.append((steps, train_seconds, mean))
        if mean >= GOAL and self.run.solved_steps is None:
            self.run.solved_seconds, self.run.solved_steps = train_seconds, steps
        print(
            f"  {self.run.agent} seed {self.run.seed}: eval at {steps:,} steps, "
            f"{train_seconds:.0f} s: {mean:.1f}",
            flush=True,
        )
        return mean

    def close(self) -> None:
        self.envs.close()


def run_reinforcelab(run: Run, args: argparse.Namespace) -> None:
    import reinforcelab
    from reinforcelab.callbacks import Callback

    agent = reinforcelab.Reinforce(
        run.env_id, preset=PRESETS[run.env_id], seed=run.seed, device="cpu"
    )
    evaluator = Evaluator(run, args)
    rng = np.random.default_rng([run.seed, 9])

    class Watch(Callback):
        def on_update(self, trainer, records) -> None:
            # wall_seconds counts every earlier callback too: take the evaluations back out.
            run.train_seconds, run.env_steps = (
                trainer.wall_seconds - evaluator.seconds,
                trainer.env_steps,
            )
            if evaluator.due(trainer.env_steps, trainer.average_return):
                actor = trainer.parts.actor()
                if (
                    evaluator.evaluate(
                        lambda obs: actor.act_batch(obs, rng), run.env_steps, run.train_seconds
                    )
                    >= GOAL
                ):
                    trainer.stop("goal")
            if args.budget_seconds and run.train_seconds >= args.budget_seconds:
                trainer.stop("budget")

    try:
        agent.learn([Watch()])
        actor = agent.actor()
        run.final_mean = (
            run.evaluations[-1][2]
            if run.solved_steps is not None
            else evaluator.evaluate(
                lambda obs: actor.act_batch(obs, rng), run.env_steps, run.train_seconds
            )
        )
    finally:
        evaluator.close()


def run_sb3_ppo(run: Run, args: argparse.Namespace) -> None:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    envs = make_vec_env(run.env_id, n_envs=ZOO_N_ENVS, seed=run.seed)
    model = PPO("MlpPolicy", envs, seed=run.seed, device="cpu", verbose=0, **ZOO_PPO)
    evaluator = Evaluator(run, args)
    act = lambda obs: model.predict(obs, deterministic=False)[0]  # noqa: E731

    class Watch(BaseCallback):
        def _on_training_start(self) -> None:
            self.start = time.perf_counter()
            self.go_on = True

        def _on_step(self) -> bool:
            return self.go_on

        def _on_rollout_end(self) -> None:
            run.train_seconds = time.perf_counter() - self.start - evaluator.seconds
            run.env_steps = self.num_timesteps
            infos = self.model.ep_info_buffer  # the last 100 training episodes
            mean = float(np.mean([i["r"] for i in infos])) if infos else float("-inf")
            if (
                evaluator.due(run.env_steps, mean)
                and evaluator.evaluate(act, run.env_steps, run.train_seconds) >= GOAL
            ):
                self.go_on = False
            if args.budget_seconds and run.train_seconds >= args.budget_seconds:
                self.go_on = False

    try:
        model.learn(total_timesteps=args.ppo_timesteps, callback=Watch())
        run.final_mean = (
            run.evaluations[-1][2]
            if run.solved_steps is not None
            else evaluator.evaluate(act, run.env_steps, run.train_seconds)
        )
    finally:
        evaluator.close()
        envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="N seeds per env and agent")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed .. first-seed+N-1"
    )
    parser.add_argument(
        "--budget-seconds",
        type=float,
        default=None,
        help="cap on each run's training seconds (default: none; reinforcelab stops at its "
        "preset's total_env_steps, PPO at --ppo-timesteps)",
    )
    parser.add_argument("--envs", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument(
        "--agents",
        nargs="+",
        default=["reinforcelab", "sb3-ppo"],
        choices=["reinforcelab", "sb3-ppo"],
    )
    parser.add_argument("--ppo-timesteps", type=int, default=ZOO_TIMESTEPS)
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument(
        "--eval-every", type=int, default=50_000, help="env steps between evaluations (at most)"
    )
    parser.add_argument(
        "--precheck",
        type=float,
        default=0.75,
        help="evaluate only when the last 100 training episodes average this fraction of the goal",
    )
    add_write_option(parser)
    args = parser.parse_args()

    runs = []
    report = Report("LunarLander: reinforcelab's presets and SB3 PPO", args.write)
    report.line(
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start; budget per "
        f"run: {args.budget_seconds or 'none'} s; evaluations of {args.eval_episodes} episodes at "
        f"most every {args.eval_every:,} env steps, once training averages "
        f"{args.precheck:g} x {GOAL:g}"
    )
    for env_id in args.envs:
        for agent in args.agents:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                run = Run(env_id, agent, seed)
                print(f"{env_id} {agent} seed {seed} ...", flush=True)
                (run_reinforcelab if agent == "reinforcelab" else run_sb3_ppo)(run, args)
                runs.append(run)

    report.line(f"\nload average at the end: {os.getloadavg()[0]:.1f}\n")
    report.header(
        "env",
        "agent",
        "seed",
        "train s to 200",
        "env steps to 200",
        "final eval mean",
        "train s",
        "env steps",
    )
    for r in runs:
        solved_s = f"{r.solved_seconds:.0f}" if r.solved_seconds is not None else "-"
        solved_n = f"{r.solved_steps:,}" if r.solved_steps is not None else "-"
        report.row(
            r.env_id,
            r.agent,
            r.seed,
            solved_s,
            solved_n,
            f"{r.final_mean:.1f}",
            f"{r.train_seconds:.0f}",
            f"{r.env_steps:,}",
        )
    report.line("\n'-': not reached within the run's budget (counts as the whole budget).")
    report.save()


if __name__ == "__main__":
    main()
