"""Group baselines against the others: no baseline, batch normalisation, the value baseline,
leave-one-out (RLOO) and GRPO's normalisation by the group's std, on CartPole-v1, LunarLander-v3
and Pixelcopter-PLE-v0. Four parts, each printing markdown tables:

- ``bias``: the exact expected gradient of each advantage on a contextual Bernoulli bandit (every
  group outcome enumerated), against the true gradient: what dividing by the group's std does.
- ``backends``: what training CartPole in groups costs in each backend that seeds each sub-env
  (its numpy-batched vector env cannot).
- ``variance``: policy-gradient estimates of fixed policies (snapshots of a value-baseline run)
  from the same batches under every advantage: the variance of the unbiased ones against no
  baseline, with 95% bootstrap intervals over batches, and the noise-to-signal ratio
  tr(Cov g) / |E g|^2 of all (scale-free, so normalised advantages compare too), and how far each
  mean gradient points from leave-one-out's (unbiased) one.
- ``learning``: each method trained from the env's preset on fresh seeds, evaluated (100 sampled
  episodes, time excluded) once the training returns come near the goal: training seconds and env
  steps until an evaluation reaches it (a run that never does counts as its whole budget), with
  95% bootstrap intervals over seeds (``reinforcelab.sweep.stats``), and learning curves (the
  mean return of each update's batch) with bootstrap bands, plotted.

The methods start from the env's preset and change only the baseline and normalisation (and
``group_size=8`` for the group methods). A method without the value baseline cannot bootstrap, so
its returns end at the preset's cuts (``truncation="terminal"``); the rollouts are the same.

    python benchmarks/group_baselines.py --envs CartPole-v1 --seeds 10      # minutes
    python benchmarks/group_baselines.py --quick                            # every part, tiny
    python benchmarks/group_baselines.py --parts learning --envs LunarLander-v3 --seeds 5  # hours
    python benchmarks/group_baselines.py --envs CartPole-v1 --seeds 10 \\
        --write docs/benchmarks/group_baselines.md     # the tables, and the plot beside the page

Time to the goal is a wall-clock result: run it under the CPU lock on a shared machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from report import Report, add_write_option

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from group_gradients import bandit_expected_gradients, gradient_samples

import reinforcelab
from reinforcelab.callbacks import Callback
from reinforcelab.config import TrainConfig, preset
from reinforcelab.envs.make import make_vector_env
from reinforcelab.playback import evaluate_policy
from reinforcelab.seeding import episode_seeds
from reinforcelab.sweep.stats import (
    bootstrap_ci,
    curve_band,
    probability_of_improvement,
    probability_of_improvement_ci,
)

GROUP = 8
METHODS: dict[str, dict[str, object]] = {
    "none": {"return_norm": "none"},
    "batch": {"return_norm": "batch"},
    "value": {"baseline": "value", "return_norm": "batch"},
    "leave-one-out": {"group_size": GROUP, "baseline": "leave-one-out", "return_norm": "batch"},
    "leave-one-out, no norm": {
        "group_size": GROUP,
        "baseline": "leave-one-out",
        "return_norm": "none",
    },
    "GRPO": {"group_size": GROUP, "return_norm": "group"},
}
DEFAULT_METHODS = ["none", "batch", "value", "leave-one-out", "GRPO"]


@dataclass(frozen=True)
class Setup:
    preset: str
    goal: float  # 100-episode sampled evaluation mean
    budget: int  # env steps (full run)
    quick_budget: int
    eval_every: int  # env steps between evaluations, at most
    snapshots: tuple[int, ...]  # env steps of the value run where gradients are measured
    quick_snapshots: tuple[int, ...]
    # Settings that differ from the preset: group methods need whole episodes from the reset.
    changes: dict[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        changed = ", ".join(f"{k}={v}" for k, v in self.changes.items())
        return f"`{self.preset}`" + (f" with {changed}" if changed else "")


ENVS = {
    "CartPole-v1": Setup(
        "fast-cartpole",
        475.0,
        1_000_000,
        150_000,
        50_000,
        (0, 30_000, 100_000, 300_000),
        (0, 30_000),
    ),
    # The whole-episode settings fast-lunarlander had until issue 20 (it now trains on segments,
    # with gamma 0.999).
    "LunarLander-v3": Setup(
        "fast-lunarlander",
        200.0,
        5_000_000,
        100_000,
        250_000,
        (0, 1_000_000),
        (0,),
        changes={
            "gamma": 0.99,
            "segment_steps": None,
            "rollout_max_t": 250,
            "value_lr": 3e-3,
            "value_steps": 1,
            "reward_scale": 1.0,
        },
    ),
    "Pixelcopter-PLE-v0": Setup(
        "fast-pixelcopter", 100.0, 30_000_000, 500_000, 1_000_000, (0, 2_000_000), (0,)
    ),
}
PRECHECK = 0.75  # evaluate only once the batch's mean return reaches this share of the goal


def method_config(env_id: str, method: str, seed: int, budget: int) -> TrainConfig:
    """The env's preset with the method's baseline and normalisation; without V, no bootstrap."""
    setup = ENVS[env_id]
    changes = {"baseline": "none", "return_norm": "batch", "group_size": 1, **METHODS[method]}
    base = preset(setup.preset).replace(**setup.changes)
    if changes["baseline"] != "value":
        changes["truncation"] = "terminal"
    return base.replace(seed=seed, total_env_steps=budget, **changes)


def fmt_ci(values: np.ndarray | list[float], digits: int = 0, scale: float = 1.0) -> str:
    x = np.asarray(values, dtype=float) / scale
    low, high = bootstrap_ci(x)
    return f"{x.mean():,.{digits}f} [{low:,.{digits}f}, {high:,.{digits}f}]"


# ------------------------------------------------------------------------------------ bias
def bias_part(report: Report) -> None:
    p = np.array([[0.0, 0.1], [0.45, 0.55], [0.9, 1.0]])
    pi = np.full((3, 2), 0.5)
    report.line(
        "\n### Bias: a contextual bandit, exactly\n\n"
        "Three contexts (a group shares one), two arms rewarded 1 with probability "
        "(0, 0.1), (0.45, 0.55) and (0.9, 1), a tabular softmax policy at (0.5, 0.5): the true "
        "gradient of the better arm's logit is the same in the three contexts. Each entry is the "
        "expected gradient of one group's estimate divided by the true one, every group outcome "
        "enumerated (no sampling, so no interval). Cosine: between the whole expected gradient "
        "and the true one.\n"
    )
    report.header("group size", "advantage", "rarely rewarded", "half", "nearly always", "cosine")
    for k in (2, 4, 8, 16):
        grads = bandit_expected_gradients(p, pi, k)
        exact = grads["exact"]
        for name in ("none", "leave-one-out", "group (GRPO)"):
            g = grads[name]
            ratio = g[:, 1] / exact[:, 1]
            cos = float(g.ravel() @ exact.ravel() / np.linalg.norm(g) / np.linalg.norm(exact))
            report.row(k, name, *(f"{r:.3f}" for r in ratio), f"{cos:.4f}")


# -------------------------------------------------------------------------------- variance
UNBIASED = ["none", "value, no norm", "leave-one-out", "leave-one-out, whole episode"]
SCALED = ["batch", "value", "leave-one-out, batch", "group (GRPO)"]


def total_variance_ratio(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """tr Cov(a) / tr Cov(b) over the batches (rows), with a 95% paired bootstrap interval."""
    ratio = a.var(axis=0, ddof=1).sum() / b.var(axis=0, ddof=1).sum()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), size=(1000, len(a)))
    boot = [a[i].var(axis=0, ddof=1).sum() / b[i].var(axis=0, ddof=1).sum() for i in picks]
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(ratio), float(low), float(high)


def unpaired_variance_ratio(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, ...]:
    """tr Cov(a) / tr Cov(b) for estimates from different batches, with a 95% bootstrap interval
    resampling each on its own."""
    ratio = a.var(axis=0, ddof=1).sum() / b.var(axis=0, ddof=1).sum()
    rng = np.random.default_rng(seed)
    boot = [
        a[rng.integers(0, len(a), len(a))].var(axis=0, ddof=1).sum()
        / b[rng.integers(0, len(b), len(b))].var(axis=0, ddof=1).sum()
        for _ in range(1000)
    ]
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(ratio), float(low), float(high)


def noise_to_signal(g: np.ndarray) -> float:
    """tr Cov(g) / |E g|^2, with |E g|^2 estimated without the noise of the mean (nan when the
    signal is not resolved)."""
    trace = g.var(axis=0, ddof=1).sum()
    mean = g.mean(axis=0)
    signal = mean @ mean - trace / len(g)
    return float(trace / signal) if signal > 0 else float("nan")


def cosine_ci(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Cosine between the mean rows of a and b, with a 95% paired bootstrap interval."""

    def cos(x: np.ndarray, y: np.ndarray) -> float:
        mx, my = x.mean(axis=0), y.mean(axis=0)
        return float(mx @ my / np.linalg.norm(mx) / np.linalg.norm(my))

    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), size=(1000, len(a)))
    low, high = np.percentile([cos(a[i], b[i]) for i in picks], [2.5, 97.5])
    return cos(a, b), float(low), float(high)


def variance_part(report: Report, env_id: str, snapshots: tuple[int, ...], batches: int) -> None:
    setup = ENVS[env_id]
    config = method_config(env_id, "value", seed=1, budget=max(snapshots[-1], 1))
    agent = reinforcelab.Reinforce(config=config)
    num_envs = config.mode.num_envs
    report.line(
        f"\n### Gradient variance: {env_id}\n\n"
        f"{setup.label} with the value baseline, trained with seed 1; at each snapshot "
        f"{batches} batches of {num_envs} episodes in groups of {GROUP} sharing their start "
        "(returns end at cuts for every advantage here). Variance: tr Cov of the estimate "
        "against no baseline's, from the same batches (the unbiased advantages only: the "
        "normalised ones change the gradient's scale). Noise/signal: tr Cov(g) / |E g|^2, "
        "scale-free. Cosine: of the mean gradient with leave-one-out's (unbiased; none's "
        "cosine shows how much of the gap is sampling noise). Independent starts: the same "
        "groups, a seed per sub-env, from other batches: their variance against leave-one-out's "
        "with shared starts. [95% bootstrap intervals over batches]\n"
    )
    report.header(
        "env steps", "eval mean", "advantage", "variance / none's", "noise/signal", "cosine"
    )
    names = [*UNBIASED, *SCALED]
    for steps in snapshots:
        if steps > agent.training_loop().env_steps:
            agent.learn(total_env_steps=steps)
        evaluation = agent.evaluate(100, seed=7).mean_reward
        samples = gradient_samples(agent, batches, names, num_envs, GROUP, seed=steps + 11)
        independent = gradient_samples(
            agent, batches, ["leave-one-out"], num_envs, GROUP, shared_starts=False, seed=steps
        )["leave-one-out"]
        loo = samples["leave-one-out"]
        rows = [(name, samples[name]) for name in names]
        rows.insert(3, ("leave-one-out, independent starts", independent))
        for name, g in rows:
            variance = "-"
            if name in UNBIASED:
                variance = "{:.3f} [{:.3f}, {:.3f}]".format(
                    *total_variance_ratio(g, samples["none"])
                )
            elif name.endswith("independent starts"):  # other batches: against shared starts
                variance = "{:.3f} [{:.3f}, {:.3f}] of shared starts".format(
                    *unpaired_variance_ratio(g, loo)
                )
            cosine = (
                "{:.3f} [{:.3f}, {:.3f}]".format(*cosine_ci(g, loo))
                if name != "leave-one-out" and not name.endswith("independent starts")
                else "-"
            )
            report.row(
                f"{steps:,}",
                f"{evaluation:.1f}",
                name,
                variance,
                f"{noise_to_signal(g):.3g}",
                cosine,
            )


# -------------------------------------------------------------------------------- backends
def backends_part(report: Report, steps: int) -> None:
    """CartPole's numpy-batched vector env takes one seed for all sub-envs, so groups need another
    backend: what each costs, training leave-one-out from fast-cartpole."""
    from reinforcelab.envs.envpool_env import envpool_installed

    report.line(
        f"\n### Backends: CartPole-v1 in groups\n\n`fast-cartpole`, {steps:,} env steps, seed 0; "
        "CPU seconds count every thread of the process (EnvPool's too). The numpy-batched row "
        "trains without groups (it cannot share starts), for reference.\n"
    )
    report.header("backend", "method", "CPU s", "wall s", "env steps/CPU s")
    rows = [("numpy-batched (auto)", "batch", "auto")]
    rows += [("sync", "leave-one-out", "sync")]
    if envpool_installed():
        rows += [("envpool", "leave-one-out", "envpool")]
    for label, method, vectorization in rows:
        config = method_config("CartPole-v1", method, 0, steps).replace(vectorization=vectorization)
        agent = reinforcelab.Reinforce(config=config, device="cpu")
        cpu, wall = time.process_time(), time.perf_counter()
        agent.learn()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        done = agent.training_loop().env_steps
        report.row(label, method, f"{cpu:.2f}", f"{wall:.2f}", f"{done / cpu:,.0f}")


# -------------------------------------------------------------------------------- learning
@dataclass
class Run:
    env_id: str
    method: str
    seed: int
    budget: int
    solved_seconds: float | None = None
    solved_steps: int | None = None
    train_seconds: float = 0.0
    env_steps: int = 0
    curve: list[tuple[int, float]] = field(default_factory=list)  # (env steps, batch mean return)


class Watch(Callback):
    """Records the curve and evaluates (100 sampled episodes, timed apart) until the goal."""

    def __init__(self, run: Run, config: TrainConfig) -> None:
        setup = ENVS[run.env_id]
        self.run, self.goal, self.eval_every = run, setup.goal, setup.eval_every
        self.max_t = config.max_t
        self.envs = make_vector_env(run.env_id, 100, **config.env_kwargs)
        self.rng = np.random.default_rng([run.seed, 5])
        self.eval_seconds = 0.0
        self.last_eval = -setup.eval_every
        self.count = 0

    def on_update(self, trainer, records) -> None:
        run = self.run
        run.train_seconds = trainer.wall_seconds - self.eval_seconds
        run.env_steps = trainer.env_steps
        batch_mean = float(np.mean(records.returns)) if len(records) else float("nan")
        run.curve.append((trainer.env_steps, batch_mean))
        due = trainer.env_steps - self.last_eval >= self.eval_every
        if run.solved_steps is None and due and batch_mean >= PRECHECK * self.goal:
            start = time.perf_counter()
            actor = trainer.parts.actor()
            seeds = episode_seeds(run.seed, 100, 7, self.count)
            mean = evaluate_policy(
                lambda obs: actor.act_batch(obs, self.rng),
                self.envs,
                run.env_id,
                self.max_t,
                reset_seeds=seeds,
            ).mean_reward
            self.count += 1
            self.last_eval = trainer.env_steps
            self.eval_seconds += time.perf_counter() - start
            print(f"  {run.method} seed {run.seed}: {trainer.env_steps:,} steps: {mean:.1f}")
            if mean >= self.goal:
                run.solved_seconds, run.solved_steps = run.train_seconds, run.env_steps

    def close(self) -> None:
        self.envs.close()


def train(env_id: str, method: str, seed: int, budget: int) -> Run:
    run = Run(env_id, method, seed, budget)
    config = method_config(env_id, method, seed, budget)
    agent = reinforcelab.Reinforce(config=config, device="cpu")
    watch = Watch(run, config)
    try:
        agent.learn([watch])
    finally:
        watch.close()
    return run


def learning_part(
    report: Report, env_id: str, methods: list[str], seeds: list[int], budget: int
) -> list[Run]:
    setup = ENVS[env_id]
    runs = []
    for method in methods:
        for seed in seeds:
            print(f"{env_id} {method} seed {seed} ...", flush=True)
            runs.append(train(env_id, method, seed, budget))
    report.line(
        f"\n### Learning: {env_id}\n\n"
        f"{setup.label}, each method's baseline and normalisation, {budget:,} env steps, "
        f"seeds {seeds[0]}-{seeds[-1]} (not used to tune anything). To the goal: until a "
        f"100-episode sampled evaluation mean reaches {setup.goal:g} (evaluation time excluded; "
        "a run that never does counts as its whole budget). Mean over seeds [95% bootstrap "
        "interval]; P(faster): the probability that a run of the method needs fewer env steps "
        "than a run of `batch` (the presets' normalisation), with its interval.\n"
    )
    report.header(
        "method", "solved", "env steps to goal (k)", "training s to goal", "P(faster than batch)",
        "env steps/s", "final batch mean",
    )  # fmt: skip
    by_method = {m: [r for r in runs if r.method == m] for m in methods}
    for method, group in by_method.items():
        steps = [r.solved_steps if r.solved_steps is not None else r.budget for r in group]
        seconds = [
            r.solved_seconds if r.solved_seconds is not None else r.train_seconds for r in group
        ]
        versus = "-"
        if "batch" in by_method and method != "batch":
            base = [r.solved_steps or r.budget for r in by_method["batch"]]
            fewer, fewer_base = -np.asarray(steps, dtype=float), -np.asarray(base, dtype=float)
            versus = "{:.2f} [{:.2f}, {:.2f}]".format(
                float(probability_of_improvement(fewer, fewer_base)),
                *probability_of_improvement_ci(fewer, fewer_base),
            )
        rate = [r.env_steps / r.train_seconds for r in group if r.train_seconds > 0]
        final = [np.mean([c[1] for c in r.curve[-5:]]) for r in group]
        report.row(
            method,
            f"{sum(r.solved_steps is not None for r in group)}/{len(group)}",
            fmt_ci(steps, 0, 1000),
            fmt_ci(seconds, 1),
            versus,
            f"{np.mean(rate):,.0f}",
            fmt_ci(final, 1),
        )
    return runs


def plot(runs: list[Run], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(dict.fromkeys(r.env_id for r in runs))
    fig, axes = plt.subplots(1, len(envs), figsize=(5.5 * len(envs), 4), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        budget = max(r.budget for r in runs if r.env_id == env_id)
        grid = np.linspace(0, budget, 60)
        seeds = len({r.seed for r in runs if r.env_id == env_id})
        for method in dict.fromkeys(r.method for r in runs if r.env_id == env_id):
            group = [r for r in runs if r.env_id == env_id and r.method == method]
            curves = np.array([np.interp(grid, *np.array(r.curve).T, left=np.nan) for r in group])
            keep = ~np.isnan(curves).any(axis=0)
            middle, low, high = curve_band(curves[:, keep])
            ax.plot(grid[keep], middle, label=method)
            ax.fill_between(grid[keep], low, high, alpha=0.2)
        ax.axhline(ENVS[env_id].goal, color="black", lw=0.8, ls="--")
        ax.set_title(f"{env_id} ({seeds} seeds)")
        ax.set_xlabel("env steps")
        ax.set_ylabel("mean return of the update's batch")
        ax.legend(fontsize=8)
    fig.suptitle("Mean over seeds and 95% bootstrap band", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=list(ENVS))
    parser.add_argument(
        "--parts", nargs="+", default=["bias", "backends", "variance", "learning"],
        choices=["bias", "backends", "variance", "learning"],
    )  # fmt: skip
    parser.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=list(METHODS))
    parser.add_argument("--seeds", type=int, default=5, help="seeds per env and method")
    parser.add_argument("--first-seed", type=int, default=2000)
    parser.add_argument("--budget", type=int, help="env steps per run (default: per env)")
    parser.add_argument("--batches", type=int, default=100, help="batches per gradient snapshot")
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets, 2 seeds: checks the pipeline only"
    )
    parser.add_argument(
        "--plot", type=Path, help="learning curves PNG (default: beside --write's page)"
    )
    add_write_option(parser)
    args = parser.parse_args()
    seeds = list(range(args.first_seed, args.first_seed + (2 if args.quick else args.seeds)))
    batches = 10 if args.quick else args.batches
    name = "group_baselines-quick.png" if args.quick else "group_baselines.png"
    plot_path = args.plot or (args.write.parent if args.write else Path("benchmarks")) / name

    report = Report("Group baselines: RLOO and GRPO beside the others", args.write)
    if args.quick:
        report.line("**Quick run**: tiny budgets, 2 seeds, to check the pipeline; not a result.")
    if "bias" in args.parts:
        bias_part(report)
    if "backends" in args.parts and "CartPole-v1" in args.envs:
        backends_part(report, 100_000 if args.quick else 500_000)
    runs: list[Run] = []
    for env_id in args.envs:
        setup = ENVS[env_id]
        if "variance" in args.parts:
            snapshots = setup.quick_snapshots if args.quick else setup.snapshots
            variance_part(report, env_id, snapshots, batches)
        if "learning" in args.parts:
            budget = args.budget or (setup.quick_budget if args.quick else setup.budget)
            runs += learning_part(report, env_id, args.methods, seeds, budget)
    if runs:
        plot(runs, plot_path)
        link = plot_path.name if args.write else plot_path
        report.line(f"\n![learning curves]({link})")
    report.save()


if __name__ == "__main__":
    main()
