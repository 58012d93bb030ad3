"""The names of the files reinforcelab writes, in one place, and how they are written.

A run folder holds config.json, model.safetensors, metrics.csv, results.json, curve.png,
replay.mp4 and resume.pkl; a Hub folder adds hyperparameters.json and README.md.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
METRICS_FILE = "metrics.csv"
RESULTS_FILE = "results.json"
CURVE_FILE = "curve.png"
VIDEO_FILE = "replay.mp4"
RESUME_FILE = "resume.pkl"
HYPERPARAMETERS_FILE = "hyperparameters.json"
README_FILE = "README.md"

#: Every file a training run may write into its folder (``--overwrite`` removes these and no other).
RUN_FILES = (
    CONFIG_FILE,
    MODEL_FILE,
    METRICS_FILE,
    RESULTS_FILE,
    CURVE_FILE,
    VIDEO_FILE,
    RESUME_FILE,
)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a hidden temporary file beside ``path``, then rename it into place, so
    ``path`` is either the old file or the complete new one (never half written, also on Ctrl-C).

    The file gets the permissions a plain ``open`` would give (0666 less the umask): temporary
    files are created 0600, and writers such as safetensors' also create theirs 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
