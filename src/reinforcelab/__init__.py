"""reinforcelab: fast, faithful REINFORCE agents for Gymnasium (HF Deep RL course, Unit 4)."""

from __future__ import annotations

from pathlib import Path

from ._version import __version__
from .agent import Reinforce
from .config import PRESETS, TrainConfig, preset

try:  # Pixelcopter-PLE-v0 is registered on import, so gymnasium.make finds it.
    from .envs import register_envs as _register_envs
except ImportError:  # pragma: no cover - while the env package is absent
    _register_envs = None
if _register_envs is not None:
    _register_envs()


def load(
    path_or_repo,
    endpoint: str | None = None,
    token: str | None = None,
    allow_pickle: bool = False,
    device: str = "auto",
    policy=None,
) -> Reinforce:
    """Rebuild an agent from a run folder, or from a Hub repo ``"USER/NAME"``.

    From the Hub only ``*.json`` and ``*.safetensors`` files are downloaded. A repo whose model is
    only a pickle is refused unless ``allow_pickle=True`` (unpickling can run arbitrary code).
    ``policy``: the module to load a torch policy's weights into, when its class cannot be imported
    here (one defined in a notebook). Anything that could be a local path is one (see
    ``is_local_path``): a mistyped run folder gets "no such run folder" instead of a query to the
    Hub.
    """
    from .artifacts.checkpoint import CheckpointError
    from .artifacts.hub import download_agent

    if not is_local_path(path_or_repo):
        folder = download_agent(
            str(path_or_repo), endpoint=endpoint, token=token, allow_pickle=allow_pickle
        )
        if allow_pickle and not (folder / "model.safetensors").is_file():
            return _load_course_pickle(folder, device)
        return Reinforce.load(folder, device=device, policy=policy)
    if not Path(path_or_repo).expanduser().exists():
        raise CheckpointError(f"no such run folder: {path_or_repo}")
    return Reinforce.load(Path(path_or_repo).expanduser(), device=device, policy=policy)


def _load_course_pickle(folder: Path, device: str) -> Reinforce:
    """An agent from a Hub folder the course's notebook pushed (a pickled model, no safetensors);
    only with ``allow_pickle=True``: unpickling can run arbitrary code."""
    import numpy as np

    from .artifacts.checkpoint import CheckpointError
    from .artifacts.course_pickle import load_course_pickle
    from .artifacts.hub import find_pickles
    from .policies.mlp import MLP

    pickles = find_pickles(folder)
    if not pickles:
        raise CheckpointError(f"{folder} has neither model.safetensors nor a pickled model")
    config, layers = load_course_pickle(folder, pickles[0])
    agent = Reinforce(config=config, device=device)
    policy = agent.policy
    assert isinstance(policy, MLP)
    if [w.shape for w, _ in policy.layers] != [tuple(w.shape) for w, _ in layers]:
        raise CheckpointError(f"{pickles[0]} layer shapes do not fit {config.env_id}")
    policy.load_state_dict(MLP([(np.asarray(w), np.asarray(b)) for w, b in layers]).state_dict())
    return agent


def is_local_path(path_or_repo: str | Path) -> bool:
    """True unless ``path_or_repo`` can only be a Hub repo id (see
    ``artifacts.hub.is_hub_repo_id``); a ``Path`` is always local."""
    from .artifacts.hub.repo import is_hub_repo_id

    return isinstance(path_or_repo, Path) or not is_hub_repo_id(str(path_or_repo))


__all__ = ["PRESETS", "Reinforce", "TrainConfig", "__version__", "load", "preset"]
