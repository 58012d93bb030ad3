"""The command line's options, each declared with its rule from ``checks.py``: typer parses the
text, the rule checks the value (the same rule the Python API applies to the same argument), and a
refused value is one line naming the option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from .checks import ConfigError, Rule
from .errors import UserError


class BadValue(UserError):
    """An option value its rule refused, raised while typer parses it. Not a ValueError on
    purpose: typer would wrap one in a message of its own."""


@dataclass(frozen=True)
class Checked:
    """Typer's parser for one option: the text converted (``int``, ``float``, a path), then
    checked under the option's name by its rule, the one the Python API applies too. Text that
    does not convert is checked as it is, so ``abc`` and ``0`` get the same message."""

    name: str
    rule: Rule
    convert: Callable[[str], Any] = str

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = self.convert(value)
            except ValueError:
                pass
        try:
            return self.rule.check(self.name, value)
        except ConfigError as exc:
            raise BadValue(str(exc)) from None


def to_path(text: str) -> Path:
    if not text:
        raise ValueError("no path")  # Path("") would be the current folder
    return Path(text)


#: How the help shows the value an option takes, by the function that converts its text.
METAVARS: dict[Callable[[str], Any], str] = {
    int: "INTEGER",
    float: "NUMBER",
    str: "TEXT",
    to_path: "PATH",
}


def option(
    name: str,
    rule: Rule,
    help: str,
    convert: Callable[[str], Any] = str,
    metavar: str | None = None,
) -> Any:
    """A typer option whose value ``rule`` checks."""
    return typer.Option(
        name,
        parser=Checked(name, rule, convert),
        help=help,
        metavar=metavar or METAVARS[convert],
    )


def argument(name: str, rule: Rule, help: str, convert: Callable[[str], Any] = str) -> Any:
    """A typer argument whose value ``rule`` checks; ``name`` is how help and errors call it."""
    return typer.Argument(parser=Checked(name, rule, convert), help=help, metavar=name)
