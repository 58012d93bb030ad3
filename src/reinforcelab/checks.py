"""One rule per kind of value, shared by the config, the Python API and the command line.

A rule checks a value and returns it in its canonical form (a tuple of widths, a float) or raises a
:class:`ConfigError` naming the argument: the Python API names the field (``lr``), the command line
the option (``--lr``), and both print the same one line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import OptionError


class ConfigError(OptionError):
    """A value outside its allowed range; ``field`` names the argument (a config field or
    option)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


class Rule:
    """What values an argument takes; ``check`` returns the value in canonical form."""

    def check(self, name: str, value: Any) -> Any:
        raise NotImplementedError

    def __call__(self, name: str, value: Any) -> Any:
        return self.check(name, value)


@dataclass(frozen=True)
class Count(Rule):
    """An integer of at least ``low`` (episodes, steps, sub-envs, ...)."""

    low: int = 1

    def check(self, name: str, value: Any) -> int:
        if not is_int(value) or value < self.low:
            raise ConfigError(name, f"must be an integer >= {self.low}; got {value!r}")
        return int(value)


@dataclass(frozen=True)
class Number(Rule):
    """A finite number in a range: ``low``/``high`` bounds, each inclusive unless ``open_low``."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False

    @property
    def allowed(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in [{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {self.low:g}"
        return ""

    def check(self, name: str, value: Any) -> float:
        ok = is_number(value) and math.isfinite(value)
        if ok and self.low is not None:
            ok = value > self.low if self.open_low else value >= self.low
        if ok and self.high is not None:
            ok = value <= self.high
        if not ok:
            allowed = f" {self.allowed}" if self.allowed else ""
            raise ConfigError(name, f"must be a finite number{allowed}; got {value!r}")
        return float(value)


@dataclass(frozen=True)
class Choice(Rule):
    """One of a fixed set of words."""

    options: tuple[str, ...]

    def check(self, name: str, value: Any) -> str:
        if value not in self.options:
            raise ConfigError(name, f"must be one of {', '.join(self.options)}; got {value!r}")
        return str(value)


@dataclass(frozen=True)
class Flag(Rule):
    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(name, f"must be true or false; got {value!r}")
        return bool(value)


@dataclass(frozen=True)
class OrNone(Rule):
    """``None`` (a documented default such as "no clipping"), or a value of ``rule``."""

    rule: Rule

    def check(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.rule.check(name, value)
        except ConfigError as exc:
            raise ConfigError(
                name, f"{exc.problem.split('; got')[0]} (or none); got {value!r}"
            ) from None


@dataclass(frozen=True)
class Widths(Rule):
    """One or more positive layer widths, as a tuple."""

    def check(self, name: str, value: Any) -> tuple[int, ...]:
        widths = value if isinstance(value, (list, tuple)) else [value]
        if not widths or not all(is_int(h) and h >= 1 for h in widths):
            raise ConfigError(name, f"must be one or more positive integer widths; got {value!r}")
        return tuple(int(h) for h in widths)


@dataclass(frozen=True)
class Text(Rule):
    """A non-empty string (an env id)."""

    what: str

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ConfigError(name, f"must be {self.what}; got {value!r}")
        return value


@dataclass(frozen=True)
class Mapping(Rule):
    """Keyword arguments: a dict with string keys."""

    def check(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(name, f"must be a mapping of keyword arguments; got {value!r}")
        return dict(value)


def choices(literal: Any) -> tuple[str, ...]:
    """The words of a ``Literal[...]`` type, so allowed values are written once."""
    from typing import get_args

    return tuple(get_args(literal))


COUNT = Count(1)


def check_counts(**values: int | None) -> None:
    """Check several optional counts at once (``None`` means "not given")."""
    for name, value in values.items():
        if value is not None:
            COUNT.check(name, value)


__all__: Sequence[str] = [
    "COUNT",
    "Choice",
    "ConfigError",
    "Count",
    "Flag",
    "Mapping",
    "Number",
    "OrNone",
    "Rule",
    "Text",
    "Widths",
    "check_counts",
    "choices",
]
