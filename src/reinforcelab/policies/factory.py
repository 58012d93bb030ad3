"""What an agent is made of (its policy, and the value baseline and observation statistics when
used), and the factories that pick each for an env's spaces, as Stable-Baselines3's policies pick
a distribution for an action space:

- discrete actions, vector observations: the built-in numpy MLP (categorical);
- continuous actions (a 1-D Box), vector observations: the built-in numpy Gaussian MLP
  (``GaussianPolicy``);
- image observations (uint8 (C, H, W); the env factory transposes (H, W, C) ones): the CNN
  (``CNNPolicy``, torch), with a Gaussian head for continuous actions (``CNNGaussianPolicy``), or
  with ``cnn_shared`` one CNN with a policy and a value head (``CNNActorCritic``, discrete actions);
- or the user's own ``torch.nn.Module`` (``TorchPolicy`` wraps it), for any of these spaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._version import __version__
from ..config import TrainConfig
from ..envs.make import Spaces
from ..errors import OptionError
from .base import Actor, Normalizer, Policy
from .mlp import MLP, GaussianPolicy, MLPPolicy
from .obs_norm import ObsNorm

if TYPE_CHECKING:
    from .torch_module import TorchValue


@dataclass
class AgentParts:
    """The trained parts of an agent, and the spaces they were built for. The agent, the training
    loops and the savers all pass this one object around."""

    spaces: Spaces
    policy: Policy
    value: MLP | TorchValue | None = None
    obs_norm: ObsNorm | None = None
    #: the policy's module is also the value baseline (``CNNActorCritic``, ``cnn_shared``)
    shared_body: bool = False

    def named(self) -> dict[str, Any]:
        """The saved parts by name (their weights are ``NAME.*`` in model.safetensors)."""
        parts = {"policy": self.policy, "value": self.value, "obs_norm": self.obs_norm}
        return {name: part for name, part in parts.items() if part is not None}

    def weights(self) -> dict[str, np.ndarray]:
        """Every saved array by its name in model.safetensors."""
        return {
            f"{name}.{k}": v
            for name, part in self.named().items()
            for k, v in part.state_dict().items()
        }

    def normalizer(self) -> Normalizer | None:
        """The current input normalisation (a frozen snapshot), or None without one."""
        return self.obs_norm.frozen() if self.obs_norm is not None else None

    def actor(self) -> Actor:
        """The policy acting on raw observations (take a new one after every update)."""
        return self.policy.actor(self.normalizer())

    def model_config(self, config: TrainConfig) -> dict[str, Any]:
        """What config.json holds: how to rebuild these parts, and the config that trains them."""
        return {
            "library_version": __version__,
            "env_id": config.env_id,
            "observation_shape": list(self.spaces.obs_shape),
            "n_actions": self.spaces.n_actions,
            "policy": self.policy.spec(),
            "config": config.to_dict(),
        }


def build_parts(
    config: TrainConfig,
    spaces: Spaces,
    example_obs: np.ndarray,
    policy: Any = None,
    policy_kwargs: dict[str, Any] | None = None,
    policy_output: str = "auto",
) -> AgentParts:
    """The parts for ``config`` on an env with ``spaces``; ``policy``: the user's module or class
    (default: the built-in policy for the spaces). ``example_obs`` [n, ...] checks a torch
    module's output shape. Initial weights come from the config's seed."""
    seed = config.seed
    # The weights' own stream (training and predict() have theirs).
    init_rng = np.random.default_rng(None if seed is None else [seed, 2])
    distribution = "normal" if spaces.continuous else "categorical"
    shared = config.cnn_shared
    if shared and not spaces.images:
        raise OptionError("cnn_shared applies to image observations (the built-in CNN)")
    if shared and spaces.continuous:
        raise OptionError("cnn_shared applies to discrete actions (continuous: separate CNNs)")
    if policy is None and spaces.images:
        from .cnn import CNNActorCritic, CNNGaussianPolicy, CNNPolicy

        check_cnn_input(spaces)
        actions = "action_dim" if spaces.continuous else "n_actions"
        policy_kwargs = {
            "obs_shape": list(spaces.obs_shape),
            actions: spaces.n_actions,
            "hidden": config.hidden_sizes[0],
            "channels": list(config.cnn_channels),
            **({"downsample": True} if config.cnn_downsample else {}),
            **(policy_kwargs or {}),
        }
        separate = CNNGaussianPolicy if spaces.continuous else CNNPolicy
        policy = CNNActorCritic if shared else separate
    built: Policy
    if policy is None:
        if policy_kwargs:
            raise OptionError("policy_kwargs needs a policy class (policy=MyPolicy)")
        if spaces.continuous:
            built = GaussianPolicy.random(
                spaces.obs_dim,
                config.hidden_sizes,
                np.array(spaces.action_low),
                np.array(spaces.action_high),
                config.log_std_init,
                init_rng,
            )
        else:
            built = MLPPolicy.random(
                spaces.obs_dim, config.hidden_sizes, spaces.n_actions, init_rng
            )
    else:
        built = torch_policy(
            policy, policy_kwargs, policy_output, spaces.n_actions, example_obs, seed, distribution
        )
    if shared and not hasattr(getattr(built, "module", None), "logits_and_value"):
        raise OptionError(
            "cnn_shared needs a module with a value head (logits_and_value), e.g. CNNActorCritic"
        )
    value: MLP | TorchValue | None = None
    if shared:
        pass  # the policy's value head is the baseline
    elif config.mode.baseline == "value" and spaces.images:
        value = cnn_value(spaces.obs_shape, config.hidden_sizes[0], config.cnn_channels, seed)
    elif config.mode.baseline == "value" and isinstance(built, GaussianPolicy):  # its Tanh kind
        value = MLP.orthogonal(spaces.obs_dim, config.hidden_sizes, 1, init_rng, out_gain=1.0)
    elif config.mode.baseline == "value":
        value = MLP.random(spaces.obs_dim, config.hidden_sizes, 1, init_rng)
    normalize = config.mode.normalize_obs
    if normalize and spaces.images:
        raise OptionError(
            "normalize_obs applies to vector observations; the CNN scales image pixels to [0, 1]"
        )
    obs_norm = ObsNorm(spaces.obs_dim) if normalize else None
    return AgentParts(spaces, built, value, obs_norm, shared_body=shared)


def check_cnn_input(spaces: Spaces) -> None:
    """An OptionError unless the built-in CNN can take the env's images."""
    from .cnn import MIN_SIDE

    channels, height, width = spaces.obs_shape
    if spaces.obs_dtype != "uint8":
        raise OptionError(
            f"the built-in CNN takes uint8 images; these observations are {spaces.obs_shape} "
            f"{spaces.obs_dtype}: pass your own policy (a torch module) for them"
        )
    if min(height, width) < MIN_SIDE:
        raise OptionError(
            f"the built-in CNN takes images of at least {MIN_SIDE}x{MIN_SIDE} pixels; these are "
            f"{height}x{width} ({channels} channels): pass your own policy (a torch module)"
        )


def torch_policy(
    policy: Any,
    policy_kwargs: dict[str, Any] | None,
    output: str,
    n_actions: int,
    example_obs: np.ndarray,
    seed: int | None,
    distribution: str = "categorical",
) -> Policy:
    """A TorchPolicy from a module instance, or from a module class and its keyword arguments (built
    after seeding torch with ``seed``, so its initial weights are reproducible)."""
    import torch

    from .torch_module import PolicyError, TorchPolicy

    if isinstance(policy, type):
        if not issubclass(policy, torch.nn.Module):
            raise PolicyError(
                f"policy must be a torch.nn.Module class or instance; got {policy.__name__}"
            )
        if seed is not None:
            torch.manual_seed(seed)
        kwargs = dict(policy_kwargs or {})
        try:
            module = policy(**kwargs)
        except TypeError as exc:
            raise PolicyError(
                f"cannot build {policy.__name__}(**{kwargs}): {exc}; pass its arguments as "
                "policy_kwargs"
            ) from exc
        return TorchPolicy(
            module, n_actions, example_obs, output, init_kwargs=kwargs, distribution=distribution
        )
    if policy_kwargs:
        raise PolicyError("policy_kwargs only apply when policy is a class, not an instance")
    return TorchPolicy(policy, n_actions, example_obs, output, distribution=distribution)


def cnn_value(
    obs_shape: tuple[int, ...], hidden: int, channels: tuple[int, ...], seed: int | None
) -> TorchValue:
    """The CNN value baseline for image observations (seeded like the policy's torch modules)."""
    import torch

    from .cnn import CNNValue
    from .torch_module import TorchValue

    if seed is not None:
        torch.manual_seed(seed + 1)  # not the policy's stream: the two nets start different
    return TorchValue(CNNValue(obs_shape, hidden, channels))


def policy_class_from_spec(spec: dict[str, Any], folder: Path) -> tuple[type, dict[str, Any]]:
    """The module class a config.json's ``"policy"`` names, and its saved constructor arguments."""
    from ..artifacts.checkpoint import CheckpointError
    from .torch_module import PolicyError, import_policy_class

    try:
        cls = import_policy_class(spec["class"])
    except PolicyError as exc:
        raise CheckpointError(f"{folder}: {exc}") from None
    if spec.get("kwargs") is None:
        raise CheckpointError(
            f"{folder}: the arguments of {spec['class']} are unknown (the module did not keep "
            "them); pass the module to load into, e.g. reinforcelab.load(path, "
            f"policy={cls.__name__}(...))"
        )
    return cls, spec["kwargs"]
