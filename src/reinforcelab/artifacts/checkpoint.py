"""Saving and loading an agent as a folder: config.json + model.safetensors (weights only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save

from ..errors import UserError
from .files import (
    CONFIG_FILE,
    LEGACY_RESUME_FILE,
    MODEL_FILE,
    RESULTS_FILE,
    RESUME_FILE,
    atomic_write_bytes,
)

FORMAT = "reinforcelab-run"
FORMAT_VERSION = 1
# One key only: safetensors writes its metadata map in a random order, so two keys would make the
# same weights a different file from run to run (and every re-push a new file on the Hub).
WEIGHTS_METADATA = {"format": "reinforcelab"}


class CheckpointError(UserError, ValueError):
    """A folder or file that is not a readable reinforcelab checkpoint."""


class HasState(Protocol):
    def state_dict(self) -> dict[str, np.ndarray]: ...

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None: ...


def json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


def write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json_bytes(data))


def save_checkpoint(
    folder: Path, config_json: dict[str, Any], weights: dict[str, np.ndarray]
) -> None:
    """Write config.json and model.safetensors into ``folder`` (each replaced atomically)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_config(folder, config_json)
    save_weights(folder, weights)


def save_weights(folder: Path, weights: dict[str, np.ndarray]) -> None:
    """Write model.safetensors into ``folder`` (replaced atomically)."""
    atomic_write_bytes(Path(folder) / MODEL_FILE, safetensors_bytes(weights, WEIGHTS_METADATA))


def safetensors_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """``arrays`` and ``metadata`` as the bytes of a safetensors file."""
    contiguous = {
        k: v.copy(order="C") for k, v in arrays.items()
    }  # ascontiguousarray would make 0-d 1-d
    return save(contiguous, metadata=metadata)


def save_config(folder: Path, config_json: dict[str, Any]) -> None:
    """Write config.json into ``folder``, unless it already holds exactly this."""
    path = Path(folder) / CONFIG_FILE
    data = json_bytes({"format": FORMAT, "format_version": FORMAT_VERSION, **config_json})
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    atomic_write_bytes(path, data)


def read_config(folder: Path) -> dict[str, Any]:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder} is not a folder; expected a run folder with {CONFIG_FILE} and {MODEL_FILE}"
        )
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}; it is not a reinforcelab run folder")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc}); the file is corrupt") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f'{path} is not a reinforcelab config (missing "format": "{FORMAT}")')
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {data.get('format_version')!r}; "
            f"this reinforcelab reads {FORMAT_VERSION}"
        )
    return data


def read_weights(folder: Path) -> dict[str, np.ndarray]:
    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise CheckpointError(f"{Path(folder)} has no {MODEL_FILE}")
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({exc}); it is corrupt or truncated"
        ) from exc
    broken = sorted(name for name, array in weights.items() if not np.isfinite(array).all())
    if broken:
        raise CheckpointError(
            f"{path} holds non-finite weights (NaN or inf in {', '.join(broken)}); "
            "the training that wrote it diverged"
        )
    return weights


def load_state(
    net: HasState,
    weights: dict[str, np.ndarray],
    prefix: str,
    path: Path,
    expected_by: str = "its config.json",
) -> None:
    """Load ``prefix.*`` arrays into ``net``, naming what is missing or mismatched."""
    state = {k[len(prefix) + 1 :]: v for k, v in weights.items() if k.startswith(prefix + ".")}
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
            problems.append(
                "shape mismatch for "
                + ", ".join(
                    f"{prefix}.{k} (file {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
                    for k in wrong
                )
            )
        raise CheckpointError(f"{path} does not match {expected_by}: {'; '.join(problems)}")
    net.load_state_dict(state)


RESUME_FORMAT = "reinforcelab-resume"


def save_resume_state(folder: Path, state: dict[str, Any]) -> None:
    """Training state for ``train --resume`` (optimizer and RNG state, counters): its arrays as
    safetensors tensors, everything else as JSON in the file's metadata. No pickle, so a resume
    file from anywhere can be read without running code. (reinforcelab 0.1 wrote resume.pkl,
    still read, by an unpickler that only builds arrays and containers.)"""
    arrays: dict[str, np.ndarray] = {}
    tree = json.dumps(_encode(state, arrays))
    data = safetensors_bytes(arrays, {"format": RESUME_FORMAT, "state": tree})
    atomic_write_bytes(Path(folder) / RESUME_FILE, data)
    (Path(folder) / LEGACY_RESUME_FILE).unlink(missing_ok=True)  # a 0.1 folder's, now replaced


def load_resume_state(folder: Path) -> dict[str, Any]:
    path = Path(folder) / RESUME_FILE
    if path.is_file():
        state = _read_resume_state(path)
    elif (Path(folder) / LEGACY_RESUME_FILE).is_file():  # a folder of reinforcelab 0.1
        path = Path(folder) / LEGACY_RESUME_FILE
        state = _read_legacy_resume_state(path)
    else:
        raise CheckpointError(
            f"{folder} has no {RESUME_FILE}; it cannot be resumed (was it trained by this version?)"
        )
    counters = state.get("counters") if isinstance(state, dict) else None
    if not (
        isinstance(counters, dict)
        and all(isinstance(counters.get(k), int) for k in RESUME_COUNTERS)
        and isinstance(state.get("run_options"), dict)
    ):
        raise CheckpointError(f"{path} is damaged: it does not hold a reinforcelab resume state")
    return state


def _read_resume_state(path: Path) -> Any:
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            arrays = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118
        if metadata.get("format") != RESUME_FORMAT:
            raise ValueError(f'no "format": "{RESUME_FORMAT}" in its metadata')
        return _decode(json.loads(metadata["state"]), arrays)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise CheckpointError(f"{path} is not a readable resume state ({exc})") from exc


#: Everything reinforcelab 0.1's pickled resume state refers to (numpy arrays and dtypes, torch
#: tensors, ordered dicts): the only names its reader builds.
_LEGACY_RESUME_NAMES = {
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    *((module, name) for module in ("numpy.core.numeric", "numpy._core.numeric",
                                    "numpy.core.multiarray", "numpy._core.multiarray")
      for name in ("_frombuffer", "_reconstruct")),
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
}  # fmt: skip


def _read_legacy_resume_state(path: Path) -> dict[str, Any]:
    """reinforcelab 0.1's resume.pkl, read by an unpickler that builds only the names above and
    refuses any other, so reading it cannot run code."""
    import importlib
    import io
    import pickle

    def tensor_storage(data: bytes) -> Any:  # torch's reader of a tensor's bytes, weights-only
        import torch

        return torch.load(io.BytesIO(data), weights_only=True)

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) == ("torch.storage", "_load_from_bytes"):
                return tensor_storage  # torch's own would load them with weights_only=False
            if (module, name) in _LEGACY_RESUME_NAMES:
                return getattr(importlib.import_module(module), name)
            raise pickle.UnpicklingError(
                f"it refers to {module}.{name}, which a resume state never holds; not loaded"
            )

    try:
        with open(path, "rb") as f:
            state: dict[str, Any] = Unpickler(f).load()
    except Exception as exc:  # a truncated, foreign or unsafe file
        raise CheckpointError(f"{path} is not a readable resume state ({exc})") from exc
    return state


# JSON stands for everything but arrays, tuples and dicts with keys that are not strings; those
# are tagged objects (an array's data is the tensor the tag names).
_ARRAY, _TENSOR, _TUPLE, _ITEMS = "__array__", "__tensor__", "__tuple__", "__items__"


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        key = str(len(arrays))
        arrays[key] = value
        return {_ARRAY: key}
    if type(value).__module__ == "torch" and type(value).__name__ == "Tensor":
        return {_TENSOR: _encode(value.detach().cpu().numpy(), arrays)[_ARRAY]}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, arrays) for v in value]}
    if isinstance(value, list):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v, arrays) for k, v in value.items()}
        return {_ITEMS: [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a resume state cannot hold a {type(value).__name__}")


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if _ARRAY in value:
        return arrays[value[_ARRAY]]
    if _TENSOR in value:
        import torch

        return torch.from_numpy(arrays[value[_TENSOR]])
    if _TUPLE in value:
        return tuple(_decode(v, arrays) for v in value[_TUPLE])
    if _ITEMS in value:
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value[_ITEMS]}
    return {k: _decode(v, arrays) for k, v in value.items()}


#: The counters a resume state must hold (the loop's progress at its checkpoint).
RESUME_COUNTERS = ("episodes", "env_steps", "updates")


def read_results(folder: Path) -> dict[str, Any] | None:
    """results.json of a run folder (its final evaluation and training summary), or None when the
    run has none (it is being trained, or its training stopped before the end)."""
    path = Path(folder) / RESULTS_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text)
        episodes = data["training"]["train_episodes"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(
            f"{path} is damaged: not the results of a training run ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(episodes, int) or episodes < 0:
        raise CheckpointError(f"{path} is damaged: training.train_episodes is {episodes!r}")
    result: dict[str, Any] = data
    return result
