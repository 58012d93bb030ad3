"""Saving and loading an agent as a folder: config.json + model.safetensors (weights only)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
FORMAT = "reinforcelab-run"
FORMAT_VERSION = 1
WEIGHTS_METADATA = {"format": "reinforcelab", "format_version": "1"}


class CheckpointError(ValueError):
    """A folder or file that is not a readable reinforcelab checkpoint."""


class HasState(Protocol):
    def state_dict(self) -> dict[str, np.ndarray]: ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def write_json(path: Path, data: Any) -> None:
    _atomic_write(Path(path), lambda p: p.write_text(json.dumps(data, indent=2) + "\n"))


def save_checkpoint(folder: Path, config_json: dict[str, Any], weights: dict[str, np.ndarray]) -> None:
    """Write config.json and model.safetensors into ``folder`` (each replaced atomically)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / CONFIG_FILE, {"format": FORMAT, "format_version": FORMAT_VERSION, **config_json})
    contiguous = {k: v.copy(order="C") for k, v in weights.items()}  # ascontiguousarray would make 0-d 1-d
    _atomic_write(folder / MODEL_FILE, lambda p: save_file(contiguous, str(p), metadata=WEIGHTS_METADATA))


def read_config(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder; expected a run folder with {CONFIG_FILE} and {MODEL_FILE}")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}; it is not a reinforcelab run folder")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); the file is corrupt") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a reinforcelab config (missing \"format\": \"{FORMAT}\")")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {data.get('format_version')!r}; this reinforcelab reads {FORMAT_VERSION}"
        )
    return data


def read_weights(folder: Path) -> dict[str, np.ndarray]:
    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise CheckpointError(f"{Path(folder)} has no {MODEL_FILE}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc}); it is corrupt or truncated") from exc


def load_state(net: HasState, weights: dict[str, np.ndarray], prefix: str, path: Path) -> None:
    """Load ``prefix.*`` arrays into ``net``, naming what is missing or mismatched."""
    state = {k[len(prefix) + 1:]: v for k, v in weights.items() if k.startswith(prefix + ".")}
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(prefix + '.' + k for k in missing)}")
        if unexpected:
            problems.append(f"unexpected {', '.join(prefix + '.' + k for k in unexpected)}")
        if wrong:
            problems.append("shape mismatch for " + ", ".join(
                f"{prefix}.{k} (file {tuple(state[k].shape)}, model {tuple(expected[k].shape)})" for k in wrong))
        raise CheckpointError(f"{path} does not match its config.json: {'; '.join(problems)}")
    net.load_state_dict(state)


RESUME_FILE = "resume.pkl"


def save_resume_state(folder: Path, state: dict[str, Any]) -> None:
    """Training state for ``train --resume`` (optimizer, RNG and env state). A local pickle: it is
    never part of what is shared."""
    def write(path: Path) -> None:
        with open(path, "wb") as f:
            pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)

    _atomic_write(Path(folder) / RESUME_FILE, write)


def load_resume_state(folder: Path) -> dict[str, Any]:
    path = Path(folder) / RESUME_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {RESUME_FILE}; it cannot be resumed (was it trained by this version?)")
    try:
        # Our own run folder's file (it holds a pickled env); never one downloaded or shared.
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception as exc:  # a truncated or foreign file
        raise CheckpointError(f"{path} is not a readable resume state ({exc})") from exc
