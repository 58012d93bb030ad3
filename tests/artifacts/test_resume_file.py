"""The resume file: a training state written as safetensors + JSON and read back unchanged."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch

from reinforcelab.artifacts.checkpoint import (
    CheckpointError,
    load_resume_state,
    save_resume_state,
)
from reinforcelab.artifacts.files import RESUME_FILE


def state_with_every_kind() -> dict:
    rng = np.random.default_rng(3)
    rng.random(5)
    return {
        "counters": {"episodes": 7, "env_steps": 1234, "updates": 3, "wall_seconds": 0.1 + 0.2},
        "run_options": {"plot": True, "note": None},
        "rng": rng.bit_generator.state,  # 128-bit integers
        "mt": np.random.RandomState(5).get_state(legacy=False),  # a uint32 key array
        "python": random.Random(4).getstate(),  # nested tuples
        "torch_rng": torch.manual_seed(2).get_state(),
        "adam": {"betas": (0.9, 0.999), "state": {0: {"step": torch.tensor(3.0)}}},  # int keys
        "arrays": [np.arange(6, dtype=np.float32).reshape(2, 3), np.zeros((0, 4)), np.float64(2.5)],
        "scalar_array": np.array(1.5),
        "odd_floats": [math.inf, -0.0],
    }


def assert_same(a, b) -> None:
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b)
    else:
        assert a == b


def test_a_state_reads_back_exactly_as_it_was_written(tmp_path):
    state = state_with_every_kind()
    save_resume_state(tmp_path, state)
    loaded = load_resume_state(tmp_path)
    state["arrays"][2] = 2.5  # numpy scalars come back as Python numbers
    assert_same(state, loaded)
    # the restored RNG states work: both generators continue identically
    a, b = np.random.default_rng(), np.random.default_rng()
    a.bit_generator.state, b.bit_generator.state = state["rng"], loaded["rng"]
    assert a.random() == b.random()
    restored = random.Random()
    restored.setstate(loaded["python"])
    assert restored.random() == random.Random(4).random()


def test_the_file_is_plain_safetensors_arrays_and_json(tmp_path):
    from safetensors import safe_open

    save_resume_state(tmp_path, state_with_every_kind())
    with safe_open(str(tmp_path / RESUME_FILE), framework="numpy") as f:
        metadata = f.metadata()
        dtypes = {f.get_tensor(key).dtype.kind for key in f.keys()}  # noqa: SIM118
    assert metadata["format"] == "reinforcelab-resume"
    assert json.loads(metadata["state"])["counters"]["env_steps"] == 1234
    assert dtypes <= set("biuf")  # numbers only


def test_what_a_state_cannot_hold_is_named(tmp_path):
    with pytest.raises(TypeError, match="cannot hold a set"):
        save_resume_state(tmp_path, {"counters": {1, 2}})
    assert not (tmp_path / RESUME_FILE).exists()


def test_a_safetensors_file_that_is_not_a_resume_state_is_refused(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(3)}, str(tmp_path / RESUME_FILE))
    with pytest.raises(CheckpointError, match="not a readable resume state"):
        load_resume_state(tmp_path)
