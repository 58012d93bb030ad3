"""The user-facing agent: learn, predict, evaluate, save and load."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .artifacts.checkpoint import (
    CheckpointError,
    load_state,
    read_config,
    read_weights,
    save_checkpoint,
)
from .checks import COUNT, DEVICE, FLAG, SEED, Choice, Instance, Mapping, OrNone, arguments
from .config import PRESETS, TrainConfig
from .config import preset as get_preset
from .engines import resolve_device
from .envs.make import make_env, spaces_of, to_channels_first
from .errors import OptionError
from .playback import EvalResult, check_results_fit, evaluate
from .policies.base import Actor, Policy
from .policies.factory import build_parts, policy_class_from_spec
from .policies.mlp import MLP
from .policies.obs_norm import ObsNorm

if TYPE_CHECKING:  # loops (and what training needs) are imported when an agent trains
    from .callbacks import Callback
    from .loops import TrainingLoop


class Reinforce:
    """A REINFORCE agent: the built-in policy for the env's spaces, or your own torch module.

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
        device: where fast-mode updates run: ``"auto"`` (CUDA when present), ``"cpu"`` or
            ``"cuda"``. Course mode and the built-in MLP's acting always run on the CPU.
        policy: your own policy, a ``torch.nn.Module`` mapping a batch of observations to action
            logits or probabilities (or Gaussian means, with a ``log_std`` parameter, for
            continuous actions): an instance, or its class (built with ``policy_kwargs``). A module
            with the course's ``act(state)`` needs no changes. Default: the built-in numpy MLP with
            the config's ``hidden_sizes`` for discrete actions; a Gaussian MLP for continuous
            actions; a CNN for image observations.
        policy_kwargs: constructor arguments when ``policy`` is a class.
        policy_output: ``"auto"`` (detected), ``"logits"`` or ``"probs"`` (ends in a softmax).
        **overrides: any :class:`TrainConfig` field by name, e.g. ``seed=0``, ``lr=5e-3``,
            ``num_envs=64``.
    """

    @arguments(
        preset=OrNone(Choice(tuple(PRESETS))),
        config=OrNone(Instance(TrainConfig, "a TrainConfig, e.g. preset(name).replace(lr=...)")),
        device=DEVICE,
        policy_kwargs=OrNone(Mapping()),
        policy_output=Choice(("auto", "logits", "probs")),
    )
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
        self.device = resolve_device(device)  # course mode trains on the CPU whatever this says
        base = config if config is not None else (get_preset(preset) if preset else TrainConfig())
        if env_id is not None:
            overrides["env_id"] = env_id
        self.config = base.replace(**overrides) if overrides else base
        check_results_fit(self.config.eval_episodes)  # now, not after training
        env = make_env(self.config.env_id, **self.config.env_kwargs)
        try:
            spaces = spaces_of(env)
            example_obs = np.stack([env.observation_space.sample() for _ in range(8)])
        finally:
            env.close()
        self.parts = build_parts(
            self.config,
            spaces,
            example_obs.astype(np.float32),
            policy,
            policy_kwargs,
            policy_output,
        )
        seed = self.config.seed
        self.predict_rng = np.random.default_rng(None if seed is None else [seed, 3])
        self.loop: TrainingLoop | None = None  # built by learn(); keeps optimizer and RNG state

    @property
    def policy(self) -> Policy:
        return self.parts.policy

    @property
    def value(self) -> MLP | Any | None:
        return self.parts.value

    @property
    def obs_norm(self) -> ObsNorm | None:
        return self.parts.obs_norm

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return self.parts.spaces.obs_shape

    @property
    def n_actions(self) -> int:
        """The number of discrete actions, or the size of the action vector."""
        return self.parts.spaces.n_actions

    @property
    def continuous(self) -> bool:
        return self.parts.spaces.continuous

    # ----------------------------------------------------------------- acting
    def predict(self, obs: np.ndarray, deterministic: bool = False) -> int | np.ndarray:
        """The action for one observation (an int; a float32 vector for continuous actions) or for
        a batch of them (an array). With ``deterministic``: the most probable action, or the
        mean. Image observations may also come as the env gives them, e.g. (H, W, C)."""
        obs = to_channels_first(np.asarray(obs, dtype=np.float32), self.parts.spaces)
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
    def training_loop(self) -> TrainingLoop:
        """The loop of the configured mode, built on first use (it opens the training envs and,
        for a torch engine, imports torch); it holds the optimizer and RNG state."""
        if self.loop is None:
            from .loops import make_loop

            self.loop = make_loop(self.config, self.parts, self.device)
        return self.loop

    def learn(self, callbacks: Sequence[Callback] = (), **budget: int) -> Reinforce:
        """Train with the configured mode; ``budget`` sets the mode's budget (``n_episodes`` in
        course mode, ``total_env_steps`` in fast mode).

        A later call continues where the last one stopped. With ``lr_schedule="linear"`` the
        learning rates fall over the budget in effect, so a loop of growing budgets restarts the
        decay each time: train in one call, with a callback to look in on the way.
        Ctrl-C stops training cleanly: the agent keeps everything learned so far.
        """
        mode = self.config.mode
        for name in budget:
            if name != mode.budget_field:
                raise OptionError(
                    f"learn() takes the budget of {mode.name} mode, {mode.budget_field}; got {name}"
                )
        if budget:
            self.config = self.config.replace(**budget)
        self.training_loop().run(list(callbacks), self.config.mode.budget)
        return self

    # ------------------------------------------------------------ evaluation
    @arguments(n_episodes=OrNone(COUNT), deterministic=FLAG, seed=OrNone(SEED), max_t=OrNone(COUNT))
    def evaluate(
        self,
        n_episodes: int | None = None,
        deterministic: bool = False,
        seed: int | None = None,
        max_t: int | None = None,
    ) -> EvalResult:
        """The course protocol: ``n_episodes`` (default: config.eval_episodes), sampled actions
        unless ``deterministic``, each capped at ``max_t`` (default: config.max_t), seeded by
        ``seed``."""
        n_episodes = self.config.eval_episodes if n_episodes is None else n_episodes
        max_t = self.config.max_t if max_t is None else max_t
        return evaluate(self, n_episodes, max_t, seed, deterministic)

    # --------------------------------------------------------- save and load
    def weights(self) -> dict[str, np.ndarray]:
        """Every saved array by its name in model.safetensors."""
        return self.parts.weights()

    def save(self, folder: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (weights only, no pickle) into
        ``folder``."""
        save_checkpoint(Path(folder), self.parts.model_config(self.config), self.weights())
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
            policy, policy_kwargs = policy_class_from_spec(spec, folder)
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
                f"{data.get('n_actions')} actions, but {config.env_id} now has "
                f"{list(agent.obs_shape)} and {agent.n_actions}"
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
