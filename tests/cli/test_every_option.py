"""Every command-line option and argument, and every argument of ``Reinforce``, ``train_run`` and
``evaluate``, refuses out-of-range and malformed values with one line naming it, by one rule per
kind of value (``checks.py``) shared by the command line and the Python API.

The options are read from the typer app and the arguments from the signatures, so a new one
cannot escape: one without a rule fails here, and so does a rule of a kind this file has no bad
values for. The bad values are made per kind of rule, below.
"""

from __future__ import annotations

import inspect
import math
import typing
from pathlib import Path
from typing import Any

import pytest
import typer.main
from cli_helpers import invoke, one_line_error

from reinforcelab import PRESETS, Reinforce, preset
from reinforcelab.checks import (
    Choice,
    Count,
    Existing,
    Flag,
    Instance,
    Items,
    Mapping,
    Number,
    OrNone,
    Rule,
    Seeds,
    Text,
    Widths,
    Writable,
)
from reinforcelab.cli import app
from reinforcelab.cli_options import Checked
from reinforcelab.config import MODES, TrainConfig, all_fields
from reinforcelab.errors import UserError
from reinforcelab.run import train_run

# ------------------------------------------------------------------- bad values, kind by kind
#: placeholders, made real in each test: a regular file, and a folder
FILE, FOLDER = "{tmp}/regular-file", "{tmp}"


def bad_texts(rule: Rule) -> list[str]:
    """Command-line text that ``rule`` must refuse: out of range and malformed."""
    if isinstance(rule, OrNone):
        return bad_texts(rule.rule)
    if isinstance(rule, Count):
        return [str(rule.low - 1), "-7", "2.5", "ten", "", "nan", "1e3"]
    if isinstance(rule, Number):
        texts = ["nan", "inf", "-inf", "abc", "", "1,5"]
        texts += [] if rule.low is None else [str(rule.low - 1)]
        texts += [] if rule.high is None else [str(rule.high + 1)]
        return texts + ([str(rule.low)] if rule.open_low else [])
    if isinstance(rule, Choice):
        return ["bogus", "", rule.options[0].upper() + "X", rule.options[0] + " "]
    if isinstance(rule, Text):
        return ["", "x y z"] if rule.pattern else [""]
    if isinstance(rule, Widths):
        return ["16,x", "0", "16,-4", ",", "1.5", ""]
    if isinstance(rule, Mapping):
        return ["{", "[1, 2]", "3", '"text"', "{1: 2}"]
    if isinstance(rule, Seeds):
        return ["0", "a,b", "1,1", "2,-1", "", "1.5"]
    if isinstance(rule, Writable):
        wrong = FILE if rule.folder else FOLDER
        return [f"{FILE}/out", "/sys/reinforcelab-test", "/proc/reinforcelab-test/x", "", wrong]
    if isinstance(rule, Existing):
        wrong = [] if rule.folder is None else [FILE if rule.folder else FOLDER]
        return ["{tmp}/missing", f"{FILE}/x", "", *wrong]
    raise AssertionError(f"no bad command-line values for {rule!r}: add them here")


def bad_values(rule: Rule) -> list[Any]:
    """Python values ``rule`` must refuse."""
    if isinstance(rule, OrNone):
        return [v for v in bad_values(rule.rule) if v is not None]
    if isinstance(rule, Count):
        return [rule.low - 1, -7, 2.5, "3", True, None, math.nan]
    if isinstance(rule, Number):
        values = [math.nan, math.inf, -math.inf, "0.1", True, None]
        values += [] if rule.low is None else [rule.low - 1]
        values += [] if rule.high is None else [rule.high + 1]
        return values + ([rule.low] if rule.open_low else [])
    if isinstance(rule, Choice):
        return ["bogus", "", 3, None]
    if isinstance(rule, Flag):
        return ["yes", 1, None]
    if isinstance(rule, Text):
        return ["", 3, None, *(["x y z"] if rule.pattern else [])]
    if isinstance(rule, Widths):
        return [[], [0], [16, -1], "16", [1.5], None]
    if isinstance(rule, Mapping):
        return [[1], "x", 3, {1: 2}]
    if isinstance(rule, Instance):
        return [{"lr": 1}, "course-cartpole", 3, None]
    if isinstance(rule, Items):
        return [5, "x", *([v] for v in bad_values(rule.rule) if v is not None)]
    if isinstance(rule, Writable):
        return [f"{FILE}/out", "/sys/reinforcelab-test", "", 5, FILE if rule.folder else FOLDER]
    raise AssertionError(f"no bad Python values for {rule!r}: add them here")


# ------------------------------------------------------------------------- the command line
GROUP = typer.main.get_command(app)
#: a valid command line of each command; the value under test is added last (the last wins)
VALID = {
    "train": ["train", "CartPole-v1", "--out", "{tmp}/run"],
    "evaluate": ["evaluate", "{run}"],
    "record": ["record", "{run}", "--out", "{tmp}/replay.mp4"],
    "plot": ["plot", "{run}", "--out", "{tmp}/curve.png"],
    "push": ["push", "{run}", "--repo-id", "me/agent", "--dry-run", "{tmp}/hub"],
    "enjoy": ["enjoy", "{run}"],
    "presets": ["presets"],
    "sweep": ["sweep", "--preset", "fast-cartpole", "--param", "lr=0.1", "--out", "{tmp}/s"],
}
#: what each command would do with valid input; none of it may start for a bad value
WORK = ["reinforcelab.cli." + f for f in ("load_agent", "train_run", "resume_run", "plot_run")]
WORK += ["reinforcelab.publish.publish_run", "reinforcelab.sweep.driver.run_sweep"]


def declared_rules(command: str) -> dict[str, Rule | None]:
    """The rule of each parameter of ``command``, from its typer declaration (None: a flag)."""
    info = next(i for i in app.registered_commands if (i.name or i.callback.__name__) == command)
    rules: dict[str, Rule | None] = {}
    for name, hint in typing.get_type_hints(info.callback, include_extras=True).items():
        if name == "return":
            continue
        parser = next(m.parser for m in hint.__metadata__ if hasattr(m, "parser"))
        rules[name] = parser.rule if isinstance(parser, Checked) else None
    return rules


def cli_cases() -> list[tuple[str, str, list[str]]]:
    cases = []
    for command_name, command in sorted(GROUP.commands.items()):
        rules = declared_rules(command_name)
        for param in command.params:
            if param.name == "help":
                continue
            rule = rules[param.name]
            if param.param_type_name == "argument":
                assert rule is not None, f"{command_name} {param.name} declares no rule"
                for text in bad_texts(rule):
                    if command_name == "sweep":
                        args = ["sweep", text, "--out", "{tmp}/s"]
                    else:
                        args = [command_name, text, *VALID[command_name][2:]]
                    cases.append((command_name, param.name.upper(), args))
            elif getattr(param, "is_flag", False):
                assert rule is None, f"{command_name} {param.opts}: a flag has no value to check"
                for option in [*param.opts, *param.secondary_opts]:
                    cases.append((command_name, option, [*VALID[command_name], f"{option}=maybe"]))
            else:
                assert rule is not None, f"{command_name} {param.opts[0]} declares no rule"
                for text in bad_texts(rule):
                    cases.append(
                        (
                            command_name,
                            param.opts[0],
                            [*VALID[command_name], f"{param.opts[0]}={text}"],
                        )
                    )
    return cases


CLI_CASES = cli_cases()


@pytest.fixture
def no_work(monkeypatch):
    def started(*args, **kwargs):
        raise AssertionError("work started")

    for target in WORK:
        monkeypatch.setattr(target, started)


@pytest.fixture
def places(tmp_path, cartpole_run):
    (tmp_path / "regular-file").write_text("a file")
    return {"tmp": tmp_path, "run": cartpole_run}


def fill(text: str, places: dict[str, Path]) -> str:
    for name, path in places.items():
        text = text.replace(f"{{{name}}}", str(path))
    return text


@pytest.mark.parametrize("command", sorted(VALID))
def test_the_valid_command_lines_get_to_work(command, no_work, places, in_tmp):
    """So that in the cases below only the value under test is wrong."""
    result = invoke(*(fill(a, places) for a in VALID[command]))
    if command == "presets":
        assert result.exit_code == 0
    else:
        assert isinstance(result.exception, AssertionError), result.output


@pytest.mark.parametrize(
    "command, name, args", CLI_CASES, ids=[f"{c} {n}={a[-1]!r}" for c, n, a in CLI_CASES]
)
def test_a_bad_value_is_one_line_naming_it_before_any_work(
    command, name, args, no_work, places, in_tmp
):
    line = one_line_error(invoke(*(fill(a, places) for a in args)))
    assert name in line, line
    assert not (in_tmp / "runs").exists()
    assert sorted(p.name for p in places["tmp"].iterdir()) == ["regular-file"]


def test_every_option_is_tried_with_several_bad_values():
    options = {(c, n) for c, n, _ in CLI_CASES}
    declared = {
        (name, p.name)
        for name, command in GROUP.commands.items()
        for p in command.params
        if p.name != "help"
    }
    assert len(options) >= len(declared) and len(CLI_CASES) >= 3 * len(declared)


# --------------------------------------------------------------------------- the Python API
#: arguments whose check lives elsewhere (the policy factory), with values it must refuse
UNRULED = {"policy": [5, "torch.nn:Linear", object()], "env_id": ["", 3]}


def api_cases() -> list[tuple[str, str, Any, Any]]:
    """(function, argument, bad value, call) for every argument of Reinforce, its config fields,
    train_run and Reinforce.evaluate."""
    cases = []
    config = preset("course-cartpole").replace(n_episodes=2)
    for function, call, skip in (
        (Reinforce.__init__, lambda **kw: Reinforce(**kw), {"self", "overrides"}),
        (train_run, lambda **kw: train_run(**{"config": config, "out": "out", **kw}), set()),
        (Reinforce.evaluate, lambda **kw: Reinforce().evaluate(**kw), {"self"}),
    ):
        rules = getattr(function, "rules", {})
        for argument in inspect.signature(function).parameters:
            if argument in skip:
                continue
            if argument in UNRULED and argument not in rules:
                values = UNRULED[argument]
            else:
                assert argument in rules, f"{function.__qualname__}({argument}) has no rule"
                values = bad_values(rules[argument])
            cases += [(function.__qualname__, argument, value, call) for value in values]
    own = inspect.signature(Reinforce.__init__).parameters  # env_id: Reinforce's own argument
    for mode in MODES.values():  # Reinforce(**overrides): every config field of every mode
        base = next(name for name, c in PRESETS.items() if isinstance(c.mode, mode))
        for field in (f for f in TrainConfig.field_names(mode) if f not in own):
            rule = all_fields()[field].metadata["rule"]
            for value in bad_values(rule):
                cases.append(
                    (
                        f"Reinforce(preset={base!r})",
                        field,
                        value,
                        lambda _base=base, **kw: Reinforce(preset=_base, **kw),
                    )
                )
    return cases


API_CASES = api_cases()


@pytest.mark.parametrize(
    "function, argument, value, call",
    API_CASES,
    ids=[f"{f}({a}={v!r})" for f, a, v, _ in API_CASES],
)
def test_a_bad_argument_is_one_line_naming_it(function, argument, value, call, places, in_tmp):
    if isinstance(value, str):
        value = fill(value, places)
    with pytest.raises(UserError) as caught:
        call(**{argument: value})
    message = str(caught.value)
    assert "\n" not in message and argument in message, message
    assert sorted(p.name for p in places["tmp"].iterdir()) == ["regular-file"]


def test_the_cli_and_the_api_share_the_rules():
    """A config field's option checks with the field's own rule, not a copy of it."""
    rules = declared_rules("train")
    for option, field in {
        "seed": "seed",
        "episodes": "n_episodes",
        "total_steps": "total_env_steps",
        "lr": "lr",
        "gamma": "gamma",
        "hidden": "hidden_sizes",
        "max_t": "max_t",
        "env_id": "env_id",
    }.items():
        assert rules[option] is all_fields()[field].metadata["rule"], option
    assert rules["out"] is train_run.rules["out"]
    assert rules["stop_reward"] is train_run.rules["stop_reward"].rule
