"""The ``reinforcelab`` command line: a thin layer over the Python API.

A problem the user can fix (``errors.UserError``, or a wrong option) is one line on stderr with
exit code 2; anything else is a bug and keeps its traceback. Every option's value is checked while
it is parsed, before any work, by its rule from ``checks.py`` (the rule the Python API applies to
the same value). Ctrl-C ends any command with exit code 130, the shell's.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from . import load as load_agent
from .artifacts.hub.repo import REPO_ID_PATTERN
from .artifacts.plots import plot_run
from .checks import (
    COUNT,
    EXISTING_FOLDER,
    FINITE,
    SEED,
    WRITABLE_FILE,
    WRITABLE_FOLDER,
    Choice,
    Existing,
    Mapping,
    Rule,
    Text,
)
from .cli_options import Checked, argument, option, to_path
from .config import (
    COURSE_BARS,
    MODES,
    PRESETS,
    ConfigError,
    TrainConfig,
    all_fields,
)
from .config import (
    preset as get_preset,
)
from .errors import OptionError, UserError
from .playback import NoWindowError, record_replay, watch
from .run import ResumeRefused, default_out, resume_run, train_run

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def print_error(message: str) -> None:
    # no markup
    err_console.print(err_console.render_str("[bold red]error:[/] ") + message, highlight=False)


# The click that typer builds on (recent typers ship their own copy): its errors and help layout.
_click = TyperGroup.__mro__[1].__module__.rpartition(".")[0]
click_errors = importlib.import_module(f"{_click}.exceptions")
click_core = importlib.import_module(f"{_click}.core")
click_formatting = importlib.import_module(f"{_click}.formatting")

#: Help lines are at most this wide, however wide the terminal: longer ones are hard to read.
MAX_HELP_WIDTH = 100


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` in lines of at most ``width`` characters (with ``indent``), broken between words
    only: an option, a path or a preset name is never cut, even where it is wider than that.
    Paragraphs (separated by a blank line) are kept."""
    lines: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        if lines:
            lines.append("")
        lines += textwrap.wrap(
            " ".join(paragraph.split()),
            max(width, 1),
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        ) or [indent]
    return lines


class ReadableHelp(click_formatting.HelpFormatter):
    """Help as plain text that reads the same piped or in a terminal of any width: lines fit the
    terminal (or $COLUMNS), are broken between words only, and an option's help stands beside it
    when there is room, else under it."""

    def __init__(self, indent_increment: int = 2, width: int | None = None, **_: Any) -> None:
        columns = shutil.get_terminal_size().columns
        super().__init__(indent_increment, width or max(min(columns, MAX_HELP_WIDTH) - 1, 20))

    def write_text(self, text: str) -> None:
        self.write("\n".join(wrap(text, self.width, " " * self.current_indent)) + "\n")

    def write_dl(self, rows: Any, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        indent = " " * self.current_indent
        names = min(max((len(name) for name, _ in rows), default=0), col_max)
        column = self.current_indent + names + col_spacing
        beside = self.width - column >= 40  # room for the help beside the names
        for name, text in rows:
            if not beside:
                self.write(f"{indent}{name}\n")
                lines = wrap(text, self.width, indent + "    ") if text else []
            else:
                lines = wrap(text, self.width - column, " " * column) if text else []
                if lines and len(name) <= names:
                    lines[0] = f"{indent}{name:<{names}}{' ' * col_spacing}{lines[0].lstrip()}"
                else:
                    self.write(f"{indent}{name}\n")
            for line in lines:
                self.write(f"{line}\n")


class ReadableHelpContext(click_core.Context):
    formatter_class = ReadableHelp


class ReadableHelpCommand(TyperCommand):
    context_class = ReadableHelpContext


class OneLineErrors(TyperGroup):
    """Wrong or missing options are one line too (click's default is a usage block), and Ctrl-C
    is "interrupted" with exit code 130 wherever it comes."""

    context_class = ReadableHelpContext

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_errors.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # plain `reinforcelab`: the help
                print(exc.ctx.get_help())
                code = 0
            else:
                # typer's pydantic prefix
                print_error(exc.format_message().replace("Value error, ", ""))
                code = 2
        except UserError as exc:  # a value an option's rule refused while it was parsed
            print_error(str(exc))
            code = 2
        except (typer.Abort, KeyboardInterrupt):  # Ctrl-C: typer returns 130, older ones Abort
            code = 130
        if code == 130:  # Ctrl-C (train and sweep stop cleanly first and say how to go on)
            print_error("interrupted")
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def to_widths(text: str) -> tuple[int, ...]:
    """``64,128`` as (64, 128)."""
    return tuple(int(width) for width in text.split(","))


def field_rule(name: str) -> Rule:
    """The rule of a config field (``--lr`` checks as ``lr`` does)."""
    rule: Rule = all_fields()[name].metadata["rule"]
    return rule


app = typer.Typer(
    cls=OneLineErrors,
    help="REINFORCE (Monte Carlo policy gradient) agents for Gymnasium: train, evaluate, record, "
    "plot, share. Course mode reproduces the HF Deep RL course Unit 4; fast mode trains on "
    "vectorised environments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help is plain text (see ReadableHelp): "[ray]" stays "[ray]"
)

#: The command-line option of each config field, and train_run argument, that has one (other
#: fields are set with --set FIELD=VALUE).
FIELD_OPTIONS = {
    "seed": "--seed",
    "n_episodes": "--episodes",
    "total_env_steps": "--total-steps",
    "lr": "--lr",
    "gamma": "--gamma",
    "hidden_sizes": "--hidden",
    "max_t": "--max-t",
    "out": "--out",
    "env_id": "the env id",
    "stop_reward": "--stop-reward",
    "stop_eval_episodes": "--eval-episodes",
    "checkpoint_every": "--checkpoint-every",
}
#: The course preset used when --preset is not given.
ENV_PRESETS = {"CartPole-v1": "course-cartpole", "Pixelcopter-PLE-v0": "course-pixelcopter"}
X_AXES = ("episode", "env_steps")
RUN_OR_REPO = Text("a run folder or a Hub repo id USER/NAME")

# Options shared by several commands.
Run = Annotated[
    str,
    argument(
        "RUN",
        RUN_OR_REPO,
        "A run folder (config.json + model.safetensors) or a Hub repo USER/NAME.",
    ),
]
Episodes = Annotated[int, option("--episodes", COUNT, "Number of episodes.", int)]
Seed = Annotated[
    int | None, option("--seed", SEED, "Seed for the env resets and the action sampling.", int)
]
Deterministic = Annotated[bool, typer.Option(help="Greedy actions instead of sampled ones.")]


def step_cap(name: str) -> Any:
    return option(name, COUNT, "Step cap per episode (default: the run's max_t).", int)


HubEndpoint = Annotated[
    str | None,
    option(
        "--endpoint",
        Text("an http(s) URL", pattern=r"https?://\S+"),
        "Hub URL (default: HF_ENDPOINT or https://huggingface.co).",
        metavar="URL",
    ),
]
HubToken = Annotated[
    str | None,
    option(
        "--token",
        Text("a Hub token (no spaces)", pattern=r"\S+"),
        "Hub token (default: saved login or HF_TOKEN).",
    ),
]


def fail(exc: UserError) -> None:
    """Report a user error in one line and exit with code 2."""
    if isinstance(exc, ConfigError):
        print_error(option_error(exc))
    elif isinstance(exc, ResumeRefused):
        print_error(exc.render(option_name))
    else:
        print_error(str(exc))
    raise typer.Exit(2)


def option_error(exc: ConfigError) -> str:
    """A config error named by the option the user typed."""
    return f"{FIELD_OPTIONS.get(exc.field, exc.field)} {exc.problem}"


def option_name(field: str) -> str:
    """The option that sets a config field or run option (``--set FIELD`` when none does)."""
    return FIELD_OPTIONS.get(field) or f"--set {field}"


def parse_value(text: str) -> Any:
    """A --set value: JSON when it parses (numbers, true/false, lists), else the text."""
    if text.strip().lower() in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(assignments: list[str], **flags: Any) -> dict[str, Any]:
    """The config changes the options ask for, by field name: ``flags`` (``None``: not given),
    then the ``--set KEY=VALUE`` assignments."""
    changes = {k: v for k, v in flags.items() if v is not None}
    fields = {"mode", *(f for mode in MODES.values() for f in TrainConfig.field_names(mode))}
    for item in assignments:
        key, _, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if key not in fields:
            raise OptionError(
                f"--set: unknown config field {key!r}; fields: {', '.join(sorted(fields))}"
            )
        changes[key] = parse_value(value)
    if isinstance(changes.get("hidden_sizes"), str):  # --set hidden_sizes=64,128
        changes["hidden_sizes"] = Checked("--hidden", field_rule("hidden_sizes"), to_widths)(
            changes["hidden_sizes"]
        )
    return changes


def same_path(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def policy_options(
    policy: str | None, policy_kwargs: dict[str, Any] | None
) -> dict[str, Any] | None:
    """``--policy module:Class`` and ``--policy-kwargs JSON`` as ``train_run``'s policy argument."""
    if policy is None:
        if policy_kwargs is not None:
            raise OptionError("--policy-kwargs needs --policy module:Class")
        return None
    from .policies.torch_module import import_policy_class

    return {"policy": import_policy_class(policy), "policy_kwargs": policy_kwargs or {}}


@app.command()
def train(
    env_id: Annotated[
        str | None,
        argument(
            "ENV_ID",
            field_rule("env_id"),
            "Gymnasium environment id, e.g. CartPole-v1 or Pixelcopter-PLE-v0 "
            "(not needed with --resume).",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        option(
            "--preset",
            Choice(tuple(PRESETS)),
            f"Named hyperparameters: {', '.join(PRESETS)} (see `reinforcelab presets`). "
            "Default: the course preset for the env.",
            metavar="NAME",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        option(
            "--seed",
            field_rule("seed"),
            "Seed for torch, numpy and the envs (bit-identical reruns on CPU).",
            int,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        option(
            "--out",
            WRITABLE_FOLDER,
            "Run folder to create. Default: runs/<env>-<mode>-s<seed>.",
            to_path,
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="Reuse an existing run folder at --out (files that are not a run's are kept)."
        ),
    ] = False,
    episodes: Annotated[
        int | None,
        option(
            "--episodes",
            field_rule("n_episodes"),
            "Course mode: training episodes (one update each).",
            int,
        ),
    ] = None,
    total_steps: Annotated[
        int | None,
        option(
            "--total-steps",
            field_rule("total_env_steps"),
            "Fast mode: training budget in env steps.",
            int,
        ),
    ] = None,
    stop_reward: Annotated[
        float | None,
        option(
            "--stop-reward",
            FINITE,
            "Stop once the score reaches this: the 100-episode training average (course mode) "
            "or the mean of --eval-episodes evaluation episodes (fast mode).",
            float,
        ),
    ] = None,
    eval_episodes: Annotated[
        int | None,
        option(
            "--eval-episodes",
            COUNT,
            "Episodes of the early-stopping evaluation (with --stop-reward; default 100).",
            int,
        ),
    ] = None,
    lr: Annotated[
        float | None, option("--lr", field_rule("lr"), "Adam learning rate.", float)
    ] = None,
    gamma: Annotated[
        float | None, option("--gamma", field_rule("gamma"), "Discount factor.", float)
    ] = None,
    hidden: Annotated[
        Any,  # (typer reads a tuple annotation as several values; this is one, 64,128)
        option(
            "--hidden",
            field_rule("hidden_sizes"),
            "Hidden layer widths, comma-separated, e.g. 64,128.",
            to_widths,
            "W1,W2,...",
        ),
    ] = None,
    max_t: Annotated[
        int | None, option("--max-t", field_rule("max_t"), "Step cap per episode.", int)
    ] = None,
    set_: Annotated[
        list[str] | None,
        option(
            "--set",
            Text("KEY=VALUE", pattern=r"[^=]+=.*"),
            "Override any config field: --set entropy_coef=0.01 (repeatable).",
            metavar="KEY=VALUE",
        ),
    ] = None,
    policy: Annotated[
        str | None,
        option(
            "--policy",
            Text("module:Class", pattern=r"[\w.]+:[\w.]+"),
            "Your own torch policy class, module:Class "
            "(importable, or a module in the current folder).",
            metavar="MODULE:CLASS",
        ),
    ] = None,
    policy_kwargs: Annotated[
        Any,  # a dict (typer has no dict type)
        option(
            "--policy-kwargs",
            Mapping(),
            "Its constructor arguments as a JSON object, e.g. '{\"hidden\": 64}'.",
            json.loads,
            "JSON",
        ),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    plot: Annotated[
        bool, typer.Option(help="Write the learning curve curve.png into the run folder.")
    ] = True,
    record: Annotated[
        bool, typer.Option(help="Record one episode as replay.mp4 into the run folder.")
    ] = False,
    resume: Annotated[
        Path | None,
        option(
            "--resume",
            EXISTING_FOLDER,
            "Continue this run folder from its last checkpoint (optimizer and RNG state); "
            "--episodes / --total-steps may raise its budget.",
            to_path,
        ),
    ] = None,
    checkpoint_every: Annotated[
        int | None,
        option(
            "--checkpoint-every",
            COUNT,
            "Save model and resume state every N updates (default 100 course, 10 fast); "
            "also at the end and on Ctrl-C.",
            int,
        ),
    ] = None,
    tensorboard: Annotated[
        Path | None,
        option(
            "--tensorboard",
            WRITABLE_FOLDER,
            "Write TensorBoard scalars (episode return, 100-episode mean, env steps/s) "
            "to this folder; needs reinforcelab[tensorboard].",
            to_path,
        ),
    ] = None,
) -> None:
    """Train an agent into a run folder: config.json, model.safetensors, metrics.csv, results.json,
    curve.png (and replay.mp4 with --record). After Ctrl-C the run is saved, resumable, and the
    exit code is 130."""
    try:
        budget: dict[str, Any] = {"n_episodes": episodes, "total_env_steps": total_steps}
        # The config fields that have an option of their own; --set may override any field.
        fields = {
            "env_id": env_id,
            "seed": seed,
            "lr": lr,
            "gamma": gamma,
            "hidden_sizes": hidden,
            "max_t": max_t,
        }
        if resume is not None:
            # A resumed run continues as it was trained: options that set up a new run are
            # refused, and resume_run refuses any other change than a larger budget.
            new_run_only = {
                "--preset": preset,
                "--out": None if out is None or same_path(out, resume) else out,
                "--overwrite": overwrite or None,
                "--policy": policy,
                "--policy-kwargs": policy_kwargs,
                "--tensorboard": tensorboard,
            }
            given = [option for option, value in new_run_only.items() if value is not None]
            if given:
                raise OptionError(
                    f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to new runs "
                    f"only: --resume continues {resume} as it was trained"
                )
            changes = {
                **budget,
                **parse_overrides(set_ or [], **fields),
                "stop_reward": stop_reward,
                "stop_eval_episodes": eval_episodes,
                "checkpoint_every": checkpoint_every,
            }
            result = resume_run(resume, progress=progress, plot=plot, record=record, **changes)
        elif env_id is None:
            raise OptionError("give an environment id (e.g. CartPole-v1) or --resume RUN")
        else:
            config = get_preset(preset or ENV_PRESETS.get(env_id, "course-cartpole"))
            config = config.replace(**parse_overrides(set_ or [], **fields, **budget))
            result = train_run(
                config,
                out or default_out(config),
                overwrite=overwrite,
                stop_reward=stop_reward,
                stop_eval_episodes=eval_episodes,
                progress=progress,
                checkpoint_every=checkpoint_every,
                policy=policy_options(policy, policy_kwargs),
                extra_callbacks=tensorboard_callbacks(tensorboard),
                plot=plot,
                record=record,
            )
        config = result.agent.config
    except UserError as exc:
        fail(exc)
    s, ev = result.summary, result.evaluation
    console.print(
        f"[bold]{config.env_id}[/] {config.mode.name} mode: "
        f"{s['stop_reason']} after {s['train_episodes']} episodes, "
        f"{s['train_env_steps']:,} env steps, {s['train_wall_seconds']:.1f} s"
    )
    console.print(
        f"evaluation ({len(ev.returns)} episodes, sampled actions): "
        f"{ev.mean_reward:.2f} +/- {ev.std_reward:.2f}"
    )
    files = ", ".join(sorted(p.name for p in result.out.iterdir()))
    console.print(f"run folder: {result.out}  ({files})", markup=False)
    if s["interrupted"]:
        again = f"reinforcelab train --resume {shlex.quote(str(result.out))}"
        console.print(f"continue with: {again}", markup=False)
        raise typer.Exit(130)  # the user stopped it: the shell's code for Ctrl-C


def tensorboard_callbacks(logdir: Path | None) -> list:
    if logdir is None:
        return []
    from .tensorboard import TensorBoardScalars  # only now: tensorboardX imports torch

    return [TensorBoardScalars(logdir)]


@app.command()
def evaluate(
    run: Run,
    episodes: Episodes = 10,
    deterministic: Deterministic = False,
    seed: Seed = None,
    max_t: Annotated[int | None, step_cap("--max-t")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of text.")
    ] = False,
    endpoint: HubEndpoint = None,
    token: HubToken = None,
) -> None:
    """Evaluate a trained agent with the course protocol (mean and population std of returns) and
    say whether it passes the course's bar (mean - std)."""
    try:
        agent = load_agent(run, endpoint=endpoint, token=token)
        result = agent.evaluate(episodes, deterministic=deterministic, seed=seed, max_t=max_t)
    except UserError as exc:
        fail(exc)
    bar = COURSE_BARS.get(result.env_id)
    if as_json:
        d = result.to_dict()
        keys = (
            "env_id",
            "mean_reward",
            "std_reward",
            "returns",
            "lengths",
            "deterministic",
            "seed",
        )
        print(
            json.dumps(
                {
                    "n_episodes": d["n_evaluation_episodes"],
                    **{k: d[k] for k in keys},
                    "score": result.score,
                    "course_bar": bar,
                    "passes_course_bar": None if bar is None else result.score >= bar,
                }
            )
        )
        return
    console.print(
        f"{result.env_id}: mean_reward={result.mean_reward:.2f} +/- {result.std_reward:.2f} "
        f"over {len(result.returns)} episodes ({'greedy' if deterministic else 'sampled'} actions)"
    )
    verdict = (
        ""
        if bar is None
        else (f"; {'passes' if result.score >= bar else 'below'} the course bar of {bar:g}")
    )
    console.print(f"score (mean - std): {result.score:.2f}{verdict}")


@app.command("record")
def record_cmd(
    run: Run,
    out: Annotated[
        Path, option("--out", WRITABLE_FILE, "Video file: .mp4 (H.264) or .gif.", to_path)
    ] = Path("replay.mp4"),
    episodes: Annotated[
        int, option("--episodes", COUNT, "Episodes to record, back to back.", int)
    ] = 1,
    max_steps: Annotated[int | None, step_cap("--max-steps")] = None,
    fps: Annotated[int, option("--fps", COUNT, "Frames per second.", int)] = 30,
    seed: Seed = None,
    deterministic: Deterministic = False,
    endpoint: HubEndpoint = None,
    token: HubToken = None,
) -> None:
    """Record a replay video of a trained agent (frames = steps + 1 per episode)."""
    from .artifacts.video import check_video_support

    try:
        check_video_support(out)
        agent = load_agent(run, endpoint=endpoint, token=token)
        info = record_replay(agent, out, episodes, max_steps, fps, seed, deterministic)
    except UserError as exc:
        fail(exc)
    console.print(
        f"wrote {info['path']}: {info['frames']} frames, {info['size'][0]}x{info['size'][1]}, "
        f"episode returns {info['episode_returns']}",
        markup=False,
    )


@app.command("plot")
def plot_cmd(
    runs: Annotated[
        list[Path],
        argument(
            "RUNS",
            Existing(),
            "One or more run folders (several seeds: each run and their mean).",
            to_path,
        ),
    ],
    out: Annotated[Path, option("--out", WRITABLE_FILE, "PNG file to write.", to_path)] = Path(
        "curve.png"
    ),
    window: Annotated[
        int, option("--window", COUNT, "Rolling-mean window in episodes.", int)
    ] = 100,
    x: Annotated[
        str | None,
        option(
            "--x",
            Choice(X_AXES),
            f"x axis: {' or '.join(X_AXES)} (default: env_steps for fast mode).",
            metavar="AXIS",
        ),
    ] = None,
) -> None:
    """Plot learning curves: episode returns, the rolling mean and the env's reward threshold."""
    try:
        path = plot_run(runs, out, window, x)
    except UserError as exc:
        fail(exc)
    console.print(f"wrote {path}", markup=False)


@app.command()
def push(
    run: Annotated[Path, argument("RUN", EXISTING_FOLDER, "The run folder to publish.", to_path)],
    repo_id: Annotated[
        str,
        option(
            "--repo-id",
            Text("a Hub repo id USER/NAME (letters, digits, -, _, .)", REPO_ID_PATTERN.pattern),
            "Hub repo USER/NAME (created if missing).",
            metavar="USER/NAME",
        ),
    ],
    token: HubToken = None,
    endpoint: HubEndpoint = None,
    private: Annotated[bool, typer.Option(help="Create the repo as private.")] = False,
    eval_episodes: Annotated[
        int,
        option(
            "--eval-episodes",
            COUNT,
            "Evaluation episodes for the model card (course protocol).",
            int,
        ),
    ] = 10,
    seed: Annotated[
        int | None, option("--seed", SEED, "Seed of the evaluation and the replay.", int)
    ] = None,
    dry_run: Annotated[
        Path | None,
        option(
            "--dry-run",
            WRITABLE_FOLDER,
            "Write the folder that would be uploaded here (plus DIR-manifest.json beside it); "
            "contact nothing.",
            to_path,
        ),
    ] = None,
    video: Annotated[bool, typer.Option(help="Record replay.mp4 for the card.")] = True,
) -> None:
    """Evaluate, record and publish a run to the Hugging Face Hub with a model card (the token
    needs write access)."""
    from .artifacts.hub import HubUploadError
    from .publish import publish_run

    try:
        result = publish_run(
            run,
            repo_id,
            token=token,
            endpoint=endpoint,
            private=private,
            eval_episodes=eval_episodes,
            seed=seed,
            video=video,
            dry_run=dry_run,
        )
    except HubUploadError as exc:
        again = [
            f"reinforcelab push {shlex.quote(str(run))} --repo-id {repo_id}",
            f"--endpoint {shlex.quote(endpoint)}" if endpoint else "",
            "--private" if private else "",
            f"--eval-episodes {eval_episodes}" if eval_episodes != 10 else "",
            f"--seed {seed}" if seed is not None else "",
            "" if video else "--no-video",
        ]
        print_error(f"{exc}\nTo publish the run again: {' '.join(a for a in again if a)}")
        raise typer.Exit(2) from None
    except UserError as exc:
        fail(exc)
    ev = result.evaluation
    console.print(
        f"evaluation: {ev.mean_reward:.2f} +/- {ev.std_reward:.2f} over {eval_episodes} episodes; "
        f"files: {', '.join(result.files)}"
    )
    if result.dry_run:
        console.print(
            f"dry run: nothing uploaded; Hub folder {result.folder}, manifest {result.manifest}",
            markup=False,
        )
    else:
        console.print(f"pushed to {result.url}", markup=False)


@app.command()
def enjoy(
    source: Annotated[
        str, argument("SOURCE", RUN_OR_REPO, "A run folder or a Hub repo USER/NAME.")
    ],
    episodes: Annotated[int, option("--episodes", COUNT, "Episodes to play.", int)] = 3,
    record: Annotated[
        Path | None,
        option(
            "--record",
            WRITABLE_FILE,
            "Record them to this .mp4/.gif file instead of showing them.",
            to_path,
        ),
    ] = None,
    deterministic: Deterministic = False,
    seed: Seed = None,
    endpoint: HubEndpoint = None,
    token: HubToken = None,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            help="Accept a repo whose model is only a pickle (course notebook agents). "
            "Pickles can run code."
        ),
    ] = False,
) -> None:
    """Load an agent (locally or from the Hub: only safetensors and JSON are downloaded) and
    watch it play: in a window when there is a display, else printed. With --record the printed
    episodes are the recorded ones."""
    from .artifacts.video import check_video_support

    try:
        if record is not None:
            check_video_support(record)
        agent = load_agent(source, endpoint=endpoint, token=token, allow_pickle=allow_pickle)
        if record is not None:
            info = record_replay(agent, record, episodes, None, 30, seed, deterministic)
            returns, lengths = info["episode_returns"], info["episode_steps"]
        else:
            try:
                returns, lengths = watch(agent, episodes, seed, deterministic)
            except NoWindowError as exc:
                console.print(
                    f"{exc}: printing the episodes instead of showing them "
                    "(--record FILE.mp4 films them)",
                    markup=False,
                )
                result = agent.evaluate(episodes, deterministic=deterministic, seed=seed)
                returns, lengths = result.returns, result.lengths
    except UserError as exc:
        fail(exc)
    for i, (ret, length) in enumerate(zip(returns, lengths), 1):
        console.print(f"episode {i}: return {ret:g} in {length} steps")
    console.print(f"{agent.config.env_id}: {np.mean(returns):.2f} +/- {np.std(returns):.2f}")
    if record is not None:
        console.print(
            f"wrote {info['path']} ({info['frames']} frames: these {episodes} episodes)",
            markup=False,
        )


@app.command()
def presets() -> None:
    """List the named presets: one table per mode, with the fields that mode uses. Names and
    values are never cut: a table holds as many presets side by side as the terminal (or
    $COLUMNS) has room for, and a narrow one lists each preset's fields under its name."""
    width = shutil.get_terminal_size().columns
    for i, (mode, mode_class) in enumerate(MODES.items()):
        names = [name for name, cfg in PRESETS.items() if isinstance(cfg.mode, mode_class)]
        fields = [f for f in TrainConfig.field_names(mode_class) if f not in ("seed", "env_kwargs")]
        if i:
            console.print()
        console.print(f"{mode} mode", style="bold", markup=False, highlight=False)
        for line in preset_lines(names, fields, width):
            console.print(line, markup=False, highlight=False)


def preset_lines(names: list[str], fields: list[str], width: int) -> list[str]:
    """The presets ``names`` as text tables (a column per preset) no wider than ``width``: as many
    presets side by side as fit; where not even one does, ``field: value`` lines per preset."""
    cells = {name: [preset_cell(name, field) for field in fields] for name in names}
    field_width = max(map(len, fields))

    def column_width(name: str) -> int:
        return max(len(name), *map(len, cells[name]))

    chunks: list[list[str]] = []
    for name in names:
        if chunks and field_width + sum(2 + column_width(n) for n in [*chunks[-1], name]) < width:
            chunks[-1].append(name)
        else:
            chunks.append([name])
    if any(field_width + 2 + column_width(chunk[0]) >= width for chunk in chunks):
        lines = []
        for name in names:
            lines.append(f"{name}:")
            lines += [f"  {field}: {value}" for field, value in zip(fields, cells[name])]
        return lines
    lines = []
    for chunk in chunks:
        widths = [field_width, *map(column_width, chunk)]
        rows = [
            ["field", *chunk],
            *([f, *(cells[n][i] for n in chunk)] for i, f in enumerate(fields)),
        ]
        if lines:
            lines.append("")
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return lines


def preset_cell(name: str, field: str) -> str:
    """A preset's field, by its flat name (``lr``, or its mode's ``num_envs``), as table text."""
    value = PRESETS[name].to_dict()[field]
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def main() -> None:
    app()


from .sweep.cli import register as register_sweep  # noqa: E402  (after the app's own commands)

register_sweep(app, fail)
for _command in app.registered_commands:  # every command's help is ReadableHelp's
    _command.cls = ReadableHelpCommand

if __name__ == "__main__":
    main()
