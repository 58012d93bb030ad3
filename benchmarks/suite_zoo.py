"""The suite's peers: Stable-Baselines3 PPO and A2C with rl-zoo3's hyperparameters, as data.

The numbers are rl-baselines3-zoo's ``hyperparams/ppo.yml`` and ``hyperparams/a2c.yml`` (revision
in ``ZOO_REVISION``), written out per env in the zoo's own terms; every setting the zoo leaves out
is SB3's default. How the zoo applies them (rl_zoo3's ``exp_manager.py``), and so how this suite
does:

- ``n_envs`` copies of the env in a ``DummyVecEnv`` (1 when not given), each in a ``Monitor``;
- ``normalize: true`` wraps them in ``VecNormalize`` with its defaults (observations and rewards),
  its ``gamma`` set to the algorithm's ``gamma`` when the entry gives one;
- ``lin_X`` is a schedule falling linearly from X to 0 over ``n_timesteps``;
- ``n_timesteps`` is the training budget;
- an env the zoo does not list takes the file's ``default`` entry (``n_timesteps`` 1e6, SB3's
  defaults for the rest): Pixelcopter-PLE-v0 here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ZOO_REVISION = (
    "DLR-RM/rl-baselines3-zoo at 22e3ff2 (2026-04-23); hyperparams/ppo.yml and a2c.yml last "
    "changed in eec15dc (2026-04-01)"
)

# The zoo's settings for these envs, key for key (policy: 'MlpPolicy' everywhere).
_PPO: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(
        n_envs=8, n_timesteps=1e5, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
        n_epochs=20, ent_coef=0.0, learning_rate="lin_0.001", clip_range="lin_0.2",
    ),
    "Acrobot-v1": dict(
        normalize=True, n_envs=16, n_timesteps=1e6, n_steps=256, gae_lambda=0.94, gamma=0.99,
        n_epochs=4, ent_coef=0.0,
    ),
    "LunarLander-v3": dict(
        n_envs=16, n_timesteps=1e6, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999,
        n_epochs=4, ent_coef=0.01,
    ),
    "LunarLanderContinuous-v3": dict(
        n_envs=16, n_timesteps=1e6, n_steps=1024, batch_size=64, gae_lambda=0.98, gamma=0.999,
        n_epochs=4, ent_coef=0.01,
    ),
    "Pendulum-v1": dict(
        n_envs=4, n_timesteps=1e5, n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10,
        ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4,
    ),
}  # fmt: skip

# A2C's tuned continuous-control entries share everything but n_envs, n_timesteps and gamma.
_A2C_CONTINUOUS = dict(
    normalize=True, ent_coef=0.0, max_grad_norm=0.5, n_steps=8, gae_lambda=0.9, vf_coef=0.4,
    use_rms_prop=True, normalize_advantage=False, learning_rate="lin_7e-4", use_sde=True,
    policy_kwargs=dict(log_std_init=-2, ortho_init=False),
)  # fmt: skip
_A2C: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(n_envs=8, n_timesteps=5e5, ent_coef=0.0),
    "Acrobot-v1": dict(normalize=True, n_envs=16, n_timesteps=5e5, ent_coef=0.0),
    "LunarLander-v3": dict(
        n_envs=8, n_timesteps=2e5, gamma=0.995, n_steps=5, learning_rate="lin_0.00083",
        ent_coef=0.00001,
    ),
    "LunarLanderContinuous-v3": dict(n_envs=4, n_timesteps=5e6, gamma=0.99, **_A2C_CONTINUOUS),
    "Pendulum-v1": dict(n_envs=8, n_timesteps=1e6, gamma=0.9, **_A2C_CONTINUOUS),
}  # fmt: skip

#: The zoo's ``default`` entry, for envs it does not list.
_DEFAULT: dict[str, Any] = dict(n_timesteps=1e6)

ZOO: dict[str, dict[str, dict[str, Any]]] = {"ppo": _PPO, "a2c": _A2C}


@dataclass
class ZooSetup:
    """What the suite builds for one algorithm on one env."""

    algo: str
    env_id: str
    in_zoo: bool  # False: the zoo's default entry (SB3's defaults)
    entry: dict[str, Any]  # the zoo's entry as written
    n_envs: int
    n_timesteps: int
    normalize: dict[str, Any] | None  # VecNormalize's keyword arguments, or None: no VecNormalize
    model_kwargs: dict[str, Any] = field(default_factory=dict)  # for PPO(...) / A2C(...)

    def settings(self) -> dict[str, Any]:
        """The entry, and the VecNormalize arguments it means (a run's result records these)."""
        return {**self.entry, "normalize_kwargs": self.normalize}

    def describe(self) -> str:
        """The entry in one line, as the zoo writes it (for the docs' settings table)."""
        entry = ", ".join(f"{k} {zoo_text(v)}" for k, v in self.entry.items())
        if not self.in_zoo:
            return f"not in the zoo; its default entry: {entry} (n_envs 1, SB3's defaults)"
        return entry


def zoo_text(value: Any) -> str:
    """A value as the zoo's file writes it (1e6, not 1000000.0)."""
    if isinstance(value, float) and value >= 1000:
        return f"{value:.0e}".replace("e+0", "e")
    if isinstance(value, dict):
        return "dict(" + ", ".join(f"{k}={v}" for k, v in value.items()) + ")"
    return str(value)


def zoo_setup(algo: str, env_id: str) -> ZooSetup:
    """The zoo's settings of ``algo`` ("ppo" or "a2c") on ``env_id``, turned into SB3 arguments."""
    in_zoo = env_id in ZOO[algo]
    entry = dict(ZOO[algo][env_id] if in_zoo else _DEFAULT)
    kwargs = dict(entry)
    n_envs = int(kwargs.pop("n_envs", 1))
    n_timesteps = int(kwargs.pop("n_timesteps"))
    normalize = None
    if kwargs.pop("normalize", False):
        normalize = {"gamma": kwargs["gamma"]} if "gamma" in kwargs else {}
    for name in ("learning_rate", "clip_range"):
        if isinstance(kwargs.get(name), str):
            kwargs[name] = linear_schedule(float(kwargs[name].removeprefix("lin_")))
    if "policy_kwargs" in kwargs:
        kwargs["policy_kwargs"] = dict(kwargs["policy_kwargs"])
    return ZooSetup(algo, env_id, in_zoo, entry, n_envs, n_timesteps, normalize, kwargs)


def linear_schedule(start: float) -> Callable[[float], float]:
    """SB3's schedules take the fraction of training left (1 at the start, 0 at the end)."""

    def schedule(progress_remaining: float) -> float:
        return progress_remaining * start

    return schedule
