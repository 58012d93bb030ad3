"""reinforcelab: fast, faithful REINFORCE agents for Gymnasium (HF Deep RL course, Unit 4)."""

from __future__ import annotations

__version__ = "0.1.0"

from .agent import Reinforce  # noqa: E402
from .config import PRESETS, TrainConfig, preset  # noqa: E402

try:  # Pixelcopter-PLE-v0 is registered on import, so gymnasium.make finds it.
    from .envs import register_envs as _register_envs
except ImportError:  # pragma: no cover - while the env package is absent
    _register_envs = None
if _register_envs is not None:
    _register_envs()


def load(path_or_repo, endpoint: str | None = None, token: str | None = None, allow_pickle: bool = False,
         device: str = "auto") -> Reinforce:
    """Rebuild an agent from a run folder, or from a Hub repo ``"USER/NAME"``.

    From the Hub only ``*.json`` and ``*.safetensors`` files are downloaded. A repo whose model is
    only a pickle is refused unless ``allow_pickle=True`` (unpickling can run arbitrary code).
    An existing local path always wins over a repo id.
    """
    from .artifacts.hub import download_agent, is_hub_repo_id

    if is_hub_repo_id(str(path_or_repo)):
        folder = download_agent(str(path_or_repo), endpoint=endpoint, token=token, allow_pickle=allow_pickle)
        return Reinforce.load_folder_or_pickle(folder, allow_pickle=allow_pickle, device=device)
    return Reinforce.load(path_or_repo, device=device)


__all__ = ["Reinforce", "TrainConfig", "PRESETS", "preset", "load", "__version__"]
