"""reinforcelab: fast, faithful REINFORCE agents for Gymnasium (HF Deep RL course, Unit 4)."""

__version__ = "0.1.0"

from .agent import Reinforce  # noqa: E402
from .config import PRESETS, TrainConfig, preset  # noqa: E402

try:  # Pixelcopter-PLE-v0 is registered on import, so gymnasium.make finds it.
    from .envs import register_envs as _register_envs
except ImportError:  # pragma: no cover - while the env package is absent
    _register_envs = None
if _register_envs is not None:
    _register_envs()


def load(path_or_repo: str, **kwargs) -> Reinforce:
    """Rebuild an agent from a run folder (config.json + model.safetensors)."""
    return Reinforce.load(path_or_repo, **kwargs)


__all__ = ["Reinforce", "TrainConfig", "PRESETS", "preset", "load", "__version__"]
