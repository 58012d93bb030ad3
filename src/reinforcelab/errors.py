"""The one base class of the problems a user can fix: a bad argument, env, file, policy or network.

The command line reports a ``UserError`` as one line with exit code 2; any other exception is a bug
and keeps its traceback. Each subclass also derives from the builtin it specialises (``ValueError``,
``RuntimeError``), so ``except ValueError`` in user code keeps working.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; its message says how."""


class OptionError(UserError, ValueError):
    """An argument outside its allowed values."""
