"""The Ray backend against a Ray head that this test starts on 127.0.0.1: same folder layout and
same numbers as the embedded backend for the same seeds."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray")

# A head on the loopback address only: Ray otherwise advertises the machine's outward address,
# and a throwaway local cluster needs no token.
RAY_ENV = {
    **os.environ,
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
}

HEAD = """
import sys
import ray
context = ray.init(
    address="local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20
)
print(context.address_info["gcs_address"], flush=True)
sys.stdin.read()  # runs until the test closes stdin
ray.shutdown()
"""

SWEEP = [
    "sweep",
    "--preset",
    "fast-cartpole",
    "--param",
    "lr=0.05,0.1",
    "--seeds",
    "2",
    "--total-steps",
    "5000",
    "--eval-episodes",
    "10",
    "--no-progress",
]


@pytest.fixture
def ray_head():
    head = subprocess.Popen(
        [sys.executable, "-c", HEAD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=RAY_ENV,
        start_new_session=True,
    )
    try:
        address = head.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), address
        yield address
    finally:
        head.stdin.close()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, 9)  # only the group this test started
            head.wait()


def sweep(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reinforcelab.cli", *SWEEP, "--out", str(out), *extra],
        env=RAY_ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


def table(folder: Path) -> list[tuple[str, ...]]:
    with (folder / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    keys = (
        "stage",
        "config_id",
        "seed",
        "status",
        "objective",
        "eval_mean",
        "eval_std",
        "train_env_steps",
    )
    return sorted(tuple(r[k] for k in keys) for r in rows)


def layout(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


@pytest.mark.slow
def test_ray_backend_gives_the_embedded_numbers_and_layout(ray_head, tmp_path):
    on_ray = sweep(tmp_path / "ray", "--ray-address", ray_head)
    assert on_ray.returncode == 0, on_ray.stderr
    assert "(ray)" in on_ray.stdout
    embedded = sweep(tmp_path / "embedded", "--workers", "2")
    assert embedded.returncode == 0, embedded.stderr
    assert table(tmp_path / "ray") == table(tmp_path / "embedded")
    assert layout(tmp_path / "ray") == layout(tmp_path / "embedded")
