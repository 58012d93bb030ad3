"""One rule per kind of value, shared by the config, the Python API and the command line.

A rule checks a value and returns it in its canonical form (a tuple of widths, a float) or raises a
:class:`ConfigError` naming the argument: the Python API names the field (``lr``), the command line
the option (``--lr``), and both print the same one line.
"""

from __future__ import annotations

import errno
import functools
import inspect
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

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
    """A non-empty string (an env id); with ``pattern``, one the whole of which matches it (a
    device name, a Hub repo id)."""

    what: str
    pattern: str | None = None

    def check(self, name: str, value: Any) -> str:
        if (
            not isinstance(value, str)
            or not value
            or (self.pattern is not None and re.fullmatch(self.pattern, value) is None)
        ):
            raise ConfigError(name, f"must be {self.what}; got {value!r}")
        return value


@dataclass(frozen=True)
class Mapping(Rule):
    """Keyword arguments: a dict with string keys."""

    def check(self, name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(name, f"must be a mapping of keyword arguments; got {value!r}")
        return dict(value)


@dataclass(frozen=True)
class Instance(Rule):
    """An object of a class of ours (a config, a callback); ``what`` says how to make one."""

    kind: type
    what: str

    def check(self, name: str, value: Any) -> Any:
        if not isinstance(value, self.kind):
            raise ConfigError(name, f"must be {self.what}; got {type(value).__name__}")
        return value


@dataclass(frozen=True)
class Items(Rule):
    """A list or tuple of values of ``rule``, as a list."""

    rule: Rule

    def check(self, name: str, value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(name, f"must be a list; got {type(value).__name__}")
        return [self.rule.check(name, item) for item in value]


@dataclass(frozen=True)
class Seeds(Rule):
    """Training seeds: how many (an integer n >= 1: seeds 0 to n - 1) or which (distinct integers
    >= 0)."""

    def check(self, name: str, value: Any) -> int | list[int]:
        if is_int(value) and value >= 1:
            return int(value)
        if (
            isinstance(value, (list, tuple))
            and value
            and all(is_int(seed) and seed >= 0 for seed in value)
            and len(set(value)) == len(value)
        ):
            return [int(seed) for seed in value]
        raise ConfigError(
            name, f"must be a count or a list of distinct integers >= 0 (0,1,2); got {value!r}"
        )


def as_path(name: str, value: Any) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ConfigError(name, f"must be a path; got {value!r}")
    return Path(value)


def describe_os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


@dataclass(frozen=True)
class Existing(Rule):
    """A path that exists and can be read: a folder (``folder=True``), a file (``False``) or
    either (``None``). Reading is tried (a folder listed, a file opened), as for writing."""

    folder: bool | None = None

    def check(self, name: str, value: Any) -> Path:
        path = as_path(name, value)
        try:
            if not path.exists():
                raise ConfigError(name, f"{path} does not exist")
            is_dir = path.is_dir()
            if self.folder is not None and is_dir != self.folder:
                is_a, expected = ("folder", "file") if is_dir else ("file", "folder")
                raise ConfigError(name, f"{path} is a {is_a}, not a {expected}")
            if is_dir:
                with os.scandir(path) as entries:
                    next(entries, None)
            else:
                with open(path, "rb"):
                    pass
        except OSError as exc:
            raise ConfigError(name, f"{path} cannot be read ({describe_os_error(exc)})") from None
        return path


@dataclass(frozen=True)
class Writable(Rule):
    """A folder (``folder=True``) or file that reinforcelab creates or replaces.

    Found out by trying rather than from permission bits, which root ignores: a file is made and
    removed in the nearest folder that exists on the way, so a read-only or immutable folder, a
    read-only file system or a file where a folder should be are refused before any work is done.
    """

    folder: bool

    def check(self, name: str, value: Any) -> Path:
        path = place = as_path(name, value)
        try:
            if path.exists() and path.is_dir() != self.folder:
                is_a, expected = ("folder", "file") if path.is_dir() else ("file", "folder")
                raise ConfigError(name, f"{path} is a {is_a}, not a {expected}")
            # the folder that will hold the new entries: the folder itself, or the file's
            if not (self.folder and path.is_dir()):
                place = path.parent
            while not place.exists() and place != place.parent:
                place = place.parent
            if not place.is_dir():
                raise ConfigError(
                    name, f"{path} cannot be created: {place} is a file, not a folder"
                )
            try_writing_in(place)
        except OSError as exc:
            where = "" if place == path else f": {place} is not writable"
            raise ConfigError(
                name, f"{path} cannot be written{where} ({describe_os_error(exc)})"
            ) from None
        return path


def try_writing_in(folder: Path) -> None:
    """Create a file in ``folder`` and remove it (an OSError if that fails). Where the file system
    can, the file is unnamed (O_TMPFILE), so a process killed meanwhile leaves nothing behind;
    elsewhere a hidden file is made and unlinked."""
    tmpfile = getattr(os, "O_TMPFILE", 0)
    if tmpfile:
        try:
            os.close(os.open(folder, tmpfile | os.O_WRONLY, 0o600))
            return
        except OSError as exc:
            # not supported by this file system (or, EISDIR, by this kernel)
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR):
                raise
    fd, probe = tempfile.mkstemp(prefix=".reinforcelab-write-test-", dir=folder)
    os.close(fd)
    os.unlink(probe)


def choices(literal: Any) -> tuple[str, ...]:
    """The words of a ``Literal[...]`` type, so allowed values are written once."""
    from typing import get_args

    return tuple(get_args(literal))


COUNT = Count(1)
#: A seed: any integer >= 0 (numpy's SeedSequence takes no negative one).
SEED = Count(0)
FINITE = Number()
FLAG = Flag()
#: where a torch engine computes (course mode and the numpy engine always use the CPU)
DEVICE = Text("auto, cpu or cuda[:N]", pattern=r"auto|cpu|cuda(:\d+)?")
WRITABLE_FOLDER = Writable(folder=True)
WRITABLE_FILE = Writable(folder=False)
EXISTING_FOLDER = Existing(folder=True)
EXISTING_FILE = Existing(folder=False)

P = ParamSpec("P")
R = TypeVar("R")


def arguments(**rules: Rule) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Check the named arguments of the decorated function by their rules on every call, before
    its body runs, and pass their canonical values on (a ``Path``, a float). Arguments left at
    their defaults are not checked. ``func.rules`` lists the rules."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(func)
        unknown = set(rules) - set(signature.parameters)
        assert not unknown, f"{func.__qualname__} has no argument {unknown}"

        @functools.wraps(func)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            bound = signature.bind(*args, **kwargs)
            for name, value in bound.arguments.items():
                if name in rules:
                    bound.arguments[name] = rules[name].check(name, value)
            return func(*bound.args, **bound.kwargs)

        checked.rules = rules  # type: ignore[attr-defined]
        return checked

    return decorate


__all__: Sequence[str] = [
    "COUNT",
    "DEVICE",
    "EXISTING_FILE",
    "EXISTING_FOLDER",
    "FINITE",
    "FLAG",
    "SEED",
    "WRITABLE_FILE",
    "WRITABLE_FOLDER",
    "Choice",
    "ConfigError",
    "Count",
    "Existing",
    "Flag",
    "Instance",
    "Items",
    "Mapping",
    "Number",
    "OrNone",
    "Rule",
    "Seeds",
    "Text",
    "Widths",
    "Writable",
    "arguments",
    "choices",
]
