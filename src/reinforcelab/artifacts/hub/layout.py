"""What a Hub model folder holds (the file names of the convention in ``design.md``), and the two
checks that keep pickles out of it."""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError, safe_open

from ..files import (
    CONFIG_FILE,
    HYPERPARAMETERS_FILE,
    MODEL_FILE,
    README_FILE,
    RESULTS_FILE,
    VIDEO_FILE,
)
from .errors import HubExportError

#: Every file an export may write; nothing else is ever put in a Hub folder.
HUB_FILES = (MODEL_FILE, CONFIG_FILE, HYPERPARAMETERS_FILE, RESULTS_FILE, README_FILE, VIDEO_FILE)

#: Suffixes of model files that are (or usually are) Python pickles: loading one can run code.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")


def find_pickles(folder: str | Path) -> list[Path]:
    """Files in ``folder`` (recursively) whose suffix marks a pickled model (see
    ``PICKLE_SUFFIXES``)."""
    return sorted(
        p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES
    )


def check_safetensors(path: Path) -> None:
    """Refuse anything safetensors itself cannot open: this keeps a pickle renamed to
    .safetensors out of a Hub folder."""
    try:
        with safe_open(str(path), framework="numpy"):
            pass
    except (SafetensorError, OSError) as exc:
        raise HubExportError(
            f"{path} is not a safetensors file ({exc}); refusing to export it"
        ) from exc
