"""A sweep never hangs: a Ray address that refuses or never answers ends in one line within the
connection timeout, and Ctrl-C and SIGTERM stop a sweep at any moment (exit code 130), while it
connects and while it runs, keeping the finished trials for --resume."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

try:  # the Ray head fixture (its module skips itself without Ray)
    from test_sweep_ray import RAY_ENV, ray_head
except pytest.skip.Exception:
    RAY_ENV, ray_head = {}, None

ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_DISABLE_TELEMETRY": "1"}
SWEEP = ["sweep", "--preset", "fast-cartpole", "--param", "lr=0.05,0.1", "--no-progress"]


def start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "reinforcelab.cli", *SWEEP, "--out", str(out), *extra],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen, within: float) -> tuple[int, str, float]:
    """Exit code, stderr and seconds taken; fails the test (killing the sweep) if it runs longer
    than ``within`` seconds."""
    start = time.monotonic()
    try:
        _, err = proc.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"the sweep still ran {within} s later")
    return proc.returncode, err, time.monotonic() - start


@pytest.fixture
def silent_server():
    """A port that accepts TCP connections and never says a word (not a Ray head)."""
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:  # closed
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in accepted:
            conn.close()


def refused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address", ["127.0.0.1:1", "127.0.0.1:{free}", "localhost:{free}"])
def test_a_refused_ray_address_is_one_line_at_once(address, tmp_path):
    pytest.importorskip("ray")
    address = address.format(free=refused_port())
    code, err, seconds = finish(start(tmp_path / "s", "--ray-address", address), within=60)
    assert code == 2, err
    assert err.splitlines() == [
        f"error: cannot connect to the Ray cluster at {address}: connection refused (is a Ray "
        "head running there? start one with `ray start --head`)"
    ]
    assert seconds < 20  # Ray alone retried such an address for over ten minutes
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "address, message",
    [
        ("127.0.0.1:70000", "a port is between 1 and 65535"),
        ("127.0.0.1:0", "a port is between 1 and 65535"),
        ("no-such-host.invalid:6379", "cannot connect to the Ray cluster at no-such-host"),
    ],
)
def test_an_impossible_ray_address_is_one_line(address, message, tmp_path):
    pytest.importorskip("ray")
    code, err, _ = finish(start(tmp_path / "s", "--ray-address", address), within=60)
    assert code == 2, err
    assert len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("timeout", ["0", "-1", "nan"])
def test_the_ray_timeout_must_be_positive(timeout, tmp_path):
    code, err, _ = finish(
        start(tmp_path / "s", "--ray-address", "127.0.0.1:1", "--ray-timeout", timeout), within=60
    )
    assert code == 2
    assert err.startswith("error: --ray-timeout must be a finite number > 0"), err


def test_a_port_that_never_answers_times_out_with_one_line(silent_server, tmp_path):
    pytest.importorskip("ray")
    address = f"127.0.0.1:{silent_server}"
    proc = start(tmp_path / "s", "--ray-address", address, "--ray-timeout", "4")
    code, err, seconds = finish(proc, within=60)
    assert code == 2, err
    assert err.splitlines() == [
        f"error: no Ray cluster answered at {address} within 4 s (is it a Ray head's address? a "
        "slow cluster needs a longer --ray-timeout)"
    ]
    assert seconds < 30


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_the_connection_attempt(sig, silent_server, tmp_path):
    pytest.importorskip("ray")
    proc = start(tmp_path / "s", "--ray-address", f"127.0.0.1:{silent_server}")
    time.sleep(5)  # started, and trying to connect (the default timeout is 30 s)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    code, err, seconds = finish(proc, within=20)
    assert code == 130, err
    assert err.splitlines() == ["error: interrupted"]
    assert seconds < 10


@pytest.mark.slow
def test_sigterm_stops_an_embedded_sweep_like_ctrl_c(tmp_path):
    out = tmp_path / "s"
    proc = start(out, "--seeds", "3", "--total-steps", "3000000", "--workers", "2")
    deadline = time.monotonic() + 120
    while not list(out.glob("runs/*/seed-*/metrics.csv")):  # training has started
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)  # to the driver alone, as `kill` sends it
    code, err, seconds = finish(proc, within=60)
    assert code == 130, err
    assert f"continue with: reinforcelab sweep --resume {out}" in err
    assert seconds < 30  # the workers stopped after their current update


@pytest.mark.slow
@pytest.mark.skipif(ray_head is None, reason="needs ray")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_stop_a_ray_sweep(sig, ray_head, tmp_path):
    out = tmp_path / "s"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reinforcelab.cli", *SWEEP, "--out", str(out)]
        + ["--total-steps", "3000000", "--ray-address", ray_head],
        env=RAY_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(15)  # connected, trials running on the head
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    code, err, seconds = finish(proc, within=60)
    assert code == 130, err  # Ray's own SIGTERM handler exited with 15, keeping nothing
    assert f"continue with: reinforcelab sweep --resume {out}" in err
    assert seconds < 30
