"""Environments shipped with reinforcelab: Pixelcopter-PLE-v0 (single and numpy-batched)."""

from __future__ import annotations

import gymnasium

from .pixelcopter import PixelcopterEnv
from .pixelcopter_vector import PixelcopterVectorEnv

__all__ = ["PIXELCOPTER_ID", "PixelcopterEnv", "PixelcopterVectorEnv", "register_envs"]

PIXELCOPTER_ID = "Pixelcopter-PLE-v0"


def register_envs() -> None:
    """Register Pixelcopter-PLE-v0 with Gymnasium (safe to call more than once).

    Like the original gym-games registration there is no ``max_episode_steps`` (so no
    ``TimeLimit``) and no reward threshold. ``gymnasium.make_vec`` uses the batched
    :class:`PixelcopterVectorEnv` by default.
    """
    if PIXELCOPTER_ID in gymnasium.registry:
        return
    gymnasium.register(
        id=PIXELCOPTER_ID,
        entry_point="reinforcelab.envs.pixelcopter:PixelcopterEnv",
        vector_entry_point="reinforcelab.envs.pixelcopter_vector:PixelcopterVectorEnv",
    )
