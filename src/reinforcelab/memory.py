"""Whether a request fits in memory: what it needs, estimated before anything is allocated, against
what this machine has available. A size that cannot fit is refused in one line instead of growing
until the kernel kills the process.

The estimates (made where the memory is used: rollouts, playback, training loops) are upper
bounds of the big arrays and lists, rounded; the available memory is the kernel's own estimate of
what can be allocated without swapping (Linux ``MemAvailable``), within a container's limit.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import UserError


class TooBigError(UserError, MemoryError):
    """A request that needs more memory than this machine has available."""


def available_bytes() -> int | None:
    """Memory this process can still allocate, in bytes, or None where it cannot be told.

    Linux: ``MemAvailable`` from /proc/meminfo, or less when the process's cgroup (a container)
    has a lower limit; elsewhere the free physical pages (``os.sysconf``)."""
    available = _meminfo_available()
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
            return None
    room = _cgroup_room()
    return available if room is None else min(available, room)


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # given in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """Limit minus usage of this process's memory cgroup (v2, then v1), when it sets a limit."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            limit, usage = Path(limit_file).read_text().strip(), Path(usage_file).read_text()
        except OSError:
            continue
        if limit == "max" or int(limit) >= 2**60:  # no limit (v1 writes a huge number)
            return None
        return max(0, int(limit) - int(usage))
    return None


def gigabytes(n_bytes: float) -> str:
    """``3.2 GB``, ``57.5 GB``, ``6,650 GB``."""
    n = n_bytes / 1e9
    return f"{n:,.0f} GB" if n >= 100 else f"{n:.3g} GB"


def check_fits(needed: float, what: str, fix: str) -> None:
    """Raise a TooBigError when ``needed`` bytes are more than this machine has available:
    "``what`` needs about X GB; this machine has Y GB available (``fix``)". Where the available
    memory cannot be told, nothing is checked."""
    available = available_bytes()
    if available is not None and needed > available:
        raise TooBigError(
            f"{what} needs about {gigabytes(needed)}; this machine has {gigabytes(available)} "
            f"available ({fix})"
        )
