"""Sweeps: many seeds and hyperparameter searches, on this machine or a Ray cluster, with
statistics over seeds (``reinforcelab sweep``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .spec import SweepSpec, SweepSpecError, load_spec, spec_from_dict

if TYPE_CHECKING:
    from .driver import SweepInterrupted, resume_sweep, run_sweep

__all__ = [
    "SweepInterrupted",
    "SweepSpec",
    "SweepSpecError",
    "load_spec",
    "resume_sweep",
    "run_sweep",
    "spec_from_dict",
]


def __getattr__(name: str) -> Any:
    # The driver (with the process pool and rich's progress display) loads when a sweep runs, not
    # whenever the CLI starts: the CLI imports this package for the sweep command's options.
    if name in ("SweepInterrupted", "resume_sweep", "run_sweep"):
        from . import driver

        return getattr(driver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
