"""Opt-in loading of agents published by the course's own notebook (a pickled torch module).

The course pushes ``model.pt`` = ``torch.save(policy)``: a whole pickled ``__main__.Policy`` with
Linear layers fc1, fc2[, fc3], plus ``hyperparameters.json``. Unpickling can run arbitrary code,
so this is only reached with an explicit ``allow_pickle=True`` (CLI ``--allow-pickle``).
"""

from __future__ import annotations

import json
import pickle
import types
import warnings
from itertools import pairwise
from pathlib import Path

import torch
from torch import nn

from ..config import CourseMode, TrainConfig
from .checkpoint import CheckpointError


class _CoursePolicy(nn.Module):
    """Stand-in for the notebook's ``__main__.Policy``: unpickling only restores its attributes."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module == "__main__":
            return _CoursePolicy
        return super().find_class(module, name)


_pickle_module = types.SimpleNamespace(
    Unpickler=_Unpickler, load=pickle.load, __name__="course_pickle"
)


def linear_weights(obj) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) of every Linear layer, in order, from a module or a state dict."""
    state = obj.state_dict() if isinstance(obj, nn.Module) else obj
    if not isinstance(state, dict):
        raise CheckpointError(
            f"the pickle holds a {type(obj).__name__}, not a torch module or state dict"
        )
    weights = [k for k, v in state.items() if k.endswith("weight") and getattr(v, "ndim", 0) == 2]
    return [(state[k], state[k[: -len("weight")] + "bias"]) for k in weights]


def load_course_pickle(
    folder: Path, pickle_file: Path
) -> tuple[TrainConfig, list[tuple[torch.Tensor, torch.Tensor]]]:
    """The config (from hyperparameters.json) and Linear layers of a course agent."""
    warnings.warn(
        f"unpickling {pickle_file.name}: pickles can run arbitrary code; "
        "only load agents you trust",
        stacklevel=2,
    )
    hp_path = folder / "hyperparameters.json"
    if not hp_path.is_file():
        raise CheckpointError(
            f"{folder} has a pickled model but no hyperparameters.json to tell its environment"
        )
    hp = json.loads(hp_path.read_text())
    try:
        obj = torch.load(
            pickle_file, map_location="cpu", weights_only=False, pickle_module=_pickle_module
        )
    except Exception as exc:  # any unpickling failure means we cannot use this file
        raise CheckpointError(f"could not unpickle {pickle_file}: {exc}") from exc
    layers = linear_weights(obj)
    if len(layers) < 2:
        raise CheckpointError(
            f"{pickle_file} does not hold an MLP policy (found {len(layers)} Linear layers)"
        )
    for (w_prev, _), (w, _) in pairwise(layers):
        if w.shape[1] != w_prev.shape[0]:
            raise CheckpointError(
                f"{pickle_file}: Linear layers do not chain "
                f"({tuple(w_prev.shape)} -> {tuple(w.shape)})"
            )
    config = TrainConfig(
        env_id=hp["env_id"],
        hidden_sizes=tuple(w.shape[0] for w, _ in layers[:-1]),
        lr=float(hp.get("lr", 1e-2)),
        gamma=float(hp.get("gamma", 1.0)),
        max_t=int(hp.get("max_t", 1000)),
        eval_episodes=int(hp.get("n_evaluation_episodes", 10)),
        mode=CourseMode(n_episodes=int(hp.get("n_training_episodes", 1000))),
    )
    return config, layers
