"""Naming a model repo: ``USER/NAME`` ids, the Hub endpoint, and the ``hf upload`` command line."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from ...errors import OptionError

DEFAULT_ENDPOINT = "https://huggingface.co"

_NAME = r"(?![-.])(?!.*(?:--|\.\.))[A-Za-z0-9_.-]{1,96}(?<![-.])"
REPO_ID_PATTERN = re.compile(rf"^{_NAME}/{_NAME}$")


def resolve_endpoint(endpoint: str | None = None) -> str:
    """The Hub URL to use: ``endpoint``, else ``$HF_ENDPOINT``, else https://huggingface.co
    (the same rule huggingface_hub applies), without a trailing slash."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def is_hub_repo_id(s: str) -> bool:
    """True if ``s`` can only name a Hub repo (``USER/NAME``), not a local path.

    Anything that could be a local path is one, so a mistyped run folder is never sent to the Hub:
    a path that exists, that starts with ``.``, ``/`` or ``~``, whose parent folder exists
    (``runs/cp00`` when ``runs/`` does), or that does not have the Hub's ``USER/NAME`` form.
    """
    s = str(s)
    path = Path(s).expanduser()
    if (
        s.startswith((".", "/", "~"))
        or path.exists()
        or (str(path.parent) != "." and path.parent.is_dir())
    ):
        return False
    return REPO_ID_PATTERN.match(s) is not None


def check_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it has the Hub's ``USER/NAME`` form, else raise ``ValueError``."""
    if not isinstance(repo_id, str) or REPO_ID_PATTERN.match(repo_id) is None:
        raise OptionError(
            f"{repo_id!r} is not a Hub repo id; expected USER/NAME "
            "(letters, digits, '-', '_', '.'; e.g. my-username/Reinforce-CartPole-v1)"
        )
    return repo_id


def hf_upload_command(
    folder: str | Path, repo_id: str, endpoint: str | None = None, private: bool = False
) -> str:
    """A shell command that uploads ``folder`` to ``repo_id`` with the ``hf`` CLI shipped with
    huggingface_hub (it creates the repo if needed). The token is never part of it."""
    prefix = ""
    if endpoint is not None and resolve_endpoint(endpoint) != DEFAULT_ENDPOINT:
        prefix = f"HF_ENDPOINT={shlex.quote(resolve_endpoint(endpoint))} "
    local = shlex.quote(str(Path(folder).resolve()))
    command = f"{prefix}hf upload {repo_id} {local} . --repo-type model"
    return command + (" --private" if private else "")
