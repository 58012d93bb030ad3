"""The Hugging Face Hub side of an agent: model card, upload folder, push, and a safe download.

A Hub model folder follows the convention RL publishers on the Hub use (see ``design.md``)::

    model.safetensors    weights only, never a pickle
    config.json          copied from the run: env id, spaces, architecture, hyperparameters, seed
    hyperparameters.json the course's hyperparameter dict, plus ours
    results.json         the evaluation: mean_reward, std_reward, n_evaluation_episodes, ...
    README.md            the model card (YAML front matter with tags and a model-index entry)
    replay.mp4           optional

By job: ``card`` writes the model card, ``folder`` builds the upload folder from a run folder
without any network access (and the dry-run manifest), ``client`` uploads a folder and downloads
an agent (``"USER/NAME"`` -> a local folder that ``reinforcelab.load`` reads like a run folder).
``repo`` names repos and endpoints, ``layout`` the files, ``errors`` what can go wrong. The whole
``push`` pipeline (evaluate, record, write, upload) is ``reinforcelab.publish.publish_run``.
"""

from .card import LIBRARY_NAME, card_metadata, course_hyperparameters, model_card
from .client import DOWNLOAD_PATTERNS, download_agent, upload
from .errors import (
    HubDownloadError,
    HubError,
    HubExportError,
    HubUploadError,
    PickleDownloadWarning,
    PickleRefusedError,
)
from .folder import write_hub_folder, write_manifest
from .layout import (
    HUB_FILES,
    HYPERPARAMETERS_FILE,
    PICKLE_SUFFIXES,
    README_FILE,
    RESULTS_FILE,
    VIDEO_FILE,
    find_pickles,
)
from .repo import (
    DEFAULT_ENDPOINT,
    check_repo_id,
    hf_upload_command,
    is_hub_repo_id,
    resolve_endpoint,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "DOWNLOAD_PATTERNS",
    "HUB_FILES",
    "HYPERPARAMETERS_FILE",
    "LIBRARY_NAME",
    "PICKLE_SUFFIXES",
    "README_FILE",
    "RESULTS_FILE",
    "VIDEO_FILE",
    "HubDownloadError",
    "HubError",
    "HubExportError",
    "HubUploadError",
    "PickleDownloadWarning",
    "PickleRefusedError",
    "card_metadata",
    "check_repo_id",
    "course_hyperparameters",
    "download_agent",
    "find_pickles",
    "hf_upload_command",
    "is_hub_repo_id",
    "model_card",
    "resolve_endpoint",
    "upload",
    "write_hub_folder",
    "write_manifest",
]
