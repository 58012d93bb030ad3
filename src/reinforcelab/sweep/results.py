"""What a sweep knows about one configuration: its parameters, seeds and the trials' records; and
where those trials live in the sweep folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNS_DIR = "runs"
BASE_ID = "base"  # the preset itself, on the search seeds
CONFIRM_BEST_ID, CONFIRM_BASE_ID = "confirm-best", "confirm-base"  # retrained on fresh seeds


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
    stage: str  # "search" or "confirm"
    seeds: list[int]
    trial: Any = None
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    state: str = "running"  # running, complete, pruned, failed

    def scores(self) -> list[float]:
        """The objective of every seed that finished, in seed order."""
        return [
            self.records[s]["objective"]
            for s in self.seeds
            if self.records.get(s, {}).get("status") == "ok"
        ]

    def ok_seeds(self) -> list[int]:
        return [s for s in self.seeds if self.records.get(s, {}).get("status") == "ok"]
