"""What a sweep knows about one configuration: its parameters, seeds and the trials' records;
where those trials live in the sweep folder; and the one rule that ranks configurations.

The ranking rule (``ranking_key``), used by the live progress line, by the choice of the
configuration to confirm and by the order of summary.json's configurations alike:

1. the highest mean score over the seeds that finished (configurations without one come last);
2. on a tie, the base preset: a configuration that only ties it has nothing to gain;
3. then the lowest config id (the earliest proposed), whatever order the trials finished in.

Only complete configurations can be the best: a failed trial closes its configuration as failed,
so a complete one has every seed scored and none failed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .stats import mean_score

if TYPE_CHECKING:
    from optuna.trial import Trial

    from .trial import TrialRecord

RUNS_DIR = "runs"
BASE_ID = "base"  # the preset itself, on the search seeds
CONFIRM_BEST_ID, CONFIRM_BASE_ID = "confirm-best", "confirm-base"  # retrained on fresh seeds

Stage = Literal["search", "confirm"]
State = Literal["running", "complete", "pruned", "failed"]


def describe(params: dict[str, Any]) -> str:
    """``lr=0.04235 num_envs=64`` (floats to 4 significant digits), or ``preset`` for none."""
    return (
        " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        or "preset"
    )


def run_folder(config_id: str, seed: int) -> str:
    """A trial's run folder, relative to the sweep folder."""
    return f"{RUNS_DIR}/{config_id}/seed-{seed}"


@dataclass
class ConfigRun:
    """One configuration over its seeds, and the Optuna trial it reports to (none for the base
    preset and the confirmation runs, which Optuna does not search over)."""

    config_id: str
    params: dict[str, Any]
    stage: Stage
    seeds: list[int]
    trial: Trial | None = None
    records: dict[int, TrialRecord] = field(default_factory=dict)  # by seed, finished trials only
    state: State = "running"

    def scores(self) -> list[float]:
        """The objective of every seed that finished, in seed order."""
        return [self.records[s]["objective"] for s in self.ok_seeds()]

    def ok_seeds(self) -> list[int]:
        return [s for s in self.seeds if self.records.get(s, {}).get("status") == "ok"]

    def mean_score(self) -> float | None:
        """The mean objective over the seeds that finished; None before the first."""
        return mean_score(self.scores())


def ranking_key(config: ConfigRun) -> tuple[float, bool, str]:
    """Sorts configurations best first (the rule in this module's docstring)."""
    mean = config.mean_score()
    return (-mean if mean is not None else math.inf, config.config_id != BASE_ID, config.config_id)


def ranked(configs: Iterable[ConfigRun]) -> list[ConfigRun]:
    return sorted(configs, key=ranking_key)


def best_search_config(configs: Iterable[ConfigRun]) -> ConfigRun | None:
    """The best complete search configuration (base preset included), or None before any."""
    complete = [
        c for c in configs if c.stage == "search" and c.state == "complete" and c.ok_seeds()
    ]
    return min(complete, key=ranking_key, default=None)
