"""The command line run in-process, for tests: ``invoke`` it and check a one-line user error."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from reinforcelab.cli import app

runner = CliRunner()


def invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    """Run ``reinforcelab ARGS...`` (each argument passed through ``str``)."""
    return runner.invoke(app, [str(a) for a in args], env=env)


def one_line_error(result: Result) -> str:
    """The ``error: ...`` line of a user error: exit code 2 and nothing else printed."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]
