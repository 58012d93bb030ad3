"""What can go wrong with the Hub, as exceptions a caller (and the CLI) can tell apart."""

from __future__ import annotations

from pathlib import Path

from ...errors import UserError


class HubExportError(UserError, ValueError):
    """A run folder, results dict or output folder that cannot be turned into a Hub folder."""


class HubError(UserError, RuntimeError):
    """Talking to the Hub failed. ``kind`` says why: ``auth``, ``network``, ``not_found``, ...

    Attributes:
        kind: short machine-readable reason.
        repo_id: the repository involved.
        endpoint: the Hub endpoint that was used.
    """

    def __init__(self, message: str, *, kind: str, repo_id: str, endpoint: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.repo_id = repo_id
        self.endpoint = endpoint


class HubUploadError(HubError):
    """An upload failed. The local folder is untouched; ``retry_command`` re-sends it.

    ``kind`` is ``auth`` (token rejected or without write access), ``network`` (Hub unreachable)
    or ``other``.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        repo_id: str,
        endpoint: str,
        folder: Path,
        retry_command: str,
    ) -> None:
        super().__init__(message, kind=kind, repo_id=repo_id, endpoint=endpoint)
        self.folder = folder
        self.retry_command = retry_command


class HubDownloadError(HubError):
    """A download failed: ``kind`` is ``not_found``, ``auth``, ``network``, ``not_an_agent``,
    ``pickle_only`` or ``other``."""


class PickleRefusedError(HubDownloadError):
    """The repo holds its model only as a pickle, and ``allow_pickle`` was not given."""


class PickleDownloadWarning(UserWarning):
    """A pickled model file was downloaded because the caller opted in with ``allow_pickle``."""
