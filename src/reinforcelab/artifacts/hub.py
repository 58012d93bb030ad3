"""The Hugging Face Hub side of an agent: model card, upload folder, push, and a safe download.

A Hub model folder follows the convention RL publishers on the Hub use (see ``design.md``)::

    model.safetensors    weights only, never a pickle
    config.json          copied from the run: env id, spaces, architecture, hyperparameters, seed
    hyperparameters.json the course's hyperparameter dict, plus ours
    results.json         the evaluation: mean_reward, std_reward, n_evaluation_episodes, ...
    README.md            the model card (YAML front matter with tags and a model-index entry)
    replay.mp4           optional

``write_hub_folder`` builds it from a run folder without any network access; ``upload`` pushes
it; ``download_agent`` turns ``"USER/NAME"`` into a local folder holding config.json and
model.safetensors that ``reinforcelab.load`` reads like any run folder.

huggingface_hub is imported inside the functions that talk to the Hub: it reads environment
variables (HF_HOME, HF_ENDPOINT, HF_HUB_OFFLINE, ...) when first imported, and exporting a folder
needs none of it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shlex
import shutil
import struct
import tempfile
import warnings
from pathlib import Path
from typing import Any

import yaml

from .checkpoint import CONFIG_FILE, MODEL_FILE, read_config, write_json

HYPERPARAMETERS_FILE = "hyperparameters.json"
RESULTS_FILE = "results.json"
README_FILE = "README.md"
VIDEO_FILE = "replay.mp4"
#: Every file an export may write; nothing else is ever put in a Hub folder.
HUB_FILES = (MODEL_FILE, CONFIG_FILE, HYPERPARAMETERS_FILE, RESULTS_FILE, README_FILE, VIDEO_FILE)

LIBRARY_NAME = "reinforcelab"
DEFAULT_ENDPOINT = "https://huggingface.co"
COURSE_URL = "https://huggingface.co/learn/deep-rl-course/unit4/introduction"
#: Suffixes of model files that are (or usually are) Python pickles: loading one can run code.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")
#: What ``download_agent`` fetches from a reinforcelab repo: configs, results and the weights.
DOWNLOAD_PATTERNS = ("*.json", "*.safetensors")

REQUIRED_RESULTS = ("env_id", "mean_reward", "std_reward", "n_evaluation_episodes")
FAST_MODE_FIELDS = ("num_envs", "episodes_per_env", "total_env_steps", "return_norm", "baseline",
                    "value_lr", "entropy_coef", "max_grad_norm", "normalize_obs", "truncation")

_NAME = r"(?![-.])(?!.*(?:--|\.\.))[A-Za-z0-9_.-]{1,96}(?<![-.])"
REPO_ID_PATTERN = re.compile(rf"^{_NAME}/{_NAME}$")


class HubExportError(ValueError):
    """A run folder, results dict or output folder that cannot be turned into a Hub folder."""


class HubError(RuntimeError):
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

    def __init__(self, message: str, *, kind: str, repo_id: str, endpoint: str, folder: Path,
                 retry_command: str) -> None:
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


# ----------------------------------------------------------------------------- small helpers
def resolve_endpoint(endpoint: str | None = None) -> str:
    """The Hub URL to use: ``endpoint``, else ``$HF_ENDPOINT``, else https://huggingface.co
    (the same rule huggingface_hub applies), without a trailing slash."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def is_hub_repo_id(s: str) -> bool:
    """True if ``s`` names a Hub repo (``USER/NAME``) rather than a local path.

    A path that exists locally always wins, so ``runs/cartpole`` is a folder when it exists.
    Anything with more or fewer than one ``/``, a leading ``.``/``~``, or characters the Hub does
    not allow in repo ids is a local path.
    """
    s = str(s)
    if Path(s).expanduser().exists():
        return False
    return REPO_ID_PATTERN.match(s) is not None


def check_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it has the Hub's ``USER/NAME`` form, else raise ``ValueError``."""
    if not isinstance(repo_id, str) or REPO_ID_PATTERN.match(repo_id) is None:
        raise ValueError(
            f"{repo_id!r} is not a Hub repo id; expected USER/NAME (letters, digits, '-', '_', '.'; "
            "e.g. my-username/Reinforce-CartPole-v1)"
        )
    return repo_id


def find_pickles(folder: str | Path) -> list[Path]:
    """Files in ``folder`` (recursively) whose suffix marks a pickled model (see ``PICKLE_SUFFIXES``)."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in PICKLE_SUFFIXES)


def hf_upload_command(folder: str | Path, repo_id: str, endpoint: str | None = None,
                      private: bool = False) -> str:
    """A shell command that uploads ``folder`` to ``repo_id`` with the ``hf`` CLI shipped with
    huggingface_hub (it creates the repo if needed). The token is never part of it."""
    prefix = ""
    if endpoint is not None and resolve_endpoint(endpoint) != DEFAULT_ENDPOINT:
        prefix = f"HF_ENDPOINT={shlex.quote(resolve_endpoint(endpoint))} "
    command = f"{prefix}hf upload {repo_id} {shlex.quote(str(Path(folder).resolve()))} . --repo-type model"
    return command + (" --private" if private else "")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(obj: Any) -> Any:
    # numpy scalars and arrays (e.g. returns computed with numpy) serialise as plain numbers/lists
    if callable(getattr(obj, "tolist", None)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=_json_default) + "\n"


def _check_safetensors(path: Path) -> None:
    """Refuse anything that is not a safetensors file: 8-byte header length, then a JSON header.

    This is what keeps a pickle renamed to .safetensors out of a Hub folder."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            (n,) = struct.unpack("<Q", head) if len(head) == 8 else (None,)
            size = path.stat().st_size
            if n is None or n > size - 8:
                raise ValueError("header length does not fit the file")
            header = json.loads(f.read(n))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise HubExportError(f"{path} is not a safetensors file ({exc}); refusing to export it") from exc


# ----------------------------------------------------------------------------- card contents
def course_hyperparameters(config_json: dict[str, Any]) -> dict[str, Any]:
    """The course's hyperparameter dict for a run's ``config.json``, then our extra fields.

    Course keys: ``h_size`` (first hidden width), ``n_training_episodes``,
    ``n_evaluation_episodes``, ``max_t``, ``gamma``, ``lr``, ``env_id``, ``state_space``,
    ``action_space``. Extra keys: ``mode``, ``hidden_sizes``, ``seed``, ``print_every``,
    ``library_version``, the fast-mode fields when ``mode == "fast"`` (where
    ``n_training_episodes`` is unused: fast mode trains for ``total_env_steps``), and
    ``env_kwargs`` when set.
    """
    try:
        config = config_json["config"]
        shape = list(config_json["observation_shape"])
        params: dict[str, Any] = {
            "h_size": int(config["hidden_sizes"][0]),
            "n_training_episodes": config["n_episodes"],
            "n_evaluation_episodes": config["eval_episodes"],
            "max_t": config["max_t"],
            "gamma": config["gamma"],
            "lr": config["lr"],
            "env_id": config_json["env_id"],
            "state_space": shape[0] if len(shape) == 1 else shape,
            "action_space": int(config_json["n_actions"]),
            "mode": config["mode"],
            "hidden_sizes": [int(h) for h in config["hidden_sizes"]],
            "seed": config.get("seed"),
            "print_every": config.get("print_every"),
            "library_version": config_json.get("library_version"),
        }
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise HubExportError(f"config.json is not a reinforcelab run config (missing or bad {exc})") from exc
    if config["mode"] == "fast":
        params.update({name: config[name] for name in FAST_MODE_FIELDS if name in config})
    if config.get("env_kwargs"):
        params["env_kwargs"] = config["env_kwargs"]
    return params


def _card_metadata(repo_id: str, env_id: str, mean: float, std: float) -> dict[str, Any]:
    return {
        "library_name": LIBRARY_NAME,
        "tags": [env_id, "reinforce", "reinforcement-learning", "deep-reinforcement-learning",
                 "custom-implementation", "deep-rl-class"],
        "model-index": [{
            "name": repo_id.split("/")[-1],
            "results": [{
                "task": {"type": "reinforcement-learning", "name": "reinforcement-learning"},
                "dataset": {"name": env_id, "type": env_id},
                "metrics": [{"type": "mean_reward", "value": f"{mean:.2f} +/- {std:.2f}",
                             "name": "mean_reward", "verified": False}],
            }],
        }],
    }


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=_json_default)
    return text.replace("|", "\\|")


def model_card(repo_id: str, config_json: dict[str, Any], results: dict[str, Any],
               video: str | None = None, endpoint: str | None = None) -> str:
    """The README.md of a Hub folder: YAML front matter, then a human-readable card.

    Args:
        repo_id: ``USER/NAME``; the model-index entry is named after ``NAME``.
        config_json: the run's config.json contents.
        results: the evaluation (``env_id``, ``mean_reward``, ``std_reward``,
            ``n_evaluation_episodes``, optionally ``deterministic``, ``seed``, ``eval_datetime``).
        video: file name of the replay inside the repo (e.g. ``replay.mp4``), or ``None``.
        endpoint: Hub URL used for the video link (default: ``resolve_endpoint()``).
    """
    _check_results(results)
    env_id = config_json.get("env_id", results["env_id"])
    mean, std = float(results["mean_reward"]), float(results["std_reward"])
    params = course_hyperparameters(config_json)
    n_eval = int(results["n_evaluation_episodes"])
    deterministic = bool(results.get("deterministic", False))
    shape = "x".join(str(d) for d in config_json["observation_shape"])
    widths = " -> ".join(str(h) for h in params["hidden_sizes"])
    mode = params["mode"]
    mode_text = ("`course`: one Adam update per episode, returns standardised within each episode, "
                 "as in the course" if mode == "course" else
                 "`fast`: each update uses a batch of whole episodes from vectorised environments")
    front = yaml.safe_dump(_card_metadata(repo_id, env_id, mean, std), sort_keys=False, allow_unicode=True)
    actions = ("**deterministic** (the most probable action)" if deterministic
               else "**sampled** from the policy (not the argmax)")
    when = f" Evaluated on {results['eval_datetime']}." if results.get("eval_datetime") else ""
    seed = results.get("seed")

    lines = [
        "---", front.rstrip("\n"), "---", "",
        f"# REINFORCE agent playing {env_id}", "",
        f"A **REINFORCE** (Monte Carlo policy gradient) agent trained on **{env_id}** with "
        f"`{LIBRARY_NAME}`, following Unit 4 of the [Hugging Face Deep RL course]({COURSE_URL}).", "",
        f"- Policy: MLP {shape} -> {widths} -> {params['action_space']}, ReLU after each hidden layer, "
        "a softmax over the discrete actions (a categorical distribution).",
        f"- Training mode: {mode_text}.",
        f"- Files: `{MODEL_FILE}` (weights only, no pickle), `{CONFIG_FILE}` (architecture, "
        f"hyperparameters, seed), `{HYPERPARAMETERS_FILE}` (the course's dict), `{RESULTS_FILE}`.", "",
        "## Evaluation", "",
        "| metric | value |", "|---|---|",
        f"| mean reward | {mean:.2f} |",
        f"| std reward (population) | {std:.2f} |",
        f"| mean - std (the course's score) | {mean - std:.2f} |",
        f"| evaluation episodes | {n_eval} |", "",
        f"Protocol: {n_eval} episodes of `{env_id}` with actions {actions}, each episode capped at "
        f"max_t = {params['max_t']} steps; the score is the mean and the population standard deviation "
        f"(ddof=0) of the episode returns. Seed: {'none' if seed is None else seed}.{when}", "",
        "## Usage", "",
        "With reinforcelab installed, watch the agent play:", "",
        "```bash", f"reinforcelab enjoy {repo_id}", "```", "",
        "or use it from Python:", "",
        "```python",
        "import gymnasium as gym",
        "import reinforcelab  # also registers Pixelcopter-PLE-v0", "",
        f'agent = reinforcelab.load("{repo_id}")  # downloads the json files and {MODEL_FILE} only',
        f'env = gym.make("{env_id}", render_mode="human")',
        "obs, info = env.reset()",
        "done = False",
        "while not done:",
        "    action = agent.predict(obs)  # sampled; agent.predict(obs, deterministic=True) for the argmax",
        "    obs, reward, terminated, truncated, info = env.step(action)",
        "    done = terminated or truncated",
        "env.close()",
        "```", "",
        "## Hyperparameters", "",
        "| name | value |", "|---|---|",
        *(f"| {name} | {_cell(value)} |" for name, value in params.items()),
    ]
    if video:
        url = f"{resolve_endpoint(endpoint)}/{repo_id}/resolve/main/{video}"
        lines += ["", "## Replay", "", f'<video controls autoplay loop muted src="{url}"></video>']
    return "\n".join(lines) + "\n"


def _check_results(results: dict[str, Any]) -> None:
    missing = [k for k in REQUIRED_RESULTS if k not in results]
    if missing:
        raise HubExportError(f"results are missing {', '.join(missing)}; expected an evaluation dict "
                             f"with {', '.join(REQUIRED_RESULTS)}")
    for key in ("mean_reward", "std_reward"):
        try:
            float(results[key])
        except (TypeError, ValueError) as exc:
            raise HubExportError(f"results[{key!r}] is not a number: {results[key]!r}") from exc


# ----------------------------------------------------------------------------- the Hub folder
def _is_hub_folder(folder: Path) -> bool:
    """Only files an export writes, including config.json: safe to replace with ``overwrite``."""
    entries = list(folder.iterdir())
    return (any(p.name == CONFIG_FILE for p in entries)
            and all(p.is_file() and not p.is_symlink() and p.name in HUB_FILES for p in entries))


def _same_files(a: Path, b: Path) -> bool:
    names_a = sorted(p.name for p in a.iterdir())
    if names_a != sorted(p.name for p in b.iterdir()):
        return False
    return all((b / n).is_file() and (a / n).read_bytes() == (b / n).read_bytes() for n in names_a)


def write_hub_folder(run_dir: str | Path, out_dir: str | Path, results: dict[str, Any], repo_id: str,
                     video: str | Path | None = None, *, overwrite: bool = False,
                     endpoint: str | None = None) -> list[Path]:
    """Write exactly the folder to upload for a run: the weights, configs, results and card.

    The folder is assembled next to ``out_dir`` and moved into place in one rename, so a failed
    export never leaves half a folder. Re-exporting identical contents is a no-op.

    Args:
        run_dir: a run folder with config.json and model.safetensors.
        out_dir: the folder to create. It may already exist if it is empty or holds the same files.
        results: the evaluation to publish (see ``model_card``); written as results.json.
        repo_id: ``USER/NAME`` the folder is meant for (used in the card).
        video: a replay video to include as replay.mp4.
        overwrite: replace an existing, different Hub folder at ``out_dir``. A folder holding
            anything an export does not write is never replaced.
        endpoint: Hub URL used for the video link in the card.

    Returns:
        The paths of the files in ``out_dir``, sorted.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    check_repo_id(repo_id)
    config_json = read_config(run_dir)
    weights = run_dir / MODEL_FILE
    if not weights.is_file():
        raise HubExportError(f"{run_dir} has no {MODEL_FILE}; nothing to export")
    _check_safetensors(weights)
    _check_results(results)
    if results["env_id"] != config_json.get("env_id"):
        raise HubExportError(f"results are for {results['env_id']} but {run_dir} trained "
                             f"{config_json.get('env_id')}; evaluate this run before exporting it")
    if video is not None:
        video = Path(video)
        if not video.is_file():
            raise HubExportError(f"video {video} does not exist")
        if video.suffix.lower() != ".mp4":
            raise HubExportError(f"video {video} is not an .mp4 file")
    hyperparameters = course_hyperparameters(config_json)
    card = model_card(repo_id, config_json, results, VIDEO_FILE if video else None, endpoint)
    if out_dir.exists() and not out_dir.is_dir():
        raise HubExportError(f"{out_dir} exists and is not a folder")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        shutil.copyfile(weights, staging / MODEL_FILE)
        shutil.copyfile(run_dir / CONFIG_FILE, staging / CONFIG_FILE)
        (staging / HYPERPARAMETERS_FILE).write_text(_dumps(hyperparameters))
        (staging / RESULTS_FILE).write_text(_dumps(dict(results)))
        (staging / README_FILE).write_text(card, encoding="utf-8")
        if video is not None:
            shutil.copyfile(video, staging / VIDEO_FILE)
        assert not find_pickles(staging)  # by construction; the Hub folder never carries a pickle
        _install(staging, out_dir, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(out_dir / p.name for p in out_dir.iterdir())


def _install(staging: Path, out_dir: Path, overwrite: bool) -> None:
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    if _same_files(staging, out_dir):
        return
    if not overwrite:
        raise HubExportError(f"{out_dir} already exists with other contents; pass overwrite=True "
                             "(--overwrite) to replace it, or choose another folder")
    if not _is_hub_folder(out_dir):
        raise HubExportError(f"{out_dir} holds files an export does not write; refusing to replace it")
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
    os.replace(out_dir, old / out_dir.name)
    os.replace(staging, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def write_manifest(folder: str | Path, manifest_path: str | Path, repo_id: str,
                   endpoint: str | None = None, private: bool = False) -> dict[str, Any]:
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
        raise HubExportError(f"the manifest {manifest_path} must be written outside the upload folder "
                             f"{folder}, or it would be uploaded too")
    files = [{"path": p.relative_to(folder).as_posix(), "size": p.stat().st_size, "sha256": _sha256(p)}
             for p in sorted(folder.rglob("*")) if p.is_file()]
    url = resolve_endpoint(endpoint)
    manifest = {
        "format": "reinforcelab-hub-manifest", "format_version": 1, "dry_run": True,
        "repo_id": repo_id, "repo_type": "model", "endpoint": url, "url": f"{url}/{repo_id}",
        "private": bool(private), "folder": str(folder),
        "files": files, "total_size": sum(f["size"] for f in files),
        "upload_command": hf_upload_command(folder, repo_id, endpoint, private),
    }
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(manifest_path, manifest)
    return manifest


# ----------------------------------------------------------------------------- network side
def _network_error_types() -> tuple[type[BaseException], ...]:
    """Transport-level errors of whichever HTTP stack this huggingface_hub uses (httpx2 in 2.x,
    httpx or requests in older ones), plus socket-level ones."""
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"),
                         ("requests", "ConnectionError"), ("requests", "Timeout")):
        try:
            types.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _status(exc: BaseException) -> int | None:
    for e in _chain(exc):
        status = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def _is_network_error(exc: BaseException) -> bool:
    network = _network_error_types()
    return any(isinstance(e, network) or type(e).__name__ == "OfflineModeIsEnabled" for e in _chain(exc))


def upload(folder: str | Path, repo_id: str, token: str | None = None, endpoint: str | None = None,
           private: bool = False, *, commit_message: str | None = None,
           retry_command: str | None = None) -> str:
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
    missing = [name for name in (CONFIG_FILE, MODEL_FILE, README_FILE) if not (folder / name).is_file()]
    if missing:
        raise HubExportError(f"{folder} is not a Hub folder (missing {', '.join(missing)}); "
                             "write it with write_hub_folder first")
    if find_pickles(folder):
        raise HubExportError(f"{folder} contains pickled files ({', '.join(p.name for p in find_pickles(folder))}); "
                             "reinforcelab never uploads pickles")
    url = resolve_endpoint(endpoint)
    retry = retry_command or hf_upload_command(folder, repo_id, endpoint, private)

    from huggingface_hub import HfApi

    step = "creating the repository"
    try:
        api = HfApi(endpoint=url, token=token)
        repo_url = api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
        step = "uploading the files"
        api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="model",
                          commit_message=commit_message or "Upload REINFORCE agent (reinforcelab)")
    except Exception as exc:
        status = _status(exc)
        if status in (401, 403) or type(exc).__name__ == "LocalTokenNotFoundError":
            kind = "auth"
            detail = (f"authentication failed (HTTP {status}): the Hub rejected the token or it has no "
                      f"write access to '{repo_id.split('/')[0]}'. Use a token with write access "
                      f"({url}/settings/tokens): log in with `hf auth login`, set HF_TOKEN, or pass --token")
        elif _is_network_error(exc):
            kind, detail = "network", f"network error: could not reach {url} ({_first_line(exc)})"
        else:
            kind = "other"
            detail = (f"the Hub answered HTTP {status} ({_first_line(exc)})" if status is not None
                      else _first_line(exc))
        raise HubUploadError(
            f"Upload of {repo_id} to {url} failed while {step}: {detail}.\n"
            f"The local folder is complete at {folder}; nothing in it was changed.\n"
            f"Retry with:\n  {retry}",
            kind=kind, repo_id=repo_id, endpoint=url, folder=folder, retry_command=retry,
        ) from exc
    return str(repo_url)


def _hub_errors() -> tuple[type[BaseException], type[BaseException]]:
    try:
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
    except ImportError:  # huggingface_hub < 0.24
        from huggingface_hub.utils import RepositoryNotFoundError, RevisionNotFoundError
    return RepositoryNotFoundError, RevisionNotFoundError


def _download_error(exc: BaseException, repo_id: str, url: str, revision: str | None,
                    token: str | None) -> HubDownloadError:
    repo_not_found, revision_not_found = _hub_errors()
    status = _status(exc)
    if isinstance(exc, revision_not_found):
        kind, text = "not_found", f"the model repo '{repo_id}' on {url} has no revision '{revision}'"
    elif isinstance(exc, repo_not_found) or status == 404:
        access = "the token has no access to it" if token else "no token was given"
        kind, text = "not_found", (
            f"there is no model repo '{repo_id}' on {url}, or it is private or gated and {access}. "
            f"Check the id (USER/NAME); if you meant a local folder, './{repo_id}' does not exist")
    elif status in (401, 403):
        kind, text = "auth", (f"the Hub at {url} refused access to '{repo_id}' (HTTP {status}); check the "
                              "token (`hf auth login`, HF_TOKEN or --token)")
    elif _is_network_error(exc):
        kind, text = "network", (f"could not reach {url} to download '{repo_id}' ({_first_line(exc)}), and "
                                 "no complete copy is in the local cache")
    else:
        kind, text = "other", f"downloading '{repo_id}' from {url} failed ({_first_line(exc)})"
    return HubDownloadError(text[0].upper() + text[1:] + ".", kind=kind, repo_id=repo_id, endpoint=url)


def _patterns_for(files: list[str], allow_pickle: bool, repo_id: str, url: str) -> list[str]:
    """What to download from a repo with ``files``; refuses pickle-only repos unless allowed."""
    listing = ", ".join(sorted(files)) or "none"
    if MODEL_FILE in files:
        if CONFIG_FILE not in files:
            raise HubDownloadError(
                f"'{repo_id}' on {url} has {MODEL_FILE} but no {CONFIG_FILE}, so it is not a reinforcelab "
                f"agent (files: {listing})", kind="not_an_agent", repo_id=repo_id, endpoint=url)
        return list(DOWNLOAD_PATTERNS)
    pickles = sorted(f for f in files if Path(f).suffix.lower() in PICKLE_SUFFIXES)
    if not pickles:
        raise HubDownloadError(f"'{repo_id}' on {url} has no {MODEL_FILE} and no model weights at all, so it "
                               f"is not a reinforcelab agent (files: {listing})",
                               kind="not_an_agent", repo_id=repo_id, endpoint=url)
    if not allow_pickle:
        raise PickleRefusedError(
            f"'{repo_id}' on {url} holds its model only as a pickle ({', '.join(pickles)}), with no "
            f"{MODEL_FILE}. Loading a pickle can run arbitrary code, so reinforcelab does not download it. "
            "If you trust the author of this repo, opt in with allow_pickle=True in Python or "
            "--allow-pickle on the command line.", kind="pickle_only", repo_id=repo_id, endpoint=url)
    warnings.warn(
        f"Downloading pickled model file(s) {', '.join(pickles)} from '{repo_id}' because allow_pickle=True: "
        "loading a pickle can run arbitrary code; do it only if you trust the author of this repo.",
        PickleDownloadWarning, stacklevel=3)
    return ["*.json", *pickles]


def download_agent(repo_id: str, endpoint: str | None = None, token: str | None = None,
                   allow_pickle: bool = False, cache_dir: str | Path | None = None,
                   revision: str | None = None) -> Path:
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

    try:
        api = HfApi(endpoint=url, token=token)
        info = api.model_info(repo_id, revision=revision)
        if info.siblings is not None:
            files = [s.rfilename for s in info.siblings]
        else:
            files = api.list_repo_files(repo_id, revision=info.sha, repo_type="model")
    except Exception as exc:
        if _is_network_error(exc):
            cached = _cached_agent(repo_id, url, token, cache_dir, revision)
            if cached is not None:
                return cached
        raise _download_error(exc, repo_id, url, revision, token) from exc

    patterns = _patterns_for(files, allow_pickle, repo_id, url)
    try:
        # The branch name (not info.sha) goes to snapshot_download so that it records refs/<branch>
        # in the cache, which is what lets the offline fallback above find this snapshot later.
        folder = Path(snapshot_download(repo_id, repo_type="model", revision=revision, endpoint=url,
                                        token=token, cache_dir=cache_dir, allow_patterns=patterns))
    except Exception as exc:
        raise _download_error(exc, repo_id, url, revision, token) from exc
    if not (folder / MODEL_FILE).is_file() and not find_pickles(folder):
        raise HubDownloadError(f"Downloading '{repo_id}' from {url} did not produce {MODEL_FILE} "
                               "(the repo changed during the download?); try again.",
                               kind="other", repo_id=repo_id, endpoint=url)
    return folder


def _cached_agent(repo_id: str, url: str, token: str | None, cache_dir: str | Path | None,
                  revision: str | None) -> Path | None:
    """A complete cached snapshot with model.safetensors, or None (no network access)."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, repo_type="model", revision=revision, endpoint=url,
                                        token=token, cache_dir=cache_dir, local_files_only=True,
                                        allow_patterns=list(DOWNLOAD_PATTERNS)))
    except Exception:
        return None
    return folder if (folder / MODEL_FILE).is_file() and (folder / CONFIG_FILE).is_file() else None
