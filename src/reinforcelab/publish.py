"""The push pipeline as one function: evaluate a run with the course protocol, record its replay,
write the upload folder, then upload it (or, for a dry run, write it and a manifest and stop)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .agent import Reinforce
from .artifacts.files import VIDEO_FILE
from .artifacts.hub.card import torch_loading_snippet
from .artifacts.hub.client import upload
from .artifacts.hub.errors import HubUploadError
from .artifacts.hub.folder import write_hub_folder, write_manifest
from .artifacts.hub.repo import check_repo_id
from .checks import COUNT, FLAG, SEED, WRITABLE_FILE, WRITABLE_FOLDER, OrNone, arguments
from .playback import EvalResult, record_replay


@dataclass(frozen=True)
class PublishResult:
    """What ``publish_run`` did.

    Attributes:
        repo_id: the target repo.
        evaluation: the evaluation shown on the card (and written as results.json).
        files: names of the files uploaded (or, for a dry run, that would be), sorted.
        url: the repo's URL after an upload; ``None`` for a dry run.
        folder: the dry-run folder; ``None`` after an upload (its staged copy is deleted).
        manifest: the dry-run manifest; ``None`` after an upload.
    """

    repo_id: str
    evaluation: EvalResult
    files: tuple[str, ...]
    url: str | None = None
    folder: Path | None = None
    manifest: Path | None = None

    @property
    def dry_run(self) -> bool:
        return self.url is None


def manifest_path_for(folder: Path) -> Path:
    """Where a dry run's manifest goes: ``DIR-manifest.json`` beside ``DIR``, never inside it."""
    return folder.parent / f"{folder.name}-manifest.json"


@arguments(
    private=FLAG,
    eval_episodes=COUNT,
    seed=OrNone(SEED),
    video=FLAG,
    dry_run=OrNone(WRITABLE_FOLDER),
)
def publish_run(
    run: str | Path,
    repo_id: str,
    *,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = False,
    eval_episodes: int = 10,
    seed: int | None = None,
    video: bool = True,
    dry_run: str | Path | None = None,
    policy: Any = None,
) -> PublishResult:
    """Publish a run folder to the Hub as the course does: evaluate, record, write the card, upload.

    The run folder itself is never written to. A real push stages the upload folder in a temporary
    folder and deletes it once uploaded; if the upload fails, the staged folder is kept, and the
    ``HubUploadError`` names it and gives the ``hf upload`` command that sends it as it is.

    Args:
        run: a run folder (config.json + model.safetensors).
        repo_id: ``USER/NAME``; the repo is created if missing.
        token: a Hub token with write access (default: the saved login or ``$HF_TOKEN``).
        endpoint: the Hub URL (default: ``$HF_ENDPOINT`` or https://huggingface.co).
        private: create the repo as private. An existing repo keeps its visibility.
        eval_episodes: evaluation episodes for the card (sampled actions, the course protocol).
        seed: seed of the evaluation and of the replay; ``None`` leaves them unseeded.
        video: record one episode as replay.mp4 and show it on the card.
        dry_run: write the upload folder here, and its manifest beside it as
            ``DIR-manifest.json``, and contact nothing. Both paths are checked first: one that
            cannot be written is refused before the run is evaluated.
        policy: the torch module to load the run's weights into, when its class cannot be
            imported here (see ``reinforcelab.load``).

    Raises:
        ValueError: a bad argument or run folder, before anything is evaluated or written.
        HubUploadError: the upload failed (see above).
    """
    check_repo_id(repo_id)
    if dry_run is not None:
        WRITABLE_FILE.check("dry_run", manifest_path_for(Path(dry_run)))
    run = Path(run)
    agent = Reinforce.load(run, policy=policy)
    card = {}
    if agent.policy.kind == "torch":  # the card shows the module and how to rebuild it
        spec = agent.policy.spec()
        card = {
            "architecture": agent.policy.describe(),
            "loading_snippet": torch_loading_snippet(repo_id, agent.config.env_id, spec),
        }
    evaluation = agent.evaluate(eval_episodes, seed=seed)
    with tempfile.TemporaryDirectory(prefix="reinforcelab-replay-") as scratch:
        replay = (
            Path(record_replay(agent, Path(scratch) / VIDEO_FILE, seed=seed)["path"])
            if video
            else None
        )

        def write_folder(folder: Path) -> tuple[str, ...]:
            files = write_hub_folder(
                run,
                folder,
                evaluation.to_dict(),
                repo_id,
                video=replay,
                overwrite=True,
                endpoint=endpoint,
                **card,
            )
            return tuple(p.name for p in files)

        if dry_run is None:
            url, files = _upload_staged(write_folder, repo_id, token, endpoint, private)
            return PublishResult(repo_id, evaluation, files, url=url)
        folder = Path(dry_run)
        files = write_folder(folder)
        manifest = manifest_path_for(folder)
        write_manifest(folder, manifest, repo_id, endpoint=endpoint, private=private)
        return PublishResult(repo_id, evaluation, files, folder=folder, manifest=manifest)


def _upload_staged(
    write_folder: Callable[[Path], tuple[str, ...]],
    repo_id: str,
    token: str | None,
    endpoint: str | None,
    private: bool,
) -> tuple[str, tuple[str, ...]]:
    """Write the upload folder into a new temporary folder and upload it; return the repo URL and
    the file names. The temporary folder is deleted, unless the upload fails: then it is what the
    retry command of the ``HubUploadError`` sends."""
    stage = Path(tempfile.mkdtemp(prefix="reinforcelab-push-"))
    try:
        folder = stage / repo_id.split("/")[1]
        files = write_folder(folder)
        url = upload(folder, repo_id, token=token, endpoint=endpoint, private=private)
    except HubUploadError as exc:
        raise HubUploadError(
            f"{exc}\nThat folder is a temporary copy kept for this retry; delete it afterwards. "
            "Publishing the run again rebuilds it.",
            kind=exc.kind,
            repo_id=exc.repo_id,
            endpoint=exc.endpoint,
            folder=exc.folder,
            retry_command=exc.retry_command,
        ) from exc.__cause__
    except BaseException:  # anything else (a bad folder, Ctrl-C): leave nothing behind
        shutil.rmtree(stage, ignore_errors=True)
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return url, files
