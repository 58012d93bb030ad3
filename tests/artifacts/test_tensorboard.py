"""train --tensorboard DIR: the scalars written, and no torch import without it."""

from __future__ import annotations

import csv
import struct
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from reinforcelab.cli import app

pytest.importorskip("tensorboardX")


def read_scalars(logdir) -> dict[str, list[tuple[int, float]]]:
    """Scalars of the event files under ``logdir``, read with tensorboardX's own protobuf: a
    TFRecord is [length u64][crc u32][event bytes][crc u32]."""
    from tensorboardX.proto import event_pb2

    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(logdir.rglob("events.out.tfevents.*")):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 16 + length
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_train_writes_episode_returns_means_and_speed(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "train",
            "CartPole-v1",
            "--preset",
            "fast-cartpole",
            "--seed",
            "0",
            "--total-steps",
            "5000",
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
            "--no-plot",
            "--tensorboard",
            str(tmp_path / "tb"),
        ],
    )
    assert result.exit_code == 0, result.output
    scalars = read_scalars(tmp_path / "tb")
    with (tmp_path / "run" / "metrics.csv").open() as f:
        metrics = list(csv.DictReader(f))
    returns = scalars["rollout/episode_return"]
    assert [step for step, _ in returns] == [int(m["env_steps"]) for m in metrics]
    assert [value for _, value in returns] == pytest.approx([float(m["return"]) for m in metrics])
    last_100 = [float(m["return"]) for m in metrics[-100:]]
    assert scalars["rollout/mean_return_100"][-1][1] == pytest.approx(sum(last_100) / len(last_100))
    assert all(v > 0 for _, v in scalars["time/env_steps_per_second"])
    updates = len(scalars["rollout/mean_return_100"])
    for name in (
        "train/policy_loss",
        "train/entropy",
        "train/grad_norm",
    ):  # every update's statistics
        assert len(scalars[name]) == updates
    assert all(0 < v <= 0.6932 for _, v in scalars["train/entropy"])  # two actions: at most log 2


def test_tensorboard_with_resume_is_refused(tmp_path):
    result = CliRunner().invoke(
        app, ["train", "--resume", str(tmp_path), "--tensorboard", str(tmp_path / "tb")]
    )
    assert result.exit_code == 2 and "new runs" in result.output


def test_fast_training_without_tensorboard_does_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from reinforcelab.cli import app\n"
        "r = CliRunner().invoke(app, ['train', 'CartPole-v1', '--preset', 'fast-cartpole',"
        f" '--seed', '0', '--total-steps', '2000', '--out', {str(tmp_path / 'run')!r},"
        " '--no-progress', '--no-plot'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
