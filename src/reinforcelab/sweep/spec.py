"""What a sweep is: a base preset, the parameters to vary, the seeds, the per-trial budget and the
objective; read from a TOML or YAML file (or built from CLI flags) and checked before anything runs.

    preset = "fast-cartpole"
    seeds = 10                      # or a list: [0, 1, 2]
    objective = "mean"              # or "mean-std" (the course's score)
    eval_episodes = 100             # held-out episodes per trained agent
    [base]                          # optional: fixed changes to the preset, for every trial
    gamma = 0.99
    [budget]
    total_env_steps = 300_000       # and/or n_episodes, seconds, stop_reward
    [parameters]
    lr = [0.03, 0.1, 0.3]           # grid values
    entropy_coef = {low = 0.0, high = 0.02}         # a search range (TPE)
    value_lr = {low = 1e-4, high = 1e-2, log = true}
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import tomllib

from ..config import PRESETS, TrainConfig, all_fields
from ..config import preset as get_preset
from ..envs.make import check_env_id
from ..errors import UserError

OBJECTIVES = ("mean", "mean-std")
METHODS = ("grid", "tpe")
BUDGET_KEYS = ("total_env_steps", "n_episodes", "seconds", "stop_reward")
# Fields a sweep sets itself: varying them would break the seed bookkeeping.
RESERVED_FIELDS = ("seed", "env_id", "mode")
# Held-out evaluations are seeded from here on: a root seed that no training run (seeds below it)
# uses, so their env-reset and action streams share nothing with training's, nor with the run
# folder's own 10-episode evaluation or early-stopping evaluations (both seeded by the run's seed).
EVAL_SEED_BASE = 10_000_000
DEFAULT_CONFIRM_SEED_START = 1000


class SweepSpecError(UserError, ValueError):
    """A sweep file or flag that cannot describe a sweep (one line, says what to fix)."""


@dataclass
class Parameter:
    """One varied TrainConfig field: either grid ``values`` or a range ``low``..``high``."""

    name: str
    values: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False

    @property
    def is_range(self) -> bool:
        return self.values is None

    def to_dict(self) -> Any:
        """The form a sweep file gives it (so spec.json reads back through ``spec_from_dict``)."""
        if self.values is None:
            return {"low": self.low, "high": self.high, "log": self.log}
        return list(self.values)


@dataclass
class SweepSpec:
    preset: str
    parameters: list[Parameter]
    seeds: list[int]
    confirm_seeds: list[int]
    env_id: str | None = None
    base: dict[str, Any] = field(default_factory=dict)
    budget: dict[str, float] = field(default_factory=dict)
    objective: str = "mean"
    eval_episodes: int = 100
    method: str = "grid"
    trials: int | None = None
    pruning: bool = False
    sampler_seed: int = 0

    # ------------------------------------------------------------------ configs
    def base_config(self) -> TrainConfig:
        """The preset with the sweep's fixed ``base`` changes (and its env): the base
        configuration."""
        config = get_preset(self.preset).replace(**self.base)
        return config.replace(env_id=self.env_id) if self.env_id else config

    def config_for(self, params: dict[str, Any], seed: int) -> TrainConfig:
        """The base preset with ``params`` applied and the budget's config fields, for one seed."""
        changes = {k: v for k, v in self.budget.items() if k in ("total_env_steps", "n_episodes")}
        changes.update(params)
        if "n_episodes" in changes or "total_env_steps" in changes:
            changes = {
                k: int(v) if k in ("total_env_steps", "n_episodes") else v
                for k, v in changes.items()
            }
        return self.base_config().replace(**changes, seed=seed)

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the grid values, in file order (grid method only)."""
        names = [p.name for p in self.parameters]
        return [
            dict(zip(names, combo))
            for combo in itertools.product(*(p.values or [] for p in self.parameters))
        ]

    def n_configs(self) -> int:
        return self.trials if self.method == "tpe" and self.trials else len(self.grid())

    def eval_seed(self, seed: int) -> int:
        """Seed of the held-out evaluation of the agent trained with ``seed``: distinct for every
        trial seed, and never a training seed."""
        return EVAL_SEED_BASE + seed * self.eval_episodes

    # ------------------------------------------------------------ serialising
    def to_dict(self) -> dict[str, Any]:
        d = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "parameters"
        }
        d["parameters"] = {p.name: p.to_dict() for p in self.parameters}
        return d


def load_spec(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a .toml, .yaml or .yml sweep file."""
    path = Path(path)
    if not path.is_file():
        raise SweepSpecError(f"sweep file {path} not found")
    text = path.read_text()
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise SweepSpecError(f"sweep file {path}: use a .toml, .yaml or .yml file")
    except SweepSpecError:
        raise
    except Exception as exc:  # TOMLDecodeError, JSONDecodeError, yaml.YAMLError
        detail = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise SweepSpecError(f"sweep file {path} does not parse: {detail}") from exc
    if not isinstance(data, dict):
        raise SweepSpecError(
            f"sweep file {path} must hold a mapping (keys such as preset, parameters, seeds)"
        )
    return data


SPEC_KEYS = (
    "preset",
    "env",
    "env_id",
    "base",
    "parameters",
    "seeds",
    "confirm_seeds",
    "budget",
    "objective",
    "eval_episodes",
    "method",
    "trials",
    "pruning",
    "sampler_seed",
)


def spec_from_dict(data: dict[str, Any]) -> SweepSpec:
    """Check a raw mapping (from a file, flags or a sweep folder's spec.json) and build the spec."""
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise SweepSpecError(f"unknown sweep key {unknown[0]!r}; keys: {', '.join(SPEC_KEYS)}")
    preset_name = data.get("preset")
    if preset_name not in PRESETS:
        raise SweepSpecError(f"preset must be one of {', '.join(PRESETS)}; got {preset_name!r}")
    env_id = data.get("env_id") or data.get("env")
    objective = data.get("objective", "mean")
    if objective not in OBJECTIVES:
        raise SweepSpecError(f"objective must be one of {', '.join(OBJECTIVES)}; got {objective!r}")
    seeds = _seed_list(data.get("seeds", 5), "seeds", 0)
    confirm = _seed_list(
        data.get("confirm_seeds", len(seeds)),
        "confirm_seeds",
        max(DEFAULT_CONFIRM_SEED_START, max(seeds) + 1),
    )
    if set(seeds) & set(confirm):
        raise SweepSpecError(
            "confirm_seeds must differ from seeds: the best configuration is confirmed on "
            f"fresh seeds (both have {sorted(set(seeds) & set(confirm))[0]})"
        )
    eval_episodes = _positive_int(data.get("eval_episodes", 100), "eval_episodes")
    budget = _budget(data.get("budget", {}))
    base = data.get("base") or {}
    if not isinstance(base, dict):
        raise SweepSpecError(
            f"base must be a mapping of config fields to fixed values; got {base!r}"
        )
    for name in base:
        _field_name(name, "base field")
    spec = SweepSpec(
        preset=preset_name,
        env_id=env_id,
        base=dict(base),
        parameters=[],
        seeds=seeds,
        confirm_seeds=confirm,
        budget=budget,
        objective=objective,
        eval_episodes=eval_episodes,
        pruning=bool(data.get("pruning", False)),
        sampler_seed=int(data.get("sampler_seed", 0)),
    )
    # EnvError names close matches
    check_env_id(_checked_config(spec.base_config, "the base preset").env_id)
    _checked_config(lambda: spec.config_for({}, seeds[0]), "budget")
    raw_params = data.get("parameters") or {}
    if not isinstance(raw_params, dict) or not raw_params:
        raise SweepSpecError(
            "parameters must name at least one config field to vary, e.g. lr = [0.03, 0.1]"
        )
    spec.parameters = [_parameter(name, value) for name, value in raw_params.items()]
    for p in spec.parameters:
        for value in p.values if p.values is not None else [p.low, p.high]:
            _checked_config(
                partial(spec.config_for, {p.name: value}, seeds[0]),
                f"parameter {p.name}={value!r}",
            )
    spec.method = data.get("method") or (
        "tpe" if any(p.is_range for p in spec.parameters) else "grid"
    )
    if spec.method not in METHODS:
        raise SweepSpecError(f"method must be one of {', '.join(METHODS)}; got {spec.method!r}")
    if spec.method == "grid" and any(p.is_range for p in spec.parameters):
        raise SweepSpecError(
            'a grid needs lists of values; ranges ({low, high}) need method = "tpe"'
        )
    if spec.method == "tpe":
        spec.trials = _positive_int(data.get("trials", 20), "trials")
    elif data.get("trials") is not None:
        raise SweepSpecError('trials is for method = "tpe"; a grid runs every combination')
    if spec.pruning and spec.method != "tpe":
        raise SweepSpecError(
            'pruning needs method = "tpe" (a grid runs every configuration in full)'
        )
    return spec


def _checked_config(build: Callable[[], TrainConfig], what: str) -> TrainConfig:
    try:
        return build()
    except (TypeError, ValueError) as exc:
        raise SweepSpecError(f"{what}: {exc}") from exc


def _seed_list(value: Any, name: str, start: int) -> list[int]:
    """A count n means n seeds from ``start``; a list is taken as is."""
    if isinstance(value, bool):
        raise SweepSpecError(f"{name} must be a count or a list of integers; got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise SweepSpecError(f"{name} must be at least 1; got {value}")
        return list(range(start, start + value))
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
    ):
        if len(set(value)) != len(value):
            raise SweepSpecError(f"{name} repeats a seed: {list(value)}")
        return list(value)
    raise SweepSpecError(
        f"{name} must be a count or a non-empty list of non-negative integers; got {value!r}"
    )


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SweepSpecError(f"{name} must be a positive integer; got {value!r}")
    return value


def _budget(raw: Any) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise SweepSpecError(f"budget must be a mapping of {', '.join(BUDGET_KEYS)}; got {raw!r}")
    for key, value in raw.items():
        if key not in BUDGET_KEYS:
            raise SweepSpecError(f"unknown budget key {key!r}; keys: {', '.join(BUDGET_KEYS)}")
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (key != "stop_reward" and value <= 0)
        ):
            raise SweepSpecError(f"budget {key} must be a positive number; got {value!r}")
    return dict(raw)


def _field_name(name: str, what: str) -> None:
    fields = set(all_fields()) - set(RESERVED_FIELDS)
    if name not in fields:
        raise SweepSpecError(f"unknown {what} {name!r}; config fields: {', '.join(sorted(fields))}")


def _parameter(name: str, raw: Any) -> Parameter:
    _field_name(name, "parameter")
    if isinstance(raw, list):
        if not raw:
            raise SweepSpecError(f"parameter {name} has an empty list of values")
        return Parameter(name, values=list(raw))
    if isinstance(raw, dict) and set(raw) <= {"low", "high", "log"} and {"low", "high"} <= set(raw):
        low, high, log = raw["low"], raw["high"], bool(raw.get("log", False))
        numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (low, high))
        if not numbers or not low < high:
            raise SweepSpecError(
                f"parameter {name}: a range needs numbers low < high; "
                f"got low={low!r}, high={high!r}"
            )
        if log and low <= 0:
            raise SweepSpecError(f"parameter {name}: a log range needs low > 0; got low={low!r}")
        kind = all_fields()[name].type
        if kind not in ("float", "int", "float | None", "int | None"):
            raise SweepSpecError(
                f"parameter {name} is not numeric: give a list of values instead of a range"
            )
        integer = kind.startswith("int")
        if integer and not (float(low).is_integer() and float(high).is_integer()):
            raise SweepSpecError(f"parameter {name} is an integer: its range needs integer bounds")
        return Parameter(
            name,
            low=int(low) if integer else float(low),
            high=int(high) if integer else float(high),
            log=log,
            integer=integer,
        )
    raise SweepSpecError(
        f"parameter {name} must be a list of values or a range {{low, high[, log]}}; got {raw!r}"
    )


def parse_param_flag(text: str) -> tuple[str, Any]:
    """``--param`` syntax: ``lr=0.03,0.1,0.3`` (values), ``lr=0.01..0.3`` or ``lr=0.01..0.3:log``
    (a range); values are JSON where they parse (``hidden_sizes=[16],[32,32]``)."""
    name, sep, rest = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name or not rest:
        raise SweepSpecError(
            f"--param expects NAME=V1,V2,... or NAME=LOW..HIGH[:log]; got {text!r}"
        )
    log = rest.endswith(":log")
    body = rest[: -len(":log")] if log else rest
    if ".." in body and "[" not in body:
        low, _, high = body.partition("..")
        try:
            return name, {"low": json.loads(low), "high": json.loads(high), "log": log}
        except json.JSONDecodeError as exc:
            raise SweepSpecError(
                f"--param {text!r}: a range needs numbers, e.g. lr=0.01..0.3:log"
            ) from exc
    return name, [_flag_value(v) for v in _split_top_level(rest)]


def _flag_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets: ``[16],[32,32]`` -> ``[16]``, ``[32,32]``."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p.strip() for p in parts + [current] if p.strip()]
