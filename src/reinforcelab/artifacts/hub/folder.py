"""The upload folder: built from a run folder without any network access, and the dry-run
manifest that describes what an upload would send."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from ...checks import FLAG, WRITABLE_FILE, WRITABLE_FOLDER, arguments
from ..checkpoint import CONFIG_FILE, MODEL_FILE, read_config, write_json
from ..files import write_error
from .card import check_results, course_hyperparameters, json_default, model_card
from .errors import HubExportError
from .layout import (
    HUB_FILES,
    HYPERPARAMETERS_FILE,
    README_FILE,
    RESULTS_FILE,
    VIDEO_FILE,
    check_safetensors,
    find_pickles,
)
from .repo import check_repo_id, hf_upload_command, resolve_endpoint


@arguments(out_dir=WRITABLE_FOLDER, overwrite=FLAG)
def write_hub_folder(
    run_dir: str | Path,
    out_dir: str | Path,
    results: dict[str, Any],
    repo_id: str,
    video: str | Path | None = None,
    *,
    overwrite: bool = False,
    endpoint: str | None = None,
    architecture: str | None = None,
    loading_snippet: str | None = None,
) -> list[Path]:
    """Write exactly the folder to upload for a run: the weights, configs, results and card.

    The folder is assembled next to ``out_dir`` and moved into place in one rename, so a failed
    export never leaves half a folder. Re-exporting identical contents is a no-op. Folders and
    files get the modes the umask gives, like any file the user creates.

    Args:
        run_dir: a run folder with config.json and model.safetensors.
        out_dir: the folder to create. It may already exist if it is empty or holds the same files.
        results: the evaluation to publish (see ``model_card``); written as results.json.
        repo_id: ``USER/NAME`` the folder is meant for (used in the card).
        video: a replay video to include as replay.mp4.
        overwrite: replace an existing, different Hub folder at ``out_dir``. A folder holding
            anything an export does not write is never replaced.
        endpoint: Hub URL used for the video link in the card.
        architecture: a custom policy's architecture for the card (see ``model_card``).
        loading_snippet: the card's Python usage code (see ``model_card``).

    Returns:
        The paths of the files in ``out_dir``, sorted.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    check_repo_id(repo_id)
    config_json = read_config(run_dir)
    weights = run_dir / MODEL_FILE
    if not weights.is_file():
        raise HubExportError(f"{run_dir} has no {MODEL_FILE}; nothing to export")
    check_safetensors(weights)
    check_results(results)
    if results["env_id"] != config_json.get("env_id"):
        raise HubExportError(
            f"results are for {results['env_id']} but {run_dir} trained "
            f"{config_json.get('env_id')}; evaluate this run before exporting it"
        )
    if video is not None:
        video = Path(video)
        if not video.is_file():
            raise HubExportError(f"video {video} does not exist")
        if video.suffix.lower() != ".mp4":
            raise HubExportError(f"video {video} is not an .mp4 file")
    trained = trained_episodes(run_dir)
    hyperparameters = course_hyperparameters(config_json, trained)
    card = model_card(
        repo_id,
        config_json,
        results,
        VIDEO_FILE if video else None,
        endpoint,
        architecture=architecture,
        loading_snippet=loading_snippet,
        trained_episodes=trained,
    )
    if out_dir.exists() and not out_dir.is_dir():
        raise HubExportError(f"{out_dir} exists and is not a folder")

    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = _new_folder_beside(out_dir, "new")
        try:
            shutil.copyfile(weights, staging / MODEL_FILE)
            shutil.copyfile(run_dir / CONFIG_FILE, staging / CONFIG_FILE)
            (staging / HYPERPARAMETERS_FILE).write_text(_dumps(hyperparameters))
            (staging / RESULTS_FILE).write_text(_dumps(dict(results)))
            (staging / README_FILE).write_text(card, encoding="utf-8")
            if video is not None:
                shutil.copyfile(video, staging / VIDEO_FILE)
            assert not find_pickles(staging)  # by construction: a Hub folder carries no pickle
            _install(staging, out_dir, overwrite)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:  # writable when checked, not now (a full disk, a folder gone)
        raise write_error(out_dir, exc) from exc
    return sorted(out_dir / p.name for p in out_dir.iterdir())


def trained_episodes(run_dir: Path) -> int | None:
    """The number of episodes the run trained, from its results.json (None if it has none, or
    one without a training summary); a results.json that is not JSON is damaged, and said so."""
    path = run_dir / RESULTS_FILE
    try:
        data = json.loads(path.read_text())
    except OSError:
        return None
    except ValueError as exc:
        raise HubExportError(f"{path} is damaged: not valid JSON ({exc})") from exc
    try:
        return int(data["training"]["train_episodes"])
    except (KeyError, TypeError, ValueError):
        return None


def _new_folder_beside(path: Path, role: str) -> Path:
    """A fresh hidden folder next to ``path`` (same file system, so it can be renamed into place).

    Made with ``os.mkdir``, which applies the umask: ``tempfile.mkdtemp`` would make it 0700, and
    the export would keep that mode once renamed to ``path``."""
    while True:
        candidate = path.parent / f".{path.name}.{role}.{secrets.token_hex(4)}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=json_default) + "\n"


def _install(staging: Path, out_dir: Path, overwrite: bool) -> None:
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    if _same_files(staging, out_dir):
        return
    if not overwrite:
        raise HubExportError(
            f"{out_dir} already exists with other contents; pass overwrite=True "
            "(--overwrite) to replace it, or choose another folder"
        )
    if not _is_hub_folder(out_dir):
        raise HubExportError(
            f"{out_dir} holds files an export does not write; refusing to replace it"
        )
    old = _new_folder_beside(out_dir, "old")
    os.replace(out_dir, old / out_dir.name)
    os.replace(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _is_hub_folder(folder: Path) -> bool:
    """Only files an export writes, including config.json: safe to replace with ``overwrite``."""
    entries = list(folder.iterdir())
    return any(p.name == CONFIG_FILE for p in entries) and all(
        p.is_file() and not p.is_symlink() and p.name in HUB_FILES for p in entries
    )


def _same_files(a: Path, b: Path) -> bool:
    names_a = sorted(p.name for p in a.iterdir())
    if names_a != sorted(p.name for p in b.iterdir()):
        return False
    return all((b / n).is_file() and (a / n).read_bytes() == (b / n).read_bytes() for n in names_a)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@arguments(manifest_path=WRITABLE_FILE)
def write_manifest(
    folder: str | Path,
    manifest_path: str | Path,
    repo_id: str,
    endpoint: str | None = None,
    private: bool = False,
) -> dict[str, Any]:
    """Describe what ``upload`` would send, without sending it (``push --dry-run``).

    The manifest (JSON: repo id, endpoint, visibility, each file's path, size and sha256) is
    written to ``manifest_path``, which must be outside ``folder`` so it is never uploaded itself.

    Returns:
        The manifest as a dict.
    """
    folder, manifest_path = Path(folder).resolve(), Path(manifest_path).resolve()
    check_repo_id(repo_id)
    if not folder.is_dir():
        raise HubExportError(f"{folder} is not a folder")
    if manifest_path == folder or folder in manifest_path.parents:
        raise HubExportError(
            f"the manifest {manifest_path} must be written outside the upload folder "
            f"{folder}, or it would be uploaded too"
        )
    files = [
        {"path": p.relative_to(folder).as_posix(), "size": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]
    url = resolve_endpoint(endpoint)
    manifest = {
        "format": "reinforcelab-hub-manifest",
        "format_version": 1,
        "dry_run": True,
        "repo_id": repo_id,
        "repo_type": "model",
        "endpoint": url,
        "url": f"{url}/{repo_id}",
        "private": bool(private),
        "folder": str(folder),
        "files": files,
        "total_size": sum(f["size"] for f in files),
        "upload_command": hf_upload_command(folder, repo_id, endpoint, private),
    }
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(manifest_path, manifest)
    return manifest
