"""Sweeps: many seeds and hyperparameter searches, on this machine or a Ray cluster, with
statistics over seeds (``reinforcelab sweep``)."""

from .driver import SweepInterrupted, resume_sweep, run_sweep
from .spec import SweepSpec, SweepSpecError, load_spec, spec_from_dict

__all__ = [
    "SweepInterrupted",
    "SweepSpec",
    "SweepSpecError",
    "load_spec",
    "resume_sweep",
    "run_sweep",
    "spec_from_dict",
]
