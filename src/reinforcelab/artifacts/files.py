"""The names of the files reinforcelab writes, in one place, and how they are written.

A run folder holds config.json, model.safetensors, metrics.csv, results.json, curve.png,
replay.mp4 and resume.safetensors (and, while a process writes it, its lock file); a Hub folder
adds hyperparameters.json and README.md.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import UserError

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
METRICS_FILE = "metrics.csv"
RESULTS_FILE = "results.json"
CURVE_FILE = "curve.png"
VIDEO_FILE = "replay.mp4"
RESUME_FILE = "resume.safetensors"
#: What reinforcelab 0.1 wrote instead (a pickle, read only through an allowlist; replaced by the
#: next checkpoint, cleared by --overwrite).
LEGACY_RESUME_FILE = "resume.pkl"
HYPERPARAMETERS_FILE = "hyperparameters.json"
README_FILE = "README.md"
#: Held (an OS lock) by the one process writing a run folder; it holds that process's pid.
LOCK_FILE = ".reinforcelab.lock"
#: What ``atomic_write`` names its temporary files: a hidden name with this in it.
PARTIAL_MARK = ".partial"

#: Every file a training run may write into its folder (``--overwrite`` keeps all others).
RUN_FILES = (
    CONFIG_FILE,
    MODEL_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    CURVE_FILE,
    VIDEO_FILE,
    RESUME_FILE,
    LEGACY_RESUME_FILE,
)


class WriteError(UserError, OSError):
    """A file that could not be written (no space left, an I/O error, no permission)."""


def write_error(path: Path, exc: OSError) -> WriteError:
    """``cannot write PATH: <the errno's text>`` (the error of the final name, not the temp's)."""
    reason = exc.strerror or str(exc)
    if exc.errno is not None:
        reason += f" ({errno.errorcode.get(exc.errno, exc.errno)})"
    error = WriteError(f"cannot write {path}: {reason}")
    error.errno = exc.errno
    return error


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_partial(name: str) -> bool:
    """Whether ``name`` is a temporary file of ``atomic_write`` (left behind by a killed writer)."""
    return name.startswith(".") and PARTIAL_MARK in name


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a hidden temporary file beside ``path``, then rename it into place, so
    ``path`` is either the old file or the complete new one (never half written, also on Ctrl-C,
    a kill, a full disk or an I/O error). An OSError becomes a ``WriteError`` naming ``path``.

    The file gets the permissions a plain ``open`` would give (0666 less the umask): temporary
    files are created 0600, and writers such as safetensors' also create theirs 0600.
    """
    path = Path(path)
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=f"{PARTIAL_MARK}{path.suffix}", dir=path.parent
        )
        os.close(fd)
        tmp = Path(name)
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, WriteError):
            raise
        raise write_error(path, exc) from exc
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise
    return path


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a short write is retried; an error raises)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """``atomic_write`` of ``data``, written with ``os.write``."""

    def write(tmp: Path) -> None:
        fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)

    return atomic_write(path, write)
