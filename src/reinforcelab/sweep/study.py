"""The sweep's Optuna study: it proposes search configurations from the spec's parameters and
hears how each one ended. Its storage is ``optuna.journal`` in the sweep folder.

Optuna decides *what* to run; the run folders are the record of *what ran* (see ``ledger.py``).
Every Optuna write (ask, report, tell) happens between the driver's Ctrl-C stop points, never
during one: an interrupted journal write leaves a stale lock behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .results import ConfigRun, State
from .spec import Parameter, SweepSpec

if TYPE_CHECKING:
    import optuna

STUDY_FILE = "optuna.journal"


class SweepStudy:
    def __init__(self, spec: SweepSpec, folder: Path, new: bool) -> None:
        """Create the study in ``folder`` (``new``), or open the one an earlier run left there:
        trials it left running are proposed again (``requeue_interrupted``)."""
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.spec = spec
        sampler: optuna.samplers.BaseSampler
        if spec.method == "tpe":
            sampler = optuna.samplers.TPESampler(
                seed=spec.sampler_seed, n_startup_trials=min(10, max(2, spec.n_configs() // 3))
            )
        else:  # never asked for a sample: the grid points are enqueued
            sampler = optuna.samplers.RandomSampler(seed=spec.sampler_seed)
        pruner = (
            optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
            if spec.pruning
            else optuna.pruners.NopPruner()
        )
        self.study = optuna.create_study(
            study_name="sweep",
            storage=JournalStorage(JournalFileBackend(str(Path(folder) / STUDY_FILE))),
            sampler=sampler,
            pruner=pruner,
            direction="maximize",
            load_if_exists=not new,
        )
        # Trial numbers asked in this run and not told yet.
        self.open_trials: set[int] = set()
        if new and spec.method == "grid":
            for params in spec.grid():
                self.study.enqueue_trial({p.name: encode(params[p.name]) for p in spec.parameters})
        if not new:
            self.requeue_interrupted()

    def requeue_interrupted(self) -> None:
        """Trials left running by a Ctrl-C or a crash: close them and propose the same parameters
        again under the same config id, so their finished seeds are reused."""
        from optuna.trial import TrialState

        for t in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            config_id = t.user_attrs.get("config_id", f"trial-{t.number:04d}")
            self.study.enqueue_trial(t.params, user_attrs={"config_id": config_id})
            # No "error" attribute: not a result, so neither counted nor restored.
            self.study.tell(t.number, state=TrialState.FAIL)

    def finished_configs(self) -> list[ConfigRun]:
        """The configurations an earlier run of the sweep finished (complete, pruned or failed),
        without records: the ledger reads those from their run folders."""
        from optuna.trial import TrialState

        states: dict[TrialState, State] = {
            TrialState.COMPLETE: "complete",
            TrialState.PRUNED: "pruned",
            TrialState.FAIL: "failed",
        }
        configs = []
        for t in self.study.get_trials(deepcopy=False, states=tuple(states)):
            if t.state == TrialState.FAIL and "error" not in t.user_attrs:
                continue  # interrupted, not failed: proposed again by requeue_interrupted
            params = {p.name: decode(p, t.params[p.name]) for p in self.spec.parameters}
            config_id = t.user_attrs["config_id"]
            configs.append(
                ConfigRun(config_id, params, "search", self.spec.seeds, state=states[t.state])
            )
        return configs

    def finished_searches(self) -> int:
        from optuna.trial import TrialState

        return sum(
            1
            for t in self.study.get_trials(deepcopy=False)
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
            or (t.state == TrialState.FAIL and "error" in t.user_attrs)
        )

    def ask(self) -> ConfigRun | None:
        """The next configuration to search, or None when the spec's number is reached (counting
        those still running) or the grid is used up."""
        from optuna.trial import TrialState

        if self.finished_searches() + len(self.open_trials) >= self.spec.n_configs():
            return None
        if self.spec.method == "grid" and not self.study.get_trials(
            deepcopy=False, states=(TrialState.WAITING,)
        ):
            return None
        trial = self.study.ask()
        params = {p.name: decode(p, suggest(trial, p)) for p in self.spec.parameters}
        config_id = trial.user_attrs.get("config_id", f"trial-{trial.number:04d}")
        trial.set_user_attr("config_id", config_id)
        self.open_trials.add(trial.number)
        return ConfigRun(config_id, params, "search", self.spec.seeds, trial)

    def should_prune(self, config: ConfigRun) -> bool:
        """With pruning on, report the configuration's mean so far (one step per finished seed)
        and say whether the pruner stops it before its last seed."""
        if config.trial is None or not self.spec.pruning:
            return False
        scores, mean = config.scores(), config.mean_score()
        if mean is None:  # no seed scored yet (a failed one closes the configuration instead)
            return False
        config.trial.report(mean, step=len(scores))
        return len(scores) < len(config.seeds) and config.trial.should_prune()

    def tell(self, config: ConfigRun, error: str | None = None) -> None:
        """Tell Optuna how a searched configuration ended (``config.state``)."""
        from optuna.trial import TrialState

        trial = config.trial
        if trial is None:
            return
        self.open_trials.discard(trial.number)
        if config.state == "complete":
            self.study.tell(trial, config.mean_score())
        elif config.state == "pruned":
            self.study.tell(trial, state=TrialState.PRUNED)
        else:
            trial.set_user_attr("error", error)
            self.study.tell(trial, state=TrialState.FAIL)


# ------------------------------------------------------------------ parameter encoding
def encode(value: Any) -> Any:
    """Optuna's categorical choices must be None, bool, int, float or str: lists go as JSON."""
    return (
        value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)
    )


def decode(p: Parameter, value: Any) -> Any:
    """The spec's value for Optuna's ``value`` of parameter ``p``."""
    if p.is_range:
        return value
    return {json.dumps(encode(v)): v for v in p.values or []}[json.dumps(value)]


def suggest(trial: optuna.trial.Trial, p: Parameter) -> Any:
    if not p.is_range:
        return trial.suggest_categorical(p.name, [encode(v) for v in p.values or []])
    assert p.low is not None and p.high is not None  # a range has both bounds (spec.py)
    if p.integer:
        return trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
    return trial.suggest_float(p.name, p.low, p.high, log=p.log)
