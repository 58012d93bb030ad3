"""How an agent dies, and what mean return the course's score (mean - std) needs from it.

Evaluates saved agents (run folders, all of one env) on ``--episodes`` sampled episodes, as
``reinforcelab evaluate`` does, and prints, per agent: the score, the return's quantiles, and the
death rate per unit of return in bands of return (of the episodes that reached a band, the share
that died in it, per unit). A flat death rate is the constant-hazard regime: returns spread like an
exponential, std about equal to the mean, and mean - std near 0 whatever the mean, until the step
cap (``max_t``) cuts the long lives short.

The last table says how long a life the score needs in that regime: for returns exponential with
mean ``m`` capped at ``C`` (the return of an episode that lasts ``max_t`` steps, at the agents'
observed return per step), mean - std as a function of ``m``, and the ``m`` that reaches the
course's bar (5) and a score of 25.

    python benchmarks/survival.py runs/pixels-s31-493s runs/fast-pixelcopter --episodes 300
"""

from __future__ import annotations

import argparse
import itertools
import math

import numpy as np
from report import Report, add_write_option

import reinforcelab
from reinforcelab.errors import UserError

BANDS = (0, 10, 25, 50, 100, 200, 400, 800, 1600)


def capped_exponential(m: float, cap: float) -> tuple[float, float]:
    """Mean and std of min(X, cap) for X exponential with mean ``m``."""
    q = math.exp(-cap / m)
    mean = m * (1 - q)
    second = 2 * m * m * (1 - q * (1 + cap / m))  # E[min(X, cap)^2]
    return mean, math.sqrt(max(second - mean * mean, 0.0))


def mean_life_for(score: float, cap: float) -> float | None:
    """The smallest exponential mean whose capped returns reach ``score`` = mean - std (bisection;
    the score grows with m), or None if even a life at the cap does not."""
    lo, hi = 1.0, 1000 * cap
    mean, std = capped_exponential(hi, cap)
    if mean - std < score:
        return None
    for _ in range(100):
        mid = (lo + hi) / 2
        mean, std = capped_exponential(mid, cap)
        lo, hi = (mid, hi) if mean - std < score else (lo, mid)
    return hi


def death_rate(returns: np.ndarray, lo: float, hi: float) -> float:
    """Of the episodes whose return reached ``lo``, the share that ended below ``hi``, per unit
    of return (NaN if none reached ``lo``)."""
    reached = int((returns >= lo).sum())
    died = int(((returns >= lo) & (returns < hi)).sum())
    return died / reached / (hi - lo) if reached else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", help="run folders (config.json + model.safetensors)")
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=777, help="evaluation seed")
    add_write_option(parser)
    args = parser.parse_args()
    if args.episodes < 2:
        parser.error(f"--episodes must be at least 2 (a std needs two); got {args.episodes}")
    try:
        agents = {folder: reinforcelab.Reinforce.load(folder, device="cpu") for folder in args.runs}
    except UserError as error:
        parser.error(str(error))

    report = Report("Survival: how the agents die", args.write)
    report.line(f"{args.episodes} sampled episodes per agent, evaluation seed {args.seed}.")
    report.line()
    report.header(
        "run", "mean ± std", "score", "return 10/25/50/75/90%", "steps per unit of return"
    )
    per_step, caps, hazards = [], [], {}
    for folder, agent in agents.items():
        result = agent.evaluate(args.episodes, seed=args.seed)
        returns, lengths = np.asarray(result.returns), np.asarray(result.lengths)
        ratio = lengths.sum() / max(returns.clip(0).sum(), 1.0)
        per_step.append(ratio)
        caps.append(agent.config.max_t)
        quantiles = "/".join(f"{q:.0f}" for q in np.percentile(returns, [10, 25, 50, 75, 90]))
        report.row(
            f"`{folder}`",
            f"{result.mean_reward:.1f} ± {result.std_reward:.1f}",
            f"{result.score:.1f}",
            quantiles,
            f"{ratio:.1f}",
        )
        hazards[folder] = [death_rate(returns, lo, hi) for lo, hi in itertools.pairwise(BANDS)]
    report.line()
    report.line(
        "Deaths per 1,000 units of return, by band of return (of the episodes that reached the "
        "band; empty: none did):"
    )
    report.line()
    report.header("run", *(f"{lo}-{hi}" for lo, hi in itertools.pairwise(BANDS)))
    for folder, rates in hazards.items():
        report.row(f"`{folder}`", *("" if math.isnan(r) else f"{1000 * r:.1f}" for r in rates))

    cap = float(np.median(caps)) / float(np.median(per_step))
    report.line()
    report.line(
        f"Constant hazard, returns capped at {cap:.0f} (max_t {int(np.median(caps))} steps at "
        f"{np.median(per_step):.1f} steps per unit of return): mean - std by mean life, and the "
        "life each score needs."
    )
    report.line()
    report.header("exponential mean life", "capped mean", "capped std", "mean - std")
    for m in (50, 100, 200, 300, 400, 600, 1000):
        mean, std = capped_exponential(m, cap)
        report.row(m, f"{mean:.1f}", f"{std:.1f}", f"{mean - std:.1f}")
    report.line()
    for score in (5, 25):
        m = mean_life_for(score, cap)
        needed = (
            "not reachable"
            if m is None
            else f"{m:.0f} (capped mean {capped_exponential(m, cap)[0]:.0f})"
        )
        report.line(f"- a score of {score} needs a mean life of {needed}")
    report.save()


if __name__ == "__main__":
    main()
