"""Shared test setup: an isolated Hugging Face environment, a loopback-only network guard, and
tests marked ``slow`` skipped unless ``-m slow`` or ``RUN_SLOW=1``.

Network guard: for the whole session, ``socket.socket.connect`` / ``connect_ex`` / ``sendto``
refuse any AF_INET/AF_INET6 address outside 127.0.0.0/8 and ::1 (raising ``NetworkBlockedError``
before anything is sent), and ``socket.getaddrinfo`` / ``gethostbyname`` refuse to resolve any name
but ``localhost`` (so not even a DNS query leaves). A test that hits the guard fails, even if the
code under test swallowed the error. A test that means to hit it takes the ``network_guard``
fixture and calls ``network_guard.take_attempts()``. The guard covers Python sockets in this
process only, not subprocesses or native code that opens its own sockets (hf_xet).
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import socket
import sys
import tempfile

import pytest

# huggingface_hub reads these when first imported, so they are set when pytest imports this file,
# before any test module (or the code under test) imports huggingface_hub.
_HF_HOME = tempfile.mkdtemp(prefix="reinforcelab-tests-hf-home-")
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_UPDATE_CHECK"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
for _name in (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_ENDPOINT",
    "HF_HUB_CACHE",
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_STORED_TOKENS_PATH",
    "HF_XET_CACHE",
):
    os.environ.pop(_name, None)
if "huggingface_hub.constants" in sys.modules:  # imported by a plugin before us: reread the env
    import importlib

    importlib.reload(sys.modules["huggingface_hub.constants"])


# ----------------------------------------------------------------------------- network guard
class NetworkBlockedError(ConnectionError):
    """A test tried to reach a non-loopback address (nothing was sent)."""


_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost", "ip6-loopback"}


def _is_loopback_host(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.split("%", 1)[0]  # IPv6 zone id
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _is_numeric_host(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
        return True
    except ValueError:
        return False


class NetworkGuard:
    """Blocks non-loopback connections; remembers every attempt for the per-test check."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: dict[tuple[object, str], object] = {}

    def take_attempts(self) -> list[str]:
        """Return the blocked attempts so far and forget them (for tests that expect a block)."""
        attempts, self.attempts = self.attempts, []
        return attempts

    def _block(self, what: str) -> NetworkBlockedError:
        self.attempts.append(what)
        return NetworkBlockedError(
            f"blocked by the test network guard (tests/conftest.py): {what}; "
            "tests may only use 127.0.0.1 / ::1 / localhost"
        )

    def _check_address(self, sock: socket.socket, address, call: str) -> None:
        if (
            sock.family in (socket.AF_INET, socket.AF_INET6)
            and isinstance(address, tuple)
            and not _is_loopback_host(address[0])
        ):
            raise self._block(f"{call} to {address[0]}:{address[1]}")

    def install(self) -> None:
        guard = self
        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
        real_sendto = socket.socket.sendto
        real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

        def connect(self, address):
            guard._check_address(self, address, "connect")
            return real_connect(self, address)

        def connect_ex(self, address):
            guard._check_address(self, address, "connect_ex")
            return real_connect_ex(self, address)

        def sendto(self, data, *args):
            guard._check_address(self, args[-1] if args else None, "sendto")
            return real_sendto(self, data, *args)

        def getaddrinfo(host, *args, **kwargs):
            if host is not None and not _is_loopback_host(host) and not _is_numeric_host(host):
                raise guard._block(f"name resolution of {host!r}")
            return real_getaddrinfo(host, *args, **kwargs)

        def gethostbyname(host):
            if not _is_loopback_host(host) and not _is_numeric_host(host):
                raise guard._block(f"name resolution of {host!r}")
            return real_gethostbyname(host)

        for owner, name, value in (
            (socket.socket, "connect", connect),
            (socket.socket, "connect_ex", connect_ex),
            (socket.socket, "sendto", sendto),
            (socket, "getaddrinfo", getaddrinfo),
            (socket, "gethostbyname", gethostbyname),
        ):
            self._saved[(owner, name)] = owner.__dict__.get(name)
            setattr(owner, name, value)

    def uninstall(self) -> None:
        for (owner, name), value in self._saved.items():
            if value is None:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        self._saved.clear()


_GUARD = NetworkGuard()


def pytest_configure(config: pytest.Config) -> None:
    _GUARD.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    _GUARD.uninstall()
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def network_guard():
    """Fail the test if it tried to leave the machine; yields the guard (see ``take_attempts``)."""
    _GUARD.take_attempts()
    yield _GUARD
    attempts = _GUARD.take_attempts()
    if attempts:
        pytest.fail(
            "test tried to reach the network (blocked): " + "; ".join(attempts), pytrace=False
        )


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def hub_server():
    """A fresh Hub-compatible server on 127.0.0.1 (see tests/hub_server.py); ``.endpoint`` is its
    URL."""
    from hub_server import HubServer

    with HubServer() as server:
        yield server


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run from an empty folder, so "user/NAME" can never be mistaken for a local path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def cartpole_run(tmp_path_factory):
    """A fast-cartpole run folder (seed 0, 20k env steps) trained by the CLI once per session.

    Shared by every test that asks for it: read it, copy it, never write into it.
    """
    from cli_helpers import invoke  # imports reinforcelab: not before the environment is set

    out = tmp_path_factory.mktemp("runs") / "cp"
    result = invoke(
        "train",
        "CartPole-v1",
        "--preset",
        "fast-cartpole",
        "--seed",
        0,
        "--total-steps",
        20_000,
        "--out",
        out,
        "--no-progress",
        "--no-plot",
    )
    assert result.exit_code == 0, result.output
    return out


# ----------------------------------------------------------------------------- slow tests
def _slow_selected(config: pytest.Config) -> bool:
    if os.environ.get("RUN_SLOW", "").strip().lower() in ("1", "true", "yes"):
        return True
    markexpr = config.getoption("markexpr", "") or ""
    return re.search(r"(?<!not )\bslow\b", markexpr) is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _slow_selected(config):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow or RUN_SLOW=1")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
