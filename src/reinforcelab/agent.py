"""The user-facing agent: build, learn, predict, evaluate, save and load."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .artifacts.checkpoint import CheckpointError, load_state, read_config, read_weights, save_checkpoint
from .config import TrainConfig, preset as get_preset
from .evaluation import EvalResult, evaluate_policy
from .make_env import make_env, space_summary
from .obs_norm import RunningObsNorm
from .policy import CategoricalPolicy, NumpyActor, ValueBaseline


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Reinforce:
    """A REINFORCE agent with a categorical MLP policy.

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
        device: ``"auto"`` (CUDA for fast mode when present), ``"cpu"`` or ``"cuda"``.
        **overrides: any :class:`TrainConfig` field, e.g. ``seed=0``, ``lr=5e-3``.
    """

    def __init__(
        self,
        env_id: str | None = None,
        preset: str | None = None,
        config: TrainConfig | None = None,
        device: str = "auto",
        **overrides: Any,
    ) -> None:
        if preset is not None and config is not None:
            raise ValueError("give either preset or config, not both")
        base = config if config is not None else (get_preset(preset) if preset else TrainConfig())
        if env_id is not None:
            overrides["env_id"] = env_id
        self.config = base.replace(**overrides) if overrides else base
        env = make_env(self.config.env_id, **self.config.env_kwargs)
        self.obs_dim, self.n_actions = space_summary(env)
        env.close()
        # Course mode acts one observation at a time in numpy; the GPU would only add transfers.
        self.device = torch.device("cpu") if self.config.mode == "course" else resolve_device(device)
        if self.config.seed is not None:
            torch.manual_seed(self.config.seed)
        cfg = self.config
        self.policy = CategoricalPolicy(self.obs_dim, self.n_actions, cfg.hidden_sizes).to(self.device)
        self.value = ValueBaseline(self.obs_dim, cfg.hidden_sizes).to(self.device) if cfg.baseline == "value" else None
        self.obs_norm = RunningObsNorm(self.obs_dim).to(self.device) if cfg.normalize_obs else None
        self.trainer = None  # set by learn(); holds optimizer and RNG state between calls

    # ----------------------------------------------------------------- acting
    def policy_input(self, obs: torch.Tensor) -> torch.Tensor:
        return self.obs_norm(obs) if self.obs_norm is not None else obs

    def predict(self, obs: np.ndarray, deterministic: bool = False) -> int | np.ndarray:
        """The action for one observation (an int) or for a batch of them (an int64 array)."""
        obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        single = obs_t.ndim == 1
        if obs_t.shape[-1] != self.obs_dim or obs_t.ndim > 2:
            raise ValueError(f"expected an observation of shape ({self.obs_dim},) or a batch "
                             f"(n, {self.obs_dim}); got {tuple(obs_t.shape)}")
        actions = self.policy.act(self.policy_input(obs_t.reshape(-1, self.obs_dim)), deterministic)
        actions = actions.cpu().numpy()
        return int(actions[0]) if single else actions

    def numpy_actor(self) -> NumpyActor:
        """A fast single-observation actor holding a snapshot of the current weights."""
        return NumpyActor(self.policy, None if self.obs_norm is None else self.obs_norm.numpy_fn())

    # -------------------------------------------------------------- training
    def learn(self, callbacks: Sequence[Any] = (), **limits: Any) -> "Reinforce":
        """Train with the configured mode. ``limits`` override ``n_episodes`` / ``total_env_steps``.

        Ctrl-C stops training cleanly: the agent keeps everything learned so far.
        """
        from .algorithm import make_trainer

        if limits:
            self.config = self.config.replace(**limits)
        if self.trainer is None:
            self.trainer = make_trainer(self)
        else:
            self.trainer.config = self.config
        self.trainer.run(list(callbacks))
        return self

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
        n_episodes = n_episodes or self.config.eval_episodes
        max_t = max_t or self.config.max_t
        actor = self.numpy_actor()
        rng = np.random.default_rng(seed)
        env = make_env(self.config.env_id, **self.config.env_kwargs)
        try:
            return evaluate_policy(lambda o: actor.act(o, rng, deterministic), env, self.config.env_id,
                                   n_episodes, max_t, seed, deterministic)
        finally:
            env.close()

    # --------------------------------------------------------- save and load
    def modules(self) -> dict[str, torch.nn.Module]:
        """The agent's saved parts by name: the policy, and the baseline and statistics if used."""
        parts = {"policy": self.policy, "value": self.value, "obs_norm": self.obs_norm}
        return {name: m for name, m in parts.items() if m is not None}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f"{name}.{k}": v for name, m in self.modules().items() for k, v in m.state_dict().items()}

    def config_json(self) -> dict[str, Any]:
        return {
            "library_version": __version__,
            "env_id": self.config.env_id,
            "observation_shape": [self.obs_dim],
            "n_actions": self.n_actions,
            "config": self.config.to_dict(),
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (weights only, no pickle) into ``folder``."""
        save_checkpoint(Path(folder), self.config_json(), self.tensors())
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto") -> "Reinforce":
        """Rebuild an agent from a folder holding ``config.json`` and ``model.safetensors``."""
        folder = Path(folder)
        data = read_config(folder)
        try:
            config = TrainConfig.from_dict(data["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{folder / 'config.json'} has an invalid \"config\" entry: {exc}") from exc
        tensors = read_weights(folder)
        agent = cls(config=config, device=device)
        if [agent.obs_dim] != data.get("observation_shape") or agent.n_actions != data.get("n_actions"):
            raise CheckpointError(
                f"{folder} was saved for observations {data.get('observation_shape')} and "
                f"{data.get('n_actions')} actions, but {config.env_id} now has [{agent.obs_dim}] and {agent.n_actions}")
        for name, module in agent.modules().items():
            load_state(module, tensors, name, folder / "model.safetensors")
        return agent

    @classmethod
    def load_folder_or_pickle(cls, folder: str | Path, allow_pickle: bool = False, device: str = "auto") -> "Reinforce":
        """``load`` a downloaded Hub folder; with ``allow_pickle``, a course-notebook pickle instead
        when the folder has no safetensors model."""
        from .artifacts.course_pickle import load_course_pickle
        from .artifacts.hub import find_pickles

        folder = Path(folder)
        if (folder / "model.safetensors").is_file() or not allow_pickle:
            return cls.load(folder, device=device)
        pickles = find_pickles(folder)
        if not pickles:
            raise CheckpointError(f"{folder} has neither model.safetensors nor a pickled model")
        config, layers = load_course_pickle(folder, pickles[0])
        agent = cls(config=config, device=device)
        linears = [m for m in agent.policy.net if isinstance(m, torch.nn.Linear)]
        if [tuple(l.weight.shape) for l in linears] != [tuple(w.shape) for w, _ in layers]:
            raise CheckpointError(f"{pickles[0]} layer shapes do not fit {config.env_id}")
        with torch.no_grad():
            for linear, (w, b) in zip(linears, layers):
                linear.weight.copy_(w)
                linear.bias.copy_(b)
        return agent

