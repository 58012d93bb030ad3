"""The user-facing agent: build, learn, predict, evaluate, save and load."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .artifacts.checkpoint import (
    CheckpointError,
    load_state,
    read_config,
    read_weights,
    save_checkpoint,
)
from .config import TrainConfig
from .config import preset as get_preset
from .errors import OptionError
from .evaluation import EvalResult, evaluate_policy
from .make_env import make_env, make_vector_env, space_summary
from .nets import MLP, ObsNorm
from .parts import AgentParts
from .policies.base import Actor, Policy
from .policies.mlp import MLPPolicy


def check_count(name: str, value: int) -> None:
    """A count (episodes, steps, frames per second, ...): an integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise OptionError(f"{name} must be an integer >= 1; got {value!r}")


def resolve_device(device: str) -> str:
    """``auto``: CUDA when an NVIDIA driver is loaded and torch can use it, else the CPU. The driver
    check comes first so that a CPU-only machine never pays torch's import just to ask."""
    if device == "auto":
        if not os.path.exists("/proc/driver/nvidia/version"):
            return "cpu"
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if device != "cuda" and not device.startswith("cuda:"):
        raise OptionError(f"device must be auto, cpu or cuda[:N]; got {device!r}")
    import torch

    if not torch.cuda.is_available():
        raise OptionError(
            f"device {device!r} was asked for, but torch finds no CUDA GPU; use device='cpu'"
        )
    return device


class Reinforce:
    """A REINFORCE agent: the built-in MLP categorical policy, or your own torch module.

    Reads like Stable-Baselines3::

        agent = Reinforce("CartPole-v1", preset="course-cartpole", seed=0)
        agent.learn()
        agent.predict(obs, deterministic=True)
        agent.save("runs/cp0")
        agent = Reinforce.load("runs/cp0")

    Args:
        env_id: Gymnasium environment id (defaults to the preset's or the config's).
        preset: name of a preset in :data:`reinforcelab.config.PRESETS`.
        config: a full :class:`TrainConfig` (instead of ``preset``).
        device: where updates run: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``. Course
            mode and the built-in MLP's acting always run on the CPU.
        policy: your own policy, a ``torch.nn.Module`` mapping a batch of observations to action
            logits or probabilities (or Gaussian means, with a ``log_std`` parameter, for
            continuous actions): an instance, or its class (built with ``policy_kwargs``). A module
            with the course's ``act(state)`` needs no changes. Default: the built-in numpy MLP with
            the config's ``hidden_sizes``; a Gaussian MLP for continuous actions; a CNN for image
            observations.
        policy_kwargs: constructor arguments when ``policy`` is a class.
        policy_output: ``"auto"`` (detected), ``"logits"`` or ``"probs"`` (ends in a softmax).
        **overrides: any :class:`TrainConfig` field, e.g. ``seed=0``, ``lr=5e-3``.
    """

    def __init__(
        self,
        env_id: str | None = None,
        preset: str | None = None,
        config: TrainConfig | None = None,
        device: str = "auto",
        policy: Any = None,
        policy_kwargs: dict[str, Any] | None = None,
        policy_output: str = "auto",
        **overrides: Any,
    ) -> None:
        if preset is not None and config is not None:
            raise OptionError("give either preset or config, not both")
        base = config if config is not None else (get_preset(preset) if preset else TrainConfig())
        if env_id is not None:
            overrides["env_id"] = env_id
        self.config = base.replace(**overrides) if overrides else base
        env = make_env(self.config.env_id, **self.config.env_kwargs)
        self.obs_shape, self.n_actions, self.continuous = space_summary(env)
        self.obs_dim = int(np.prod(self.obs_shape))
        self.images = len(self.obs_shape) == 3  # (C, H, W) frames: a CNN
        example_obs = np.stack([env.observation_space.sample() for _ in range(8)]).astype(
            np.float32
        )
        env.close()
        cfg = self.config
        # Course mode acts and updates one short episode at a time: the GPU would only add transfers.
        self.device = "cpu" if cfg.mode == "course" else resolve_device(device)
        seed = cfg.seed
        # Separate streams for the initial weights and for predict(); training has its own.
        init_rng = np.random.default_rng(None if seed is None else [seed, 2])
        distribution = "normal" if self.continuous else "categorical"
        if policy is None and self.continuous:  # the built-in Gaussian policy (torch)
            from .policies.gaussian import GaussianMLP

            policy_kwargs = {
                "obs_dim": self.obs_dim,
                "action_dim": self.n_actions,
                "hidden_sizes": list(cfg.hidden_sizes),
                **(policy_kwargs or {}),
            }
            policy = GaussianMLP
        if policy is None and self.images:  # the built-in CNN (torch)
            from .policies.cnn import CNNPolicy

            policy_kwargs = {
                "obs_shape": list(self.obs_shape),
                "n_actions": self.n_actions,
                "hidden": cfg.hidden_sizes[0],
                **(policy_kwargs or {}),
            }
            policy = CNNPolicy
        if policy is None:
            if policy_kwargs:
                raise OptionError("policy_kwargs needs a policy class (policy=MyPolicy)")
            built: Policy = MLPPolicy.random(
                self.obs_dim, cfg.hidden_sizes, self.n_actions, init_rng
            )
        else:
            built = torch_policy(
                policy,
                policy_kwargs,
                policy_output,
                self.n_actions,
                example_obs,
                seed,
                distribution,
            )
        value = None
        if cfg.baseline == "value":
            value = (
                cnn_value(self.obs_shape, cfg.hidden_sizes[0], seed)
                if self.images
                else MLP.random(self.obs_dim, cfg.hidden_sizes, 1, init_rng)
            )
        if cfg.normalize_obs and self.images:
            raise OptionError(
                "normalize_obs applies to vector observations; the CNN scales image pixels to [0, 1]"
            )
        self.parts = AgentParts(built, value, ObsNorm(self.obs_dim) if cfg.normalize_obs else None)
        self.predict_rng = np.random.default_rng(None if seed is None else [seed, 3])
        self.trainer = None  # set by learn(); holds optimizer and RNG state between calls

    @property
    def policy(self) -> Policy:
        return self.parts.policy

    @property
    def value(self) -> Any:
        return self.parts.value

    @property
    def obs_norm(self) -> ObsNorm | None:
        return self.parts.obs_norm

    # ----------------------------------------------------------------- acting
    def observation_normalizer(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """The current input normalisation (a frozen snapshot), or None without one."""
        return self.parts.normalizer()

    def predict(self, obs: np.ndarray, deterministic: bool = False) -> int | np.ndarray:
        """The action for one observation (an int; a float32 vector for continuous actions) or for
        a batch of them (an array). With ``deterministic``: the most probable action, or the mean."""
        obs = np.asarray(obs, dtype=np.float32)
        single = obs.shape == self.obs_shape
        if not single and obs.shape[1:] != self.obs_shape:
            shape = ", ".join(map(str, self.obs_shape))
            raise OptionError(
                f"expected an observation of shape ({shape}) or a batch (n, {shape}); got "
                f"{tuple(obs.shape)}"
            )
        actions = self.actor().act_batch(
            obs[None] if single else obs, self.predict_rng, deterministic
        )
        if not single:
            return actions
        return actions[0] if self.continuous else int(actions[0])

    def actor(self) -> Actor:
        """The current policy as something that picks actions (take a new one after updates)."""
        return self.parts.actor()

    # -------------------------------------------------------------- training
    def learn(self, callbacks: Sequence[Any] = (), **limits: Any) -> Reinforce:
        """Train with the configured mode. ``limits`` override ``n_episodes`` / ``total_env_steps``.

        A later call continues where the last one stopped. With ``lr_schedule="linear"`` the
        learning rates fall over the budget in effect, so a loop of growing budgets restarts the
        decay each time: train in one call, with a callback to look in on the way.
        Ctrl-C stops training cleanly: the agent keeps everything learned so far.
        """
        if limits:
            self.config = self.config.replace(**limits)
        if self.trainer is None:
            self.trainer = self.make_trainer()
        else:
            self.trainer.config = self.config
        self.trainer.run(list(callbacks))
        return self

    def make_trainer(self):
        """The training loop of the configured mode, holding the optimizer and RNG state."""
        from .trainers import make_trainer

        return make_trainer(self.config, self.parts, self.device)

    # ------------------------------------------------------------ evaluation
    def evaluate(
        self,
        n_episodes: int | None = None,
        deterministic: bool = False,
        seed: int | None = None,
        max_t: int | None = None,
    ) -> EvalResult:
        """The course protocol: ``n_episodes`` (default: config.eval_episodes), sampled actions unless
        ``deterministic``, each capped at ``max_t`` (default: config.max_t), seeded by ``seed``."""
        n_episodes = self.config.eval_episodes if n_episodes is None else n_episodes
        max_t = self.config.max_t if max_t is None else max_t
        check_count("n_episodes", n_episodes)
        check_count("max_t", max_t)
        actor = self.actor()
        rng = np.random.default_rng(seed)
        envs = make_vector_env(self.config.env_id, n_episodes, **self.config.env_kwargs)
        try:
            return evaluate_policy(
                lambda obs: actor.act_batch(obs, rng, deterministic),
                envs,
                self.config.env_id,
                max_t,
                seed,
                deterministic,
            )
        finally:
            envs.close()

    # --------------------------------------------------------- save and load
    def weights(self) -> dict[str, np.ndarray]:
        """Every saved array by its name in model.safetensors."""
        return self.parts.weights()

    def config_json(self) -> dict[str, Any]:
        return {
            "library_version": __version__,
            "env_id": self.config.env_id,
            "observation_shape": list(self.obs_shape),
            "n_actions": self.n_actions,
            "policy": self.policy.spec(),
            "config": self.config.to_dict(),
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (weights only, no pickle) into ``folder``."""
        save_checkpoint(Path(folder), self.config_json(), self.weights())
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", policy: Any = None) -> Reinforce:
        """Rebuild an agent from a folder holding ``config.json`` and ``model.safetensors``.

        A torch policy is rebuilt from the class and arguments config.json names; pass ``policy``
        (a module instance of the same shapes) when its class cannot be imported here (one defined
        in a notebook) or its arguments are unknown.
        """
        folder = Path(folder)
        data = read_config(folder)
        try:
            config = TrainConfig.from_dict(data["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f'{folder / "config.json"} has an invalid "config" entry: {exc}'
            ) from exc
        weights = read_weights(folder)
        spec = data.get("policy") or {"kind": "mlp"}
        policy_kwargs, expected_by = None, "its config.json"
        if policy is not None:
            expected_by = f"the policy passed ({type(policy).__name__})"
        elif spec.get("kind") == "torch":
            policy, policy_kwargs = rebuild_policy(spec, folder)
        output = spec.get("output", "auto") if spec.get("kind") == "torch" else "auto"
        output = "auto" if output == "mean" else output
        agent = cls(
            config=config,
            device=device,
            policy=policy,
            policy_kwargs=policy_kwargs,
            policy_output=output,
        )
        if list(agent.obs_shape) != data.get("observation_shape") or agent.n_actions != data.get(
            "n_actions"
        ):
            raise CheckpointError(
                f"{folder} was saved for observations {data.get('observation_shape')} and "
                f"{data.get('n_actions')} actions, but {config.env_id} now has {list(agent.obs_shape)} and "
                f"{agent.n_actions}"
            )
        for name, part in agent.parts.named().items():
            load_state(
                part,
                weights,
                name,
                folder / "model.safetensors",
                expected_by if name == "policy" else "its config.json",
            )
        return agent

    @classmethod
    def load_folder_or_pickle(
        cls,
        folder: str | Path,
        allow_pickle: bool = False,
        device: str = "auto",
        policy: Any = None,
    ) -> Reinforce:
        """``load`` a downloaded Hub folder; with ``allow_pickle``, a course-notebook pickle instead
        when the folder has no safetensors model."""
        from .artifacts.course_pickle import load_course_pickle
        from .artifacts.hub import find_pickles

        folder = Path(folder)
        if (folder / "model.safetensors").is_file() or not allow_pickle:
            return cls.load(folder, device=device, policy=policy)
        pickles = find_pickles(folder)
        if not pickles:
            raise CheckpointError(f"{folder} has neither model.safetensors nor a pickled model")
        config, layers = load_course_pickle(folder, pickles[0])
        agent = cls(config=config, device=device)
        if [w.shape for w, _ in agent.policy.layers] != [tuple(w.shape) for w, _ in layers]:
            raise CheckpointError(f"{pickles[0]} layer shapes do not fit {config.env_id}")
        agent.policy.load_state_dict(
            MLP([(np.asarray(w), np.asarray(b)) for w, b in layers]).state_dict()
        )
        return agent


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

    from .policies.torch_module import PolicyError, TorchPolicy

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


def cnn_value(obs_shape: tuple[int, ...], hidden: int, seed: int | None) -> Any:
    """The CNN value baseline for image observations (seeded like the policy's torch modules)."""
    import torch

    from .policies.cnn import CNNValue
    from .policies.torch_module import TorchValue

    if seed is not None:
        torch.manual_seed(seed + 1)  # not the policy's stream: the two nets start different
    return TorchValue(CNNValue(obs_shape, hidden))


def rebuild_policy(spec: dict[str, Any], folder: Path) -> tuple[type, dict[str, Any]]:
    """The module class config.json names, and its saved constructor arguments."""
    from .policies.torch_module import PolicyError, import_policy_class

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
