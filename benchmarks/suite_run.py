"""One run of the benchmark suite, in a process of its own: train one method on one env with one
seed, judge it as ``suite.py``'s docstring says, and write the result as JSON.

``suite.py`` starts one of these per (method, env, seed), so the peak memory (this process's max
RSS) is the run's own. By hand:

    python benchmarks/suite_run.py --env CartPole-v1 --method sb3-ppo --seed 0 --minutes 5 \\
        --out run.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from suite import ENV_BY_ID, METHODS, SuiteEnv, reinforcelab_config
from suite_zoo import zoo_setup

ActBatch = Callable[[np.ndarray], np.ndarray]  # observations [n, ...] -> actions [n, ...]

EVAL_EPISODES = 100
EVAL_STREAM = 7  # the evaluations' reset seeds: episode_seeds(seed, 100, EVAL_STREAM, k)
MIN_EVAL_GAP = 0.01  # training seconds between two evaluations, at least


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads) and its waited-for children."""
    own, kids = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class TrainClock:
    """Wall and CPU seconds since ``start()``, without the time spent inside ``paused()``."""

    def start(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), cpu_seconds()
        self.wall_paused = self.cpu_paused = 0.0

    @property
    def wall(self) -> float:
        return time.perf_counter() - self.wall0 - self.wall_paused

    @property
    def cpu(self) -> float:
        return cpu_seconds() - self.cpu0 - self.cpu_paused

    @contextmanager
    def paused(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), cpu_seconds()
        try:
            yield
        finally:
            self.wall_paused += time.perf_counter() - wall
            self.cpu_paused += cpu_seconds() - cpu


@dataclass
class Evaluation:
    steps: int
    seconds: float  # training clock
    cpu_seconds: float
    mean: float
    std: float
    score: float  # what the threshold is compared with
    mean_length: float
    eval_seconds: float  # what this evaluation took (not on the training clock)
    training_mean: float | None  # of the last 100 training episodes (None: none finished yet)


@dataclass
class Judge:
    """The referee inside a run: the training clock, when to evaluate, the evaluations, and when
    the run must stop (threshold reached or time cap)."""

    env: SuiteEnv
    seed: int
    cap_seconds: float
    growth: float
    clock: TrainClock = field(default_factory=TrainClock)
    evaluations: list[Evaluation] = field(default_factory=list)
    solved: Evaluation | None = None
    stop_reason: str = ""
    stop_steps: int = 0
    # entered around each evaluation: what must leave the learner as it found it
    evaluation_context: Callable[[], AbstractContextManager[None]] = nullcontext

    def __post_init__(self) -> None:
        import gymnasium as gym

        from reinforcelab.envs.make import make_vector_env

        # Gymnasium's own env is the judge (its numpy-batched twin for CartPole and Pixelcopter),
        # whatever backend a method trains on.
        entry = gym.spec(self.env.env_id).vector_entry_point
        mode = "auto" if entry is not None else "sync"
        self.envs = make_vector_env(self.env.env_id, EVAL_EPISODES, vectorization=mode)

    def after_update(self, steps: int, training_mean: float, actor: Callable[[], ActBatch]) -> bool:
        """Evaluate if due; True when training must stop. ``actor()`` gives the act function of
        the policy as it is now (called only to evaluate)."""
        seconds = self.clock.wall
        last = self.evaluations[-1].seconds if self.evaluations else 0.0
        due = training_mean >= self.env.precheck and (
            not self.evaluations or seconds >= max(last * (1 + self.growth), last + MIN_EVAL_GAP)
        )
        if due:
            self.evaluate(actor(), steps, training_mean)
        if self.solved is not None:
            self.stop_reason = "threshold"
        elif self.clock.wall >= self.cap_seconds:
            self.stop_reason = "time cap"
        self.stop_steps = steps
        return bool(self.stop_reason)

    def finish(
        self, steps: int, training_mean: float, actor: Callable[[], ActBatch], budget_spent: bool
    ) -> None:
        """After training: the final evaluation, unless the last one saw the final policy. A run
        this judge stopped ends at the step it stopped (SB3 takes a step more before it stops,
        and learns nothing from it)."""
        if self.stop_reason:
            steps = self.stop_steps
        else:
            self.stop_reason = "step budget" if budget_spent else "stopped"
        if not self.evaluations or self.evaluations[-1].steps != steps:
            self.evaluate(actor(), steps, training_mean)

    def evaluate(self, act: ActBatch, steps: int, training_mean: float) -> Evaluation:
        from reinforcelab.playback import evaluate_policy
        from reinforcelab.seeding import episode_seeds

        seconds, cpu = self.clock.wall, self.clock.cpu
        start = time.perf_counter()
        with self.clock.paused(), self.evaluation_context():
            seeds = episode_seeds(self.seed, EVAL_EPISODES, EVAL_STREAM, len(self.evaluations))
            result = evaluate_policy(
                act, self.envs, self.env.env_id, self.env.eval_max_t, reset_seeds=seeds
            )
        mean, std = result.mean_reward, result.std_reward
        score = mean - std if self.env.score == "mean-std" else mean
        evaluation = Evaluation(
            steps, seconds, cpu, mean, std, score, float(np.mean(result.lengths)),
            time.perf_counter() - start, None if math.isnan(training_mean) else training_mean,
        )  # fmt: skip
        self.evaluations.append(evaluation)
        if self.solved is None and score >= self.env.threshold:
            self.solved = evaluation
        print(
            f"  {steps:>12,} steps {seconds:8.1f} s: evaluation {mean:9.2f} +/- {std:7.2f}"
            f" (training {training_mean:9.2f})"
            f"{' (solved)' if evaluation is self.solved else ''}",
            flush=True,
        )
        return evaluation

    def close(self) -> None:
        self.envs.close()


# ------------------------------------------------------------------------------- reinforcelab
def import_what_reinforcelab_will(judge: Judge) -> None:
    """Imports are not training (SB3's come before its clock too): load the modules this run will
    use now, and no more, so that the peak memory stays the run's own. reinforcelab's policies for
    discrete actions and vector observations are numpy and never load torch; the Gaussian and CNN
    policies are torch modules."""
    import gymnasium as gym

    import reinforcelab.loops  # noqa: F401  (what learn() imports)

    space, obs = judge.envs.single_action_space, judge.envs.single_observation_space
    if isinstance(space, gym.spaces.Box) or len(obs.shape) == 3:
        import torch  # noqa: F401


def train_reinforcelab(judge: Judge, seed: int) -> dict[str, Any]:
    import reinforcelab
    from reinforcelab.callbacks import Callback
    from reinforcelab.envs.make import vectorization_mode

    config, label = reinforcelab_config(judge.env)
    config = config.replace(seed=seed)
    rng = np.random.default_rng([seed, EVAL_STREAM])  # evaluation's own: training's is untouched

    def actor_of(trainer: Any) -> Callable[[], ActBatch]:
        def act_batch() -> ActBatch:
            actor = trainer.parts.actor()
            return lambda obs: actor.act_batch(obs, rng)

        return act_batch

    class Referee(Callback):
        def on_update(self, trainer: Any, records: Any) -> None:
            if judge.after_update(trainer.env_steps, trainer.average_return, actor_of(trainer)):
                trainer.stop(judge.stop_reason)

    judge.clock.start()
    agent = reinforcelab.Reinforce(config=config, device="cpu")
    agent.learn([Referee()])
    loop = agent.training_loop()
    budget_spent = loop.env_steps >= config.mode.total_env_steps
    judge.finish(loop.env_steps, loop.average_return, actor_of(loop), budget_spent)
    return {
        "label": label,
        "settings": config.to_dict(),
        "vectorization": vectorization_mode(
            config.env_id, config.mode.vectorization, bool(config.env_kwargs)
        ),
        "simulated_env_steps": loop.simulated_env_steps,
        "step_budget": config.mode.total_env_steps,
    }


# ------------------------------------------------------------------------------------ SB3
def train_sb3(judge: Judge, seed: int, algo: str) -> dict[str, Any]:
    import torch
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(1)  # as reinforcelab trains; these networks gain nothing from more
    setup = zoo_setup(algo, judge.env.env_id)
    kwargs = setup.model_kwargs
    # gSDE noise is redrawn every sde_sample_freq steps, else at each rollout's start
    resample = kwargs.get("sde_sample_freq", -1)
    if resample <= 0:
        resample = kwargs.get("n_steps", 2048 if algo == "ppo" else 5)

    judge.clock.start()
    envs = make_vec_env(judge.env.env_id, n_envs=setup.n_envs, seed=seed)
    normalizer = VecNormalize(envs, **setup.normalize) if setup.normalize is not None else None
    model = (PPO if algo == "ppo" else A2C)(
        "MlpPolicy", normalizer or envs, seed=seed, device="cpu", verbose=0, **kwargs
    )

    def actor() -> ActBatch:
        calls = [0]

        def act(obs: np.ndarray) -> np.ndarray:
            if normalizer is not None:  # the training statistics, not updated here
                obs = normalizer.normalize_obs(obs)
            if kwargs.get("use_sde") and calls[0] % resample == 0:
                model.policy.reset_noise(len(obs))
            calls[0] += 1
            return model.predict(obs, deterministic=False)[0]

        return act

    @contextmanager
    def training_state_kept() -> Iterator[None]:
        """Evaluating samples from torch's global stream and redraws gSDE noise: put both back,
        so training goes on as if no evaluation had happened."""
        rng = torch.get_rng_state()
        dist = model.policy.action_dist
        names = ("weights_dist", "exploration_mat", "exploration_matrices")
        noise = {k: getattr(dist, k) for k in names if hasattr(dist, k)}
        try:
            yield
        finally:
            torch.set_rng_state(rng)
            for name, value in noise.items():
                setattr(dist, name, value)

    judge.evaluation_context = training_state_kept

    class Referee(BaseCallback):
        stop = False

        def _on_rollout_start(self) -> None:
            # the policy after the last update (nothing is learned before the first rollout)
            if self.num_timesteps == 0:
                return
            self.stop = judge.after_update(self.num_timesteps, training_mean(), actor)

        def _on_step(self) -> bool:
            return not self.stop

    def training_mean() -> float:
        infos = model.ep_info_buffer  # the last 100 training episodes (Monitor's raw returns)
        return float(np.mean([i["r"] for i in infos])) if infos else math.nan

    model.learn(total_timesteps=setup.n_timesteps, callback=Referee())
    budget_spent = model.num_timesteps >= setup.n_timesteps
    judge.finish(model.num_timesteps, training_mean(), actor, budget_spent)
    envs.close()
    return {
        "label": "rl-zoo3" if setup.in_zoo else "SB3 defaults (not in the zoo)",
        "settings": setup.settings(),
        "step_budget": setup.n_timesteps,
    }


# ----------------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, choices=list(ENV_BY_ID))
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--minutes", type=float, required=True, help="cap on the training clock")
    parser.add_argument("--eval-growth", type=float, default=0.1)
    parser.add_argument("--out", required=True, help="the result's JSON file")
    args = parser.parse_args()

    env = ENV_BY_ID[args.env]
    judge = Judge(env, args.seed, 60 * args.minutes, args.eval_growth)
    if args.method == "reinforcelab":
        import_what_reinforcelab_will(judge)
    load_start = os.getloadavg()[0]
    try:
        if args.method == "reinforcelab":
            facts = train_reinforcelab(judge, args.seed)
        else:
            facts = train_sb3(judge, args.seed, args.method.removeprefix("sb3-"))
    finally:
        judge.close()
    final = judge.evaluations[-1]
    result = {
        "spec": {
            "env_id": args.env,
            "method": args.method,
            "seed": args.seed,
            "minutes": args.minutes,
            "eval_growth": args.eval_growth,
        },
        **facts,
        "threshold": env.threshold,
        "score": env.score,
        "stop_reason": judge.stop_reason,
        "train_seconds": final.seconds,
        "env_steps": final.steps,
        "train_cpu_seconds": final.cpu_seconds,
        "solved": asdict(judge.solved) if judge.solved else None,
        "final": asdict(final),
        "best": asdict(max(judge.evaluations, key=lambda e: e.score)),
        "evaluations": [asdict(e) for e in judge.evaluations],
        # ru_maxrss is in KiB on Linux: this process's peak, and its largest waited-for child's
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "load_average": [load_start, os.getloadavg()[0]],
    }
    result["summary"] = summary_line(result)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(result["summary"], flush=True)


def summary_line(r: dict[str, Any]) -> str:
    final = r["final"]
    head = (
        f"solved at {r['solved']['seconds']:.1f} s, {r['solved']['steps']:,} steps"
        if r["solved"]
        else f"not solved ({r['stop_reason']} at {r['train_seconds']:.1f} s, "
        f"{r['env_steps']:,} steps; best {r['best']['score']:.1f})"
    )
    return (
        f"{head}; final {final['mean']:.1f} +/- {final['std']:.1f}; peak {r['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
