"""Help and tables read the same at any width and when piped: plain text, lines that fit the
terminal, words never cut (option names, choices, preset names, paths), and nothing eaten as markup
("reinforcelab[tensorboard]" stays whole)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from cli_helpers import invoke

import reinforcelab
from reinforcelab.cli import app
from reinforcelab.config import MODES, PRESETS, TrainConfig

WIDTHS = (40, 60, 80, 200)
GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)
ANSI = re.compile(r"\x1b\[")


def words(text: str) -> str:
    return " ".join(text.split())


def has_token(text: str, token: str) -> bool:
    """``token`` appears whole: not as part of a longer name, and not split across lines."""
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", text) is not None


def assert_fits(text: str, width: int) -> None:
    """Every line fits ``width``, unless it is one word that is wider on its own (never cut)."""
    for line in text.splitlines():
        assert len(line) <= width or len(line.split()) == 1, f"{len(line)} > {width}: {line!r}"


def assert_readable_help(name: str, text: str, width: int) -> None:
    command = GROUP.commands[name]
    assert "…" not in text and not ANSI.search(text), text
    assert_fits(text, width)
    assert words(command.help) in words(text), f"{name}: the description is not whole"
    for param in command.params:
        for token in [*param.opts, *param.secondary_opts]:
            if token.startswith("-"):
                assert has_token(text, token), f"{name}: {token} is cut or missing"
        if getattr(param, "help", None):
            assert words(param.help) in words(text), f"{name} {param.name}: help not whole"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", COMMANDS)
def test_help_is_whole_at_any_width(name, width):
    result = invoke(name, "--help", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    assert_readable_help(name, result.output, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_command_list_is_whole_at_any_width(width):
    output = invoke("--help", env={"COLUMNS": str(width)}).output
    assert_fits(output, width)
    assert all(has_token(output, name) for name in COMMANDS)


def test_bracketed_words_in_help_are_not_taken_for_markup():
    assert "needs reinforcelab[tensorboard]." in words(invoke("train", "--help").output)
    assert "needs reinforcelab[ray]." in words(invoke("sweep", "--help").output)


def test_choices_are_listed_whole():
    text = invoke("train", "--help", env={"COLUMNS": "40"}).output
    assert all(has_token(text, name) for name in PRESETS)


def assert_readable_presets(text: str, width: int) -> None:
    assert "…" not in text and not ANSI.search(text), text
    assert_fits(text, width)
    for mode, mode_class in MODES.items():
        assert f"{mode} mode" in text
        for name, config in PRESETS.items():
            if isinstance(config.mode, mode_class):
                assert has_token(text, name), f"{name} is cut at width {width}"
                for field in TrainConfig.field_names(mode_class):
                    if field not in ("seed", "env_kwargs"):
                        assert has_token(text, field)


@pytest.mark.parametrize("width", WIDTHS)
def test_presets_are_whole_at_any_width(width):
    result = invoke("presets", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    assert_readable_presets(result.output, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_preset_value_is_shown_whole(width):
    from reinforcelab.cli import preset_cell

    text = invoke("presets", env={"COLUMNS": str(width)}).output
    for name, config in PRESETS.items():
        for field in TrainConfig.field_names(config.mode):
            if field not in ("seed", "env_kwargs"):
                assert has_token(text, preset_cell(name, field)), (name, field)


def test_presets_side_by_side_when_there_is_room():
    wide = invoke("presets", env={"COLUMNS": "200"}).output
    headers = [line.split() for line in wide.splitlines() if line.startswith("field")]
    fast = sum(name.startswith("fast-") for name in reinforcelab.PRESETS)
    assert [sum(name.startswith("fast-") for name in h) for h in headers] == [0, fast]  # one table
    narrow = invoke("presets", env={"COLUMNS": "40"}).output
    assert "fast-lunarlander-continuous:" in narrow  # a list per preset where no table fits


@pytest.mark.parametrize("columns", [None, "60"])
def test_piped_output_of_a_real_process_is_plain_and_whole(columns):
    """stdout a pipe, as in `reinforcelab train --help | less`: no colours, nothing cut (without
    COLUMNS a pipe is taken as 80 columns wide)."""
    env = {**os.environ, "PYTHONPATH": str(Path(reinforcelab.__file__).parents[1])}
    env.pop("COLUMNS", None)
    if columns:
        env["COLUMNS"] = columns

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "_reinforcelab_launcher", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    width = int(columns or 80)
    for name in ("train", "sweep"):
        assert_readable_help(name, run(name, "--help"), width)
    assert_readable_presets(run("presets"), width)
