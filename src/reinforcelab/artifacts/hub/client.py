"""Talking to the Hub: upload a prepared folder, download an agent safely, and turn every failure
into a ``HubError`` that says what went wrong and how to go on.

huggingface_hub is imported inside the functions: it reads environment variables (HF_HOME,
HF_ENDPOINT, HF_HUB_OFFLINE, ...) when first imported, and importing it costs time the commands
that never talk to the Hub should not pay.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..checkpoint import CONFIG_FILE, MODEL_FILE
from .errors import (
    HubDownloadError,
    HubExportError,
    HubUploadError,
    PickleDownloadWarning,
    PickleRefusedError,
)
from .layout import PICKLE_SUFFIXES, README_FILE, find_pickles
from .repo import check_repo_id, hf_upload_command, resolve_endpoint

#: What ``download_agent`` fetches from a reinforcelab repo: configs, results and the weights.
DOWNLOAD_PATTERNS = ("*.json", "*.safetensors")


# ----------------------------------------------------------------------------- reading a failure
def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _status(exc: BaseException) -> int | None:
    """The HTTP status the Hub answered with, if the failure was an answer at all."""
    from huggingface_hub.errors import HfHubHTTPError

    for e in _chain(exc):
        if isinstance(e, HfHubHTTPError) and e.response is not None:
            return e.response.status_code
    return None


def _is_network_error(exc: BaseException) -> bool:
    """True if the Hub was never reached: offline mode, or a refused, reset, timed-out or unresolved
    connection. HTTP clients differ between huggingface_hub versions, but all of them chain the
    socket's own error, so the standard exceptions are enough to recognise it."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    network = (OfflineModeIsEnabled, ConnectionError, TimeoutError, socket.gaierror)
    return _status(exc) is None and any(isinstance(e, network) for e in _chain(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


# ----------------------------------------------------------------------------- upload
def upload(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = False,
    *,
    commit_message: str | None = None,
    retry_command: str | None = None,
) -> str:
    """Create ``repo_id`` (if needed) and upload ``folder`` to it; return the repo's URL.

    Args:
        folder: a Hub folder written by ``write_hub_folder``.
        repo_id: ``USER/NAME``.
        token: a Hub token with write access; ``None`` uses the saved login or ``$HF_TOKEN``.
        endpoint: the Hub URL (default: ``$HF_ENDPOINT`` or https://huggingface.co).
        private: create the repo as private. An existing repo keeps its visibility.
        commit_message: the commit's title.
        retry_command: the command the error message offers for a retry (default: the ``hf upload``
            command from ``hf_upload_command``, which sends the folder already prepared).

    Raises:
        ValueError: ``repo_id`` or ``folder`` is unusable (nothing was sent).
        HubUploadError: the Hub call failed; the message says why (auth / network / other), that
            the local folder is complete, and the exact command to retry.
    """
    folder = Path(folder).resolve()
    check_repo_id(repo_id)
    missing = [
        name for name in (CONFIG_FILE, MODEL_FILE, README_FILE) if not (folder / name).is_file()
    ]
    if missing:
        raise HubExportError(
            f"{folder} is not a Hub folder (missing {', '.join(missing)}); "
            "write it with write_hub_folder first"
        )
    pickles = find_pickles(folder)
    if pickles:
        raise HubExportError(
            f"{folder} contains pickled files ({', '.join(p.name for p in pickles)}); "
            "reinforcelab never uploads pickles"
        )
    url = resolve_endpoint(endpoint)
    retry = retry_command or hf_upload_command(folder, repo_id, endpoint, private)

    from huggingface_hub import HfApi
    from huggingface_hub.errors import LocalTokenNotFoundError

    step = "creating the repository"
    try:
        api = HfApi(endpoint=url, token=token)
        repo_url = api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
        step = "uploading the files"
        api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type="model",
            commit_message=commit_message or "Upload REINFORCE agent (reinforcelab)",
        )
    except (
        Exception
    ) as exc:  # the network boundary: whatever failed, the user gets the retry command
        status = _status(exc)
        if status in (401, 403) or isinstance(exc, LocalTokenNotFoundError):
            kind = "auth"
            detail = (
                f"authentication failed (HTTP {status}): the Hub rejected the token or it has no "
                f"write access to '{repo_id.split('/')[0]}'. Use a token with write access "
                f"({url}/settings/tokens): log in with `hf auth login`, set HF_TOKEN, or pass "
                "--token"
            )
        elif _is_network_error(exc):
            kind, detail = "network", f"network error: could not reach {url} ({_first_line(exc)})"
        else:
            kind = "other"
            detail = (
                f"the Hub answered HTTP {status} ({_first_line(exc)})"
                if status is not None
                else _first_line(exc)
            )
        raise HubUploadError(
            f"Upload of {repo_id} to {url} failed while {step}: {detail}.\n"
            f"The local folder is complete at {folder}; nothing in it was changed.\n"
            f"Retry with:\n  {retry}",
            kind=kind,
            repo_id=repo_id,
            endpoint=url,
            folder=folder,
            retry_command=retry,
        ) from exc
    return str(repo_url)


# ----------------------------------------------------------------------------- download
def _download_error(
    exc: BaseException, repo_id: str, url: str, revision: str | None, token: str | None
) -> HubDownloadError:
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    status = _status(exc)
    if isinstance(exc, RevisionNotFoundError):
        kind, text = (
            "not_found",
            f"the model repo '{repo_id}' on {url} has no revision '{revision}'",
        )
    elif isinstance(exc, RepositoryNotFoundError) or status == 404:
        access = "the token has no access to it" if token else "no token was given"
        kind, text = (
            "not_found",
            (
                f"there is no model repo '{repo_id}' on {url}, or it is private or gated and "
                f"{access}. Check the id (USER/NAME); if you meant a local folder, "
                f"'./{repo_id}' does not exist"
            ),
        )
    elif status in (401, 403):
        kind, text = (
            "auth",
            (
                f"the Hub at {url} refused access to '{repo_id}' (HTTP {status}); check the "
                "token (`hf auth login`, HF_TOKEN or --token)"
            ),
        )
    elif _is_network_error(exc):
        kind, text = (
            "network",
            (
                f"could not reach {url} to download '{repo_id}' ({_first_line(exc)}), and "
                "no complete copy is in the local cache"
            ),
        )
    else:
        kind, text = "other", f"downloading '{repo_id}' from {url} failed ({_first_line(exc)})"
    return HubDownloadError(
        text[0].upper() + text[1:] + ".", kind=kind, repo_id=repo_id, endpoint=url
    )


def _patterns_for(files: list[str], allow_pickle: bool, repo_id: str, url: str) -> list[str]:
    """What to download from a repo with ``files``; refuses pickle-only repos unless allowed."""
    listing = ", ".join(sorted(files)) or "none"
    if MODEL_FILE in files:
        if CONFIG_FILE not in files:
            raise HubDownloadError(
                f"'{repo_id}' on {url} has {MODEL_FILE} but no {CONFIG_FILE}, so it is not a "
                f"reinforcelab agent (files: {listing})",
                kind="not_an_agent",
                repo_id=repo_id,
                endpoint=url,
            )
        return list(DOWNLOAD_PATTERNS)
    pickles = sorted(f for f in files if Path(f).suffix.lower() in PICKLE_SUFFIXES)
    if not pickles:
        raise HubDownloadError(
            f"'{repo_id}' on {url} has no {MODEL_FILE} and no model weights at all, so it "
            f"is not a reinforcelab agent (files: {listing})",
            kind="not_an_agent",
            repo_id=repo_id,
            endpoint=url,
        )
    if not allow_pickle:
        raise PickleRefusedError(
            f"'{repo_id}' on {url} holds its model only as a pickle ({', '.join(pickles)}), with "
            f"no {MODEL_FILE}. Loading a pickle can run arbitrary code, so reinforcelab does not "
            "download it. If you trust the author of this repo, opt in with allow_pickle=True in "
            "Python or --allow-pickle on the command line.",
            kind="pickle_only",
            repo_id=repo_id,
            endpoint=url,
        )
    warnings.warn(
        f"Downloading pickled model file(s) {', '.join(pickles)} from '{repo_id}' because "
        "allow_pickle=True: loading a pickle can run arbitrary code; do it only if you trust the "
        "author of this repo.",
        PickleDownloadWarning,
        stacklevel=3,
    )
    return ["*.json", *pickles]


def download_agent(
    repo_id: str,
    endpoint: str | None = None,
    token: str | None = None,
    allow_pickle: bool = False,
    cache_dir: str | Path | None = None,
    revision: str | None = None,
) -> Path:
    """Download an agent's files from the Hub and return the local folder holding them.

    Only ``*.json`` and ``*.safetensors`` files are fetched (config.json, hyperparameters.json,
    results.json, model.safetensors), never a video or a pickle that shares the repo. The folder
    is a snapshot in the huggingface_hub cache, so a second call does not download again, and
    works offline once the files are cached.

    A repo with no model.safetensors but a pickled model (``*.pt``, ``*.pth``, ``*.pkl``,
    ``*.bin``, ``*.ckpt``) is refused with ``PickleRefusedError``. With ``allow_pickle=True``
    the pickle file(s) and the json files are downloaded instead, with a
    ``PickleDownloadWarning``; find them with ``find_pickles(folder)``. Turning them into an
    agent is the caller's choice (``torch.load(path, weights_only=True)`` restricts, but does not
    remove, what unpickling can do).

    Args:
        repo_id: ``USER/NAME``.
        endpoint: the Hub URL (default: ``$HF_ENDPOINT`` or https://huggingface.co).
        token: for private or gated repos; ``None`` uses the saved login or ``$HF_TOKEN``.
        allow_pickle: accept a repo whose model exists only as a pickle.
        cache_dir: the huggingface_hub cache to use (default: ``$HF_HUB_CACHE``).
        revision: branch, tag or commit (default: ``main``).

    Raises:
        HubDownloadError: the repo does not exist (or is private), the Hub is unreachable and
            nothing is cached, or the repo is not a reinforcelab agent; the message names the
            repo and the endpoint.
        PickleRefusedError: the model exists only as a pickle and ``allow_pickle`` is False.
    """
    check_repo_id(repo_id)
    url = resolve_endpoint(endpoint)
    from huggingface_hub import HfApi, snapshot_download

    def snapshot(**options: Any) -> Path:
        """``snapshot_download`` of this repo, revision and cache."""
        return Path(
            snapshot_download(
                repo_id,
                repo_type="model",
                revision=revision,
                endpoint=url,
                token=token,
                cache_dir=cache_dir,
                **options,
            )
        )

    try:
        api = HfApi(endpoint=url, token=token)
        info = api.model_info(repo_id, revision=revision)
        if info.siblings is not None:
            files = [s.rfilename for s in info.siblings]
        else:
            files = api.list_repo_files(repo_id, revision=info.sha, repo_type="model")
    except Exception as exc:  # the network boundary: every failure becomes a HubDownloadError
        if _is_network_error(exc):
            cached = _cached_agent(snapshot)
            if cached is not None:
                return cached
        raise _download_error(exc, repo_id, url, revision, token) from exc

    patterns = _patterns_for(files, allow_pickle, repo_id, url)
    try:
        # The branch name (not info.sha) goes to snapshot_download so that it records refs/<branch>
        # in the cache, which is what lets the offline fallback above find this snapshot later.
        folder = snapshot(allow_patterns=patterns)
    except Exception as exc:  # the network boundary, as above
        raise _download_error(exc, repo_id, url, revision, token) from exc
    if not (folder / MODEL_FILE).is_file() and not find_pickles(folder):
        raise HubDownloadError(
            f"Downloading '{repo_id}' from {url} did not produce {MODEL_FILE} "
            "(the repo changed during the download?); try again.",
            kind="other",
            repo_id=repo_id,
            endpoint=url,
        )
    return folder


def _cached_agent(snapshot: Callable[..., Path]) -> Path | None:
    """A complete cached snapshot with model.safetensors, or None (no network access)."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        folder = snapshot(local_files_only=True, allow_patterns=list(DOWNLOAD_PATTERNS))
    except LocalEntryNotFoundError:  # nothing (complete) cached for this repo and revision
        return None
    return folder if (folder / MODEL_FILE).is_file() and (folder / CONFIG_FILE).is_file() else None
