"""Creating environments, with clear errors for ids and spaces this library cannot use."""

from __future__ import annotations

import contextlib
import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from ..errors import UserError


class EnvError(UserError, ValueError):
    """An environment that does not exist or that REINFORCE with a categorical policy cannot
    drive."""


def check_env_id(env_id: str) -> None:
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise EnvError(f"unknown environment id {env_id!r}.{hint}")


def is_continuous(action_space: gym.Space) -> bool:
    return isinstance(action_space, gym.spaces.Box)


def check_spaces(env_id: str, observation_space: gym.Space, action_space: gym.Space) -> None:
    continuous = isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1
    if not isinstance(action_space, gym.spaces.Discrete) and not continuous:
        raise EnvError(
            f"{env_id} has a {type(action_space).__name__} action space {action_space}; this "
            "REINFORCE agent needs a Discrete action space (categorical policy) or a 1-D Box "
            "(Gaussian policy)."
        )
    if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) not in (
        1,
        3,
    ):
        raise EnvError(
            f"{env_id} has observation space {observation_space}; the policies need a flat Box "
            "(1-D vector, MLP) or image (C, H, W) observations (CNN)."
        )


@contextlib.contextmanager
def optional_dependencies(env_id: str) -> Iterator[None]:
    """Turn Gymnasium's missing-dependency error (e.g. Box2D for LunarLander) into an EnvError that
    says what to install."""
    try:
        yield
    except gym.error.DependencyNotInstalled as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EnvError(
            f"{env_id} needs an optional package that is not installed: {detail}"
        ) from exc


def make_env(env_id: str, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """``gym.make`` after checking the id, then check that the spaces suit a categorical MLP
    policy."""
    check_env_id(env_id)
    if render_mode == "rgb_array":
        # Off-screen frames need no display; without this SDL (pygame) complains on headless
        # machines.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    with optional_dependencies(env_id):
        env = gym.make(env_id, render_mode=render_mode, **kwargs)
    try:
        check_spaces(env_id, env.observation_space, env.action_space)
    except EnvError:
        env.close()
        raise
    # A Gaussian policy's samples are clipped to the bounds only on their way into the env.
    return gym.wrappers.ClipAction(env) if is_continuous(env.action_space) else env


#: Env ids whose sub-envs step faster in worker processes (AsyncVectorEnv) than in this process.
#: Empty, because none has been measured faster: on this project's 2-core machine
#: (benchmarks/vector_stepping.py; numbers in the README) LunarLander-v3's step is too cheap for
#: the pipe round trip to each worker to pay, so "auto" steps it in this process.
ASYNC_FASTER: frozenset[str] = frozenset()


#: Env ids that step faster in EnvPool than in Gymnasium's own vector envs, as measured
#: (benchmarks/vector_stepping.py): ``auto`` takes EnvPool for them when it is installed.
ENVPOOL_FASTER: frozenset[str] = frozenset(
    {"LunarLander-v3", "LunarLanderContinuous-v3", "Pendulum-v1", "Acrobot-v1"}
)


def vectorization_mode(
    env_id: str, vectorization: str = "auto", kwargs: bool = False, allow_envpool: bool = True
) -> str:
    """How ``make_vector_env`` steps ``env_id``: ``auto`` takes the env's numpy-batched entry point
    when it has one (CartPole, Pixelcopter), else EnvPool where it was measured faster and is
    installed (unless ``allow_envpool`` is false, or env keyword arguments are given: EnvPool takes
    its own), else whichever of sync and async was measured faster; ``sync``, ``async`` and
    ``envpool`` force theirs."""
    from .envpool_env import envpool_installed

    if vectorization != "auto":
        return vectorization
    if gym.spec(env_id).vector_entry_point is not None:
        return "vector_entry_point"
    if env_id in ENVPOOL_FASTER and allow_envpool and not kwargs and envpool_installed():
        return "envpool"
    return "async" if env_id in ASYNC_FASTER else "sync"


def make_vector_env(
    env_id: str,
    num_envs: int,
    vectorization: str = "auto",
    allow_envpool: bool = True,
    **kwargs: Any,
) -> gym.vector.VectorEnv:
    """A vector env stepped as ``vectorization`` says (see :func:`vectorization_mode`). An async
    one runs a worker process per sub-env until ``close()``. Continuous actions are clipped to the
    action space on their way into the env (the policy's samples themselves are not)."""
    check_env_id(env_id)
    mode = vectorization_mode(env_id, vectorization, bool(kwargs), allow_envpool)
    with optional_dependencies(env_id):
        envs = (
            make_envpool(env_id, num_envs, **kwargs)
            if mode == "envpool"
            else gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
        )
    try:
        check_spaces(env_id, envs.single_observation_space, envs.single_action_space)
    except EnvError:
        envs.close()
        raise
    space = envs.single_action_space
    if isinstance(
        space, gym.spaces.Box
    ):  # one np.clip per step (Gymnasium's wrapper clips per sub-env)
        low, high = space.low, space.high
        return gym.wrappers.vector.TransformAction(envs, lambda a: np.clip(a, low, high))
    return envs


def make_envpool(env_id: str, num_envs: int, **kwargs: Any) -> gym.vector.VectorEnv:
    """An :class:`~reinforcelab.envs.envpool_env.EnvPoolVectorEnv`, or one line saying why not."""
    from .envpool_env import ENVPOOL_IDS, EnvPoolVectorEnv, envpool_installed

    if not envpool_installed():
        raise EnvError("vectorization='envpool' needs EnvPool: pip install reinforcelab[envpool]")
    if env_id not in ENVPOOL_IDS:
        raise EnvError(f"EnvPool has no port of {env_id}; it has {', '.join(sorted(ENVPOOL_IDS))}")
    try:
        return EnvPoolVectorEnv(env_id, num_envs, **kwargs)
    except TypeError as exc:  # EnvPool's config takes none of Gymnasium's env keyword arguments
        raise EnvError(f"EnvPool's {env_id} does not take {kwargs} ({exc})") from exc


@dataclass(frozen=True)
class Spaces:
    """What the policies need of an env's spaces."""

    obs_shape: tuple[int, ...]
    #: the number of discrete actions, or the size of the action vector
    n_actions: int
    continuous: bool
    #: continuous actions: their bounds (a Gaussian policy scales its samples to them)
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()

    @property
    def obs_dim(self) -> int:
        return int(np.prod(self.obs_shape))

    @property
    def images(self) -> bool:
        """(C, H, W) frames, for a CNN."""
        return len(self.obs_shape) == 3


def spaces_of(env: gym.Env) -> Spaces:
    """The spaces of a checked env (its action space before clipping)."""
    space = (
        env.unwrapped.action_space if isinstance(env, gym.wrappers.ClipAction) else env.action_space
    )
    shape = tuple(int(d) for d in env.observation_space.shape or ())
    if isinstance(space, gym.spaces.Box):
        low, high = (tuple(float(v) for v in bound) for bound in (space.low, space.high))
        return Spaces(shape, int(space.shape[0]), True, low, high)
    assert isinstance(space, gym.spaces.Discrete)  # check_spaces let nothing else through
    return Spaces(shape, int(space.n), False)
