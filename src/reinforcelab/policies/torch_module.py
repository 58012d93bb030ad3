"""Any ``torch.nn.Module`` as a policy: for discrete actions it maps a batch of observations to
action logits, or to action probabilities (the course's ``Policy`` ends in ``F.softmax(x, dim=1)``);
for continuous actions to the mean of a Gaussian whose log standard deviation is its ``log_std``
parameter (see ``policies/gaussian.py``).

Whether a module returns probabilities is declared (``output="probs"``) or detected from one
forward pass (``"auto"``: non-negative rows summing to one). Log-probabilities are computed from
logits with log-softmax, and from probabilities as the log of probabilities clamped away from 0,
so a saturated policy gives a finite log-probability and no NaN gradient.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

import numpy as np
import torch
from torch import nn

from .base import CategoricalActor, GaussianActor, Normalizer, PolicyError, categorical_terms

OUTPUTS = ("auto", "logits", "probs")


class TorchPolicy:
    """A policy computed by ``module``; the module is trained in place.

    Args:
        module: maps observations [n, ...] (float32) to [n, n_actions] logits or probabilities
            (``distribution="categorical"``), or to [n, action_dim] Gaussian means (``"normal"``;
            the module's ``log_std`` parameter [action_dim] holds the log standard deviations).
        n_actions: the env's number of actions, or the size of its action vector.
        example_obs: observations [n, ...] for the detection and for checking the output shape.
        output: ``"logits"``, ``"probs"`` or ``"auto"`` (detect from ``example_obs``);
            ``"mean"`` for a Gaussian.
        distribution: ``"categorical"`` (discrete actions) or ``"normal"`` (continuous actions).
        init_kwargs: the constructor arguments, when known, so that ``load`` can rebuild the module.
    """

    kind = "torch"

    def __init__(
        self,
        module: nn.Module,
        n_actions: int,
        example_obs: np.ndarray,
        output: str = "auto",
        init_kwargs: dict[str, Any] | None = None,
        distribution: str = "categorical",
    ) -> None:
        if not isinstance(module, nn.Module):
            raise PolicyError(
                f"policy must be a torch.nn.Module (or its class); got {type(module).__name__}"
            )
        if output not in (*OUTPUTS, "mean"):
            raise PolicyError(f"policy_output must be one of {', '.join(OUTPUTS)}; got {output!r}")
        self.module = module
        self.distribution = distribution
        self.init_kwargs = init_kwargs if init_kwargs is not None else known_init_kwargs(module)
        name = module_name(module)
        try:
            with torch.no_grad():
                out = module(torch.as_tensor(example_obs, dtype=torch.float32, device=self.device))
        except Exception as exc:  # whatever the user's forward raises on the env's observations
            raise PolicyError(
                f"policy {name} does not fit the env's observations: its forward on a batch of "
                f"shape {tuple(example_obs.shape)} (observations of shape "
                f"{tuple(example_obs.shape[1:])}) raised {type(exc).__name__}: {first_line(exc)}"
            ) from exc
        what = "action means" if distribution == "normal" else "logits or probabilities"
        if not isinstance(out, torch.Tensor) or out.shape != (len(example_obs), n_actions):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise PolicyError(
                f"{name} maps a batch of {len(example_obs)} observations to {shape}; the env has "
                f"{n_actions} actions, so it must return ({len(example_obs)}, {n_actions}) {what}"
            )
        if distribution == "normal":
            log_std = getattr(module, "log_std", None)
            if not isinstance(log_std, torch.Tensor) or log_std.shape != (n_actions,):
                raise PolicyError(
                    f"{name} is used as a Gaussian policy for {n_actions} continuous actions, "
                    f"so it needs a log_std parameter of shape ({n_actions},) (see GaussianMLP)"
                )
            output = "mean"
        elif output == "auto":
            sums_to_one = bool(
                (out >= 0).all() & torch.allclose(out.sum(-1), torch.ones(len(out)), atol=1e-5)
            )
            output = "probs" if sums_to_one else "logits"
        self.output = output

    @property
    def device(self) -> torch.device:
        param = next(self.module.parameters(), None)
        return param.device if param is not None else torch.device("cpu")

    @property
    def log_std(self) -> torch.Tensor:
        """A Gaussian policy's log standard deviations [action_dim] (checked when it was built)."""
        log_std = getattr(self.module, "log_std")  # noqa: B009  (a module attribute mypy cannot see)
        assert isinstance(log_std, torch.Tensor)
        return log_std

    def log_probs(self, out: torch.Tensor) -> torch.Tensor:
        """log pi(.|s) [n, A] from the module's output."""
        if self.output == "probs":
            return torch.log(out.clamp_min(torch.finfo(out.dtype).tiny))
        return torch.log_softmax(out, dim=-1)

    def log_prob_and_entropy(
        self, out: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log pi(a|s) [n] of the actions taken, and the entropy of pi(.|s) [n]."""
        if self.distribution == "normal":
            log_std = self.log_std.expand_as(out)
            normal = torch.distributions.Normal(out, log_std.exp())
            return normal.log_prob(actions).sum(-1), normal.entropy().sum(-1)
        return categorical_terms(self.log_probs(out), actions)

    def actor(self, normalize: Normalizer | None = None) -> CategoricalActor | GaussianActor:
        """Acts through the live module (valid until the next update). Sampling needs logits only up
        to a constant, so a logits module's output is used as it is; probabilities are logged."""
        module, device, as_logits = self.module, self.device, self.output == "probs"

        def outputs(obs: np.ndarray) -> np.ndarray:
            x = np.asarray(obs if normalize is None else normalize(obs), dtype=np.float32)
            with torch.inference_mode():
                out = module(torch.from_numpy(np.ascontiguousarray(x)).to(device))
                if as_logits:  # a non-finite probability stays so (the log would clamp -inf)
                    out = torch.where(out.isfinite(), self.log_probs(out), out)
                return out.cpu().numpy()

        if self.distribution == "normal":
            std = self.log_std.detach().exp().cpu().numpy()
            return GaussianActor(outputs, std)
        return CategoricalActor(lambda obs: outputs(obs).T)

    def state_dict(self) -> dict[str, np.ndarray]:
        return numpy_state(self.module)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        load_numpy_state(self.module, state)

    def torch_module(self, device: str = "cpu") -> nn.Module:
        return self.module.to(device)

    def after_torch_step(self) -> None:
        pass  # the module is the policy

    def spec(self) -> dict[str, Any]:
        cls = type(self.module)
        return {
            "kind": "torch",
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "kwargs": self.init_kwargs,
            "output": self.output,
            "distribution": self.distribution,
        }

    def describe(self) -> str:
        return str(self.module)


class TorchValue:
    """A torch value baseline (observations -> V(s) [n]), e.g. the CNN for image observations;
    saved under ``value.`` like the numpy MLP baseline."""

    kind = "torch"

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def state_dict(self) -> dict[str, np.ndarray]:
        return numpy_state(self.module)

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        load_numpy_state(self.module, state)


def module_name(module: nn.Module) -> str:
    """The module as torch prints it when that fits on a line (``Linear(in_features=5, ...)``),
    else its class name."""
    text = repr(module)
    return text if "\n" not in text and len(text) <= 80 else type(module).__name__


def first_line(exc: BaseException) -> str:
    # a message's own text (str() of a KeyError is its repr, with the line breaks escaped)
    text = (exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)).strip()
    return text.splitlines()[0] if text else "(no message)"


def numpy_state(module: nn.Module) -> dict[str, np.ndarray]:
    """A module's state_dict as numpy arrays (what model.safetensors holds)."""
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def load_numpy_state(module: nn.Module, state: dict[str, np.ndarray]) -> None:
    module.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})


def known_init_kwargs(module: nn.Module) -> dict[str, Any] | None:
    """The constructor arguments of ``module`` when it kept each of them as an attribute of the same
    name (``self.obs_dim = obs_dim``) and they are JSON values; otherwise None (unknown)."""
    try:
        params = list(inspect.signature(type(module).__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return None
    kwargs = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if hasattr(module, p.name) and _is_json(getattr(module, p.name)):
            kwargs[p.name] = _plain(getattr(module, p.name))
        elif p.default is p.empty:
            return None
    return kwargs


def _is_json(value: Any) -> bool:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json(v) for v in value)
    return isinstance(value, dict) and all(
        isinstance(k, str) and _is_json(v) for k, v in value.items()
    )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def import_policy_class(path: str) -> type[nn.Module]:
    """The class named ``module:qualname``; a PolicyError that says what to do when it cannot be
    imported (a class defined in a notebook or script lives in ``__main__``)."""
    module_name, _, qualname = path.partition(":")
    hint = "pass the module to load it into, e.g. reinforcelab.load(path, policy=Policy(4, 2, 16))"
    try:
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError:
            if os.getcwd() in sys.path:
                raise
            # a module beside the user's run, as `python -m` would find it
            sys.path.insert(0, os.getcwd())
            try:
                obj = importlib.import_module(module_name)
            finally:
                sys.path.remove(os.getcwd())
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise PolicyError(f"cannot import the policy class {path} ({exc}); {hint}") from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise PolicyError(f"{path} is not a torch.nn.Module class; {hint}")
    return obj
