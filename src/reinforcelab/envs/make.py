"""Creating environments, with clear errors for ids and spaces this library cannot use.

Images come to the policies channels first, (C, H, W) uint8, as the CNN takes them: an env that
gives (H, W, C) frames (CarRacing) or (H, W) grayscale ones is wrapped to transpose them, single
and vector envs alike.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import importlib.util
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from ..errors import UserError


class EnvError(UserError, ValueError):
    """An environment that does not exist or that REINFORCE with a categorical policy cannot
    drive."""


#: Envs that other packages provide, by the start of their ids: the module that registers them
#: with Gymnasium when imported (Gymnasium 1.x no longer imports it by itself), the package to
#: install and what its envs are.
ENV_PACKAGES: tuple[tuple[tuple[str, ...], str, str, str], ...] = (
    (("ALE/",), "ale_py", "ale-py", "Atari games"),
    (("MiniGrid-", "BabyAI-"), "minigrid", "minigrid", "grid worlds"),
    (("MiniWorld-",), "miniworld", "miniworld", "3-D worlds"),
    (("dm_control/",), "shimmy", "shimmy[dm-control]", "DeepMind Control Suite"),
    (("MinAtar/",), "minatar", "minatar", "small Atari games"),
    (
        ("Fetch", "HandReach", "HandManipulate", "AdroitHand", "PointMaze_", "AntMaze_")
        + ("FrankaKitchen",),
        "gymnasium_robotics",
        "gymnasium-robotics",
        "robotics",
    ),
    (("Panda",), "panda_gym", "panda-gym", "robot arm"),
    (
        ("highway-", "merge-", "roundabout-", "parking-", "intersection-", "racetrack-"),
        "highway_env",
        "highway-env",
        "driving",
    ),
)
#: How alike (difflib's ratio, ignoring case) an id must be to a registered one to be suggested.
CLOSE_MATCH = 0.8


def check_env_id(env_id: str) -> None:
    """An EnvError unless Gymnasium can make ``env_id``. An id of another package's env imports
    that package (which registers its envs), or says what to install; ``module:EnvName-v0``
    imports ``module`` first, as ``gym.make`` does."""
    module, _, name = env_id.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise EnvError(
                f"{env_id}: its module {module} cannot be imported ({exc}); install the package "
                "that provides it"
            ) from None
    if name in gym.registry:
        return
    for prefixes, provider, package, kind in ENV_PACKAGES:
        if not name.startswith(prefixes):
            continue
        if importlib.util.find_spec(provider) is None:
            install = f"'{package}'" if "[" in package else package  # brackets: quoted for a shell
            raise EnvError(
                f"{name} comes from the {package} package ({kind}), which is not installed: "
                f"pip install {install}"
            )
        try:
            importlib.import_module(provider)  # registers its envs
        except ImportError as exc:
            raise EnvError(f"{name} needs {provider}, which cannot be imported: {exc}") from exc
        if name in gym.registry:
            return
    namespace = name.split("/")[0] if "/" in name else None
    known = [i for i in gym.registry if (i.split("/")[0] if "/" in i else None) == namespace]
    if namespace is not None and not known:
        raise EnvError(
            f"unknown environment id {name!r}: no installed package registers the namespace "
            f"{namespace} (install the package that provides it; module:{name} imports a module "
            "that registers it)"
        )
    by_case = {i.lower(): i for i in known}
    close = difflib.get_close_matches(name.lower(), list(by_case), n=3, cutoff=CLOSE_MATCH)
    hint = f" Did you mean: {', '.join(by_case[c] for c in close)}?" if close else ""
    raise EnvError(f"unknown environment id {name!r}.{hint}")


def is_continuous(action_space: gym.Space) -> bool:
    return isinstance(action_space, gym.spaces.Box)


def image_layout(space: gym.Space) -> str | None:
    """How a space of uint8 images is laid out: ``"chw"`` (channels first, as the CNN takes them),
    ``"hwc"`` (1, 3 or 4 channels last: RGB, RGBA or gray frames, e.g. CarRacing) or ``"hw"``
    (one gray channel); None for anything else."""
    if not isinstance(space, gym.spaces.Box) or space.dtype != np.uint8:
        return None
    if len(space.shape) == 2:
        return "hw"
    if len(space.shape) == 3:
        return "hwc" if space.shape[-1] in (1, 3, 4) else "chw"
    return None


def check_spaces(env_id: str, observation_space: gym.Space, action_space: gym.Space) -> None:
    continuous = isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1
    if not isinstance(action_space, gym.spaces.Discrete) and not continuous:
        raise EnvError(
            f"{env_id} has a {type(action_space).__name__} action space {action_space}; this "
            "REINFORCE agent needs a Discrete action space (categorical policy) or a 1-D Box "
            "(Gaussian policy)."
        )
    vector = isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1
    frames = isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 3
    if not (vector or frames or image_layout(observation_space)):
        raise EnvError(
            f"{env_id} has observation space {observation_space}; the policies need a flat Box "
            "(1-D vector, MLP) or uint8 images, (C, H, W), (H, W, C) or (H, W) (CNN)."
        )


def channels_first(space: gym.Space) -> tuple[gym.spaces.Box, Any] | None:
    """For (H, W, C) or (H, W) images: their (C, H, W) space and the function that turns frames
    (one, or a batch [n, ...]) into it; None for observations the policies take as they are."""
    layout = image_layout(space)
    if layout == "hwc":
        to_chw: Any = lambda frames: np.moveaxis(frames, -1, -3)  # noqa: E731
    elif layout == "hw":
        to_chw = lambda frames: np.expand_dims(frames, -3)  # noqa: E731
    else:
        return None
    assert isinstance(space, gym.spaces.Box)  # image_layout said so
    return gym.spaces.Box(to_chw(space.low), to_chw(space.high), dtype=np.uint8), to_chw


class ChannelsFirst(gym.wrappers.TransformObservation):
    """An env's (H, W, C) or (H, W) frames as (C, H, W) (see :func:`channels_first`)."""


def to_channels_first(obs: np.ndarray, spaces: Spaces) -> np.ndarray:
    """Observations (one, or a batch) as the env gives them, in the layout the policies take:
    what :class:`ChannelsFirst` does to frames; other observations are returned unchanged."""
    env_shape, shape = spaces.env_obs_shape, spaces.obs_shape
    if env_shape is None or shape in (obs.shape, obs.shape[1:]):  # as the policies take them
        return obs
    if obs.shape[obs.ndim - len(env_shape) :] != env_shape:
        return obs  # neither: predict() says what it expects
    return np.moveaxis(obs, -1, -3) if len(env_shape) == 3 else np.expand_dims(obs, -3)


@contextlib.contextmanager
def optional_dependencies(env_id: str, kwargs: Mapping[str, Any] = {}) -> Iterator[None]:
    """Turn Gymnasium's missing-dependency error (e.g. Box2D for LunarLander) into an EnvError that
    says what to install, and an env keyword argument the env does not take (e.g. a preset's
    ``obs_type`` given to another env) into one naming it."""
    try:
        yield
    except gym.error.DependencyNotInstalled as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EnvError(
            f"{env_id} needs an optional package that is not installed: {detail}"
        ) from exc
    except TypeError as exc:
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
        if unexpected is None or unexpected[1] not in kwargs:  # not one the user gave: a bug
            raise
        raise EnvError(
            f"{env_id} does not take the env keyword argument {unexpected[1]!r} (env_kwargs, "
            "which a preset for another env may set)"
        ) from exc


def make_env(env_id: str, render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """``gym.make`` after checking the id, then check that the spaces suit a categorical MLP
    policy."""
    check_env_id(env_id)
    if render_mode == "rgb_array":
        # Off-screen frames need no display; without this SDL (pygame) complains on headless
        # machines.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    with optional_dependencies(env_id, kwargs):
        env = gym.make(env_id, render_mode=render_mode, **kwargs)
    try:
        check_spaces(env_id, env.observation_space, env.action_space)
    except EnvError:
        env.close()
        raise
    transposed = channels_first(env.observation_space)
    if transposed is not None:
        env = ChannelsFirst(env, transposed[1], transposed[0])
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


def seeds_each_sub_env(envs: gym.vector.VectorEnv) -> bool:
    """Whether ``envs.reset(seed=[...])`` takes a seed per sub-env. Sync and async vector envs,
    EnvPool and our Pixelcopter twin do; numpy-batched vector envs such as CartPole's draw every
    sub-env from one generator, seeded by one int."""
    from . import PixelcopterVectorEnv
    from .envpool_env import EnvPoolVectorEnv

    per_sub_env = (
        gym.vector.SyncVectorEnv,
        gym.vector.AsyncVectorEnv,
        PixelcopterVectorEnv,
        EnvPoolVectorEnv,
    )
    return isinstance(envs.unwrapped, per_sub_env)


def per_sub_env_mode(env_id: str, kwargs: bool = False, allow_envpool: bool = True) -> str:
    """``auto``'s backend for an env whose numpy-batched vector env takes one seed for all
    sub-envs, when each needs its own (CartPole with ``group_size``): EnvPool when installed (and
    allowed, and no env keyword arguments are given), measured faster than sync for training
    CartPole in groups (``benchmarks/group_baselines.py --parts backends``), else the faster of
    sync and async."""
    from .envpool_env import ENVPOOL_IDS, envpool_installed

    if env_id in ENVPOOL_IDS and allow_envpool and not kwargs and envpool_installed():
        return "envpool"
    return "async" if env_id in ASYNC_FASTER else "sync"


def make_vector_env(
    env_id: str,
    num_envs: int,
    vectorization: str = "auto",
    allow_envpool: bool = True,
    seed_each: bool = False,
    **kwargs: Any,
) -> gym.vector.VectorEnv:
    """A vector env stepped as ``vectorization`` says (see :func:`vectorization_mode`). An async
    one runs a worker process per sub-env until ``close()``. Continuous actions are clipped to the
    action space on their way into the env (the policy's samples themselves are not).

    ``seed_each``: the caller resets sub-envs with seeds of their own (group sampling). ``auto``
    then passes over a numpy-batched vector env that takes one seed for all (CartPole's) for
    :func:`per_sub_env_mode`'s choice; an explicit ``vectorization`` that cannot is refused in one
    line."""
    check_env_id(env_id)
    mode = vectorization_mode(env_id, vectorization, bool(kwargs), allow_envpool)
    envs = open_vector_env(env_id, num_envs, mode, **kwargs)
    if seed_each and not seeds_each_sub_env(envs):
        envs.close()
        if vectorization != "auto":
            raise EnvError(
                f"vectorization={vectorization!r} seeds all sub-envs of {env_id} from one seed, "
                "and group_size needs a seed per sub-env: use sync, async or envpool"
            )
        fallback = per_sub_env_mode(env_id, bool(kwargs), allow_envpool)
        envs = open_vector_env(env_id, num_envs, fallback, **kwargs)
    try:
        check_spaces(env_id, envs.single_observation_space, envs.single_action_space)
    except EnvError:
        envs.close()
        raise
    transposed = channels_first(envs.single_observation_space)
    if transposed is not None:
        envs = gym.wrappers.vector.TransformObservation(
            envs, transposed[1], single_observation_space=transposed[0]
        )
    space = envs.single_action_space
    if isinstance(
        space, gym.spaces.Box
    ):  # one np.clip per step (Gymnasium's wrapper clips per sub-env)
        low, high = space.low, space.high
        return gym.wrappers.vector.TransformAction(envs, lambda a: np.clip(a, low, high))
    return envs


def open_vector_env(env_id: str, num_envs: int, mode: str, **kwargs: Any) -> gym.vector.VectorEnv:
    """The vector env of a resolved ``mode`` (``vectorization_mode``'s answer)."""
    with optional_dependencies(env_id, kwargs):
        if mode == "envpool":
            return make_envpool(env_id, num_envs, **kwargs)
        return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)


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


def episode_step_cap(env_id: str, max_t: int, env_kwargs: Mapping[str, Any]) -> int:
    """The most steps an episode of ``env_id`` can last under a cap of ``max_t``: its time limit
    (``max_episode_steps``) when that is shorter."""
    limit = env_kwargs.get(
        "max_episode_steps", gym.spec(env_id.rpartition(":")[2]).max_episode_steps
    )
    return min(max_t, int(limit)) if limit else max_t


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
    #: how observations are stored in rollouts: "uint8" (image frames) or "float32"
    obs_dtype: str = "float32"
    #: the env's own observation shape, when make_env transposed its frames to ``obs_shape``
    env_obs_shape: tuple[int, ...] | None = None

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
    obs_dtype = "uint8" if env.observation_space.dtype == np.uint8 else "float32"
    inner: Any = env
    while isinstance(inner, gym.Wrapper) and not isinstance(inner, ChannelsFirst):
        inner = inner.env
    env_shape = None
    if isinstance(inner, ChannelsFirst):
        env_shape = tuple(int(d) for d in inner.env.observation_space.shape or ())
    if isinstance(space, gym.spaces.Box):
        low, high = (tuple(float(v) for v in bound) for bound in (space.low, space.high))
        return Spaces(shape, int(space.shape[0]), True, low, high, obs_dtype, env_shape)
    assert isinstance(space, gym.spaces.Discrete)  # check_spaces let nothing else through
    return Spaces(shape, int(space.n), False, obs_dtype=obs_dtype, env_obs_shape=env_shape)
