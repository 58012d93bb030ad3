"""The live progress line of a sweep (rich)::

    sweep ━━━━━━━━━━━━━━━━━━━━━  8/8 done 8  running 0  failed 0  pruned 0  best base 41.3 0:00:03

Everything on it is read from the ledger that trials.csv and summary.json are written from, so
when the sweep is done it reads N/N (N = the rows of trials.csv) and names the best configuration
that the summary names.
"""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .ledger import SweepLedger


class ProgressView:
    def __init__(self, enabled: bool = True) -> None:
        self.progress: Progress | None = None
        if enabled:
            self.progress = Progress(
                TextColumn("[bold]sweep"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
            )
        self.task: TaskID | None = None

    def start(self) -> None:
        if self.progress is not None:
            self.progress.start()
            self.task = self.progress.add_task("sweep", total=None, status="")

    def show(self, ledger: SweepLedger, running: int, planned: int) -> None:
        """``running``: trials on the workers; ``planned``: trials finished, running or still to
        come (the bar's total)."""
        if self.progress is None or self.task is None:
            return
        best = ledger.best()
        mean = best.mean_score() if best is not None else None
        best_text = f"best {best.config_id} {mean:.1f}" if best and mean is not None else "best -"
        self.progress.update(
            self.task,
            completed=ledger.trials(),
            total=planned,
            status=f"done {ledger.trials('ok')}  running {running}  "
            f"failed {ledger.trials('failed')}  pruned {ledger.configurations('pruned')}  "
            f"{best_text}",
        )

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
