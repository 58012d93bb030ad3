"""The sweep's bookkeeping: every configuration with its trials' records, in the order they
joined the sweep. trials.csv, summary.json and the live progress line are all made from it.

The run folders are the record of what ran: a trial's ``trial.json`` is written last, so a
configuration that joins the ledger (again, when a sweep is resumed) takes the records of its
finished seeds from disk, and only the others run.
"""

from __future__ import annotations

from pathlib import Path

from .results import ConfigRun, State, best_search_config, run_folder
from .trial import TrialRecord, read_record

FINISHED = ("ok", "failed")  # statuses a record on disk may have ("interrupted" is never written)


class SweepLedger:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.configs: list[ConfigRun] = []

    def add(self, config: ConfigRun) -> None:
        self.configs.append(config)

    def finished_record(self, config: ConfigRun, seed: int) -> TrialRecord | None:
        """The record of ``config``'s trial on ``seed``, if an earlier run of the sweep finished
        it."""
        record = read_record(self.folder / run_folder(config.config_id, seed))
        return record if record is not None and record.get("status") in FINISHED else None

    def record(self, config: ConfigRun, record: TrialRecord) -> None:
        """Keep a finished trial's record, whatever its configuration's state by now."""
        config.records[record["seed"]] = record

    # ------------------------------------------------------------------ what it holds
    def trials(self, status: str | None = None) -> int:
        """Finished trials (the rows of trials.csv), or those with ``status``."""
        return sum(
            1
            for c in self.configs
            for r in c.records.values()
            if status is None or r.get("status") == status
        )

    def configurations(self, state: State, stage: str = "search") -> int:
        return sum(1 for c in self.configs if c.stage == stage and c.state == state)

    def searched(self) -> int:
        """Search configurations in the ledger (the base preset included)."""
        return sum(1 for c in self.configs if c.stage == "search")

    def best(self) -> ConfigRun | None:
        """The best complete search configuration so far (the rule in ``results.py``)."""
        return best_search_config(self.configs)
