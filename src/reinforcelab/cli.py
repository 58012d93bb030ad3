"""The ``reinforcelab`` command line: a thin layer over the Python API.

A problem the user can fix (``errors.UserError``, or a wrong option) is one line on stderr with
exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import enum
import importlib
import json
import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from typer.core import TyperGroup

from . import load as load_agent
from .artifacts.plots import plot_run
from .checks import COUNT
from .config import (
    COURSE_BARS,
    MODES,
    PRESETS,
    ConfigError,
    TrainConfig,
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


# click's exceptions, from the click that typer builds on (recent typers ship their own copy).
click_errors = importlib.import_module(
    TyperGroup.__mro__[1].__module__.rpartition(".")[0] + ".exceptions"
)


class OneLineErrors(TyperGroup):
    """Wrong or missing options are one line too (click's default is a usage block)."""

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
        except (typer.Abort, KeyboardInterrupt):
            code = 130
        if code == 130:  # Ctrl-C outside training (which stops cleanly after an update)
            print_error("interrupted")
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    help="REINFORCE (Monte Carlo policy gradient) agents for Gymnasium: train, evaluate, record, "
    "plot, share. Course mode reproduces the HF Deep RL course Unit 4; fast mode trains on "
    "vectorised environments.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: The command-line option of each config field that has one (others are set with
#: --set FIELD=VALUE), and of the run options train_run takes besides the config.
FIELD_OPTIONS = {
    "seed": "--seed",
    "n_episodes": "--episodes",
    "total_env_steps": "--total-steps",
    "lr": "--lr",
    "gamma": "--gamma",
    "hidden_sizes": "--hidden",
    "max_t": "--max-t",
    "env_id": "the env id",
    "stop_reward": "--stop-reward",
    "stop_eval_episodes": "--eval-episodes",
    "checkpoint_every": "--checkpoint-every",
}
#: The course preset used when --preset is not given.
ENV_PRESETS = {"CartPole-v1": "course-cartpole", "Pixelcopter-PLE-v0": "course-pixelcopter"}

# Choices, and options shared by several commands.
PresetName = enum.Enum("PresetName", {name: name for name in PRESETS}, type=str)
XAxis = enum.Enum("XAxis", {"episode": "episode", "env_steps": "env_steps"}, type=str)
Run = Annotated[
    str,
    typer.Argument(help="A run folder (config.json + model.safetensors) or a Hub repo USER/NAME."),
]
Episodes = Annotated[int, typer.Option(help="Number of episodes.")]
Seed = Annotated[int | None, typer.Option(help="Seed for the env resets and the action sampling.")]
Deterministic = Annotated[bool, typer.Option(help="Greedy actions instead of sampled ones.")]
StepCap = Annotated[
    int | None, typer.Option(help="Step cap per episode (default: the run's max_t).")
]
HubEndpoint = Annotated[
    str | None, typer.Option(help="Hub URL (default: HF_ENDPOINT or https://huggingface.co).")
]
HubToken = Annotated[str | None, typer.Option(help="Hub token (default: saved login or HF_TOKEN).")]


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


def check_option(option: str, value: int | None) -> None:
    """An OptionError naming ``option`` unless ``value`` is None or an integer >= 1."""
    if value is not None:
        COUNT.check(option, value)


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
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise OptionError(f"--set expects KEY=VALUE, got {item!r}")
        if key not in fields:
            raise OptionError(
                f"--set: unknown config field {key!r}; fields: {', '.join(sorted(fields))}"
            )
        changes[key] = parse_value(value)
    if "hidden_sizes" in changes and not isinstance(changes["hidden_sizes"], (list, tuple)):
        text = str(changes["hidden_sizes"])
        try:
            changes["hidden_sizes"] = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise OptionError(
                f"--hidden must be comma-separated positive integers, e.g. 64,128; got {text!r}"
            ) from None
    return changes


def same_path(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def policy_options(policy: str | None, policy_kwargs: str | None) -> dict[str, Any] | None:
    """``--policy module:Class`` and ``--policy-kwargs JSON`` as ``train_run``'s policy argument."""
    if policy is None:
        if policy_kwargs is not None:
            raise OptionError("--policy-kwargs needs --policy module:Class")
        return None
    from .policies.torch_module import import_policy_class

    try:
        kwargs = json.loads(policy_kwargs) if policy_kwargs is not None else {}
    except json.JSONDecodeError as exc:
        raise OptionError(
            f"--policy-kwargs must be a JSON object, e.g. '{{\"hidden\": 64}}' ({exc})"
        ) from None
    if not isinstance(kwargs, dict):
        raise OptionError(
            f"--policy-kwargs must be a JSON object, e.g. '{{\"hidden\": 64}}'; got {policy_kwargs}"
        )
    return {"policy": import_policy_class(policy), "policy_kwargs": kwargs}


@app.command()
def train(
    env_id: Annotated[
        str | None,
        typer.Argument(
            help="Gymnasium environment id, e.g. CartPole-v1 or Pixelcopter-PLE-v0 "
            "(not needed with --resume)."
        ),
    ] = None,
    preset: Annotated[
        PresetName | None,
        typer.Option(
            help="Named hyperparameters (see `reinforcelab presets`). "
            "Default: the course preset for the env."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="Seed for torch, numpy and the envs (bit-identical reruns on CPU)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Run folder to create. Default: runs/<env>-<mode>-s<seed>."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            help="Reuse an existing run folder at --out (files that are not a run's are kept)."
        ),
    ] = False,
    episodes: Annotated[
        int | None, typer.Option(help="Course mode: training episodes (one update each).")
    ] = None,
    total_steps: Annotated[
        int | None, typer.Option(help="Fast mode: training budget in env steps.")
    ] = None,
    stop_reward: Annotated[
        float | None,
        typer.Option(
            help="Stop once the score reaches this: the 100-episode training average (course mode) "
            "or the mean of --eval-episodes evaluation episodes (fast mode)."
        ),
    ] = None,
    eval_episodes: Annotated[
        int | None,
        typer.Option(
            help="Episodes of the early-stopping evaluation (with --stop-reward; default 100)."
        ),
    ] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate.")] = None,
    gamma: Annotated[float | None, typer.Option(help="Discount factor.")] = None,
    hidden: Annotated[
        str | None, typer.Option(help="Hidden layer widths, comma-separated, e.g. 64,128.")
    ] = None,
    max_t: Annotated[int | None, typer.Option(help="Step cap per episode.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="Override any config field: --set entropy_coef=0.01 (repeatable)."
        ),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(
            help="Your own torch policy class, module:Class "
            "(importable, or a module in the current folder)."
        ),
    ] = None,
    policy_kwargs: Annotated[
        str | None, typer.Option(help="Its constructor arguments as a JSON object.")
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
        typer.Option(
            help="Continue this run folder from its last checkpoint (optimizer and RNG state); "
            "--episodes / --total-steps may raise its budget."
        ),
    ] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(
            help="Save model and resume state every N updates (default 100 course, 10 fast); "
            "also at the end and on Ctrl-C."
        ),
    ] = None,
    tensorboard: Annotated[
        Path | None,
        typer.Option(
            help="Write TensorBoard scalars (episode return, 100-episode mean, env steps/s) "
            "to this folder; needs reinforcelab[tensorboard]."
        ),
    ] = None,
) -> None:
    """Train an agent into a run folder: config.json, model.safetensors, metrics.csv, results.json,
    curve.png (and replay.mp4 with --record)."""
    try:
        for option, value in (
            ("--eval-episodes", eval_episodes),
            ("--checkpoint-every", checkpoint_every),
            ("--episodes", episodes),
            ("--total-steps", total_steps),
        ):
            check_option(option, value)
        if stop_reward is not None and not math.isfinite(stop_reward):
            raise OptionError(f"--stop-reward must be a finite number; got {stop_reward}")
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
            config = get_preset(
                preset.value if preset else ENV_PRESETS.get(env_id, "course-cartpole")
            )
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
    console.print(
        f"run folder: {result.out}  ({', '.join(sorted(p.name for p in result.out.iterdir()))})"
    )
    if s["interrupted"]:
        console.print(f"continue with: reinforcelab train --resume {result.out}")


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
    max_t: StepCap = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of text.")
    ] = False,
    endpoint: HubEndpoint = None,
    token: HubToken = None,
) -> None:
    """Evaluate a trained agent with the course protocol (mean and population std of returns) and
    say whether it passes the course's bar (mean - std)."""
    try:
        check_option("--episodes", episodes)
        check_option("--max-t", max_t)
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
    out: Annotated[Path, typer.Option(help="Video file: .mp4 (H.264) or .gif.")] = Path(
        "replay.mp4"
    ),
    episodes: Annotated[int, typer.Option(help="Episodes to record, back to back.")] = 1,
    max_steps: StepCap = None,
    fps: Annotated[int, typer.Option(help="Frames per second.")] = 30,
    seed: Seed = None,
    deterministic: Deterministic = False,
    endpoint: HubEndpoint = None,
    token: HubToken = None,
) -> None:
    """Record a replay video of a trained agent (frames = steps + 1 per episode)."""
    from .artifacts.video import check_video_support

    try:
        check_option("--episodes", episodes)
        check_option("--max-steps", max_steps)
        check_option("--fps", fps)
        check_video_support(out)
        agent = load_agent(run, endpoint=endpoint, token=token)
        info = record_replay(agent, out, episodes, max_steps, fps, seed, deterministic)
    except UserError as exc:
        fail(exc)
    console.print(
        f"wrote {info['path']}: {info['frames']} frames, {info['size'][0]}x{info['size'][1]}, "
        f"episode returns {info['episode_returns']}"
    )


@app.command("plot")
def plot_cmd(
    runs: Annotated[
        list[Path],
        typer.Argument(help="One or more run folders (several seeds: each run and their mean)."),
    ],
    out: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("curve.png"),
    window: Annotated[int, typer.Option(help="Rolling-mean window in episodes.")] = 100,
    x: Annotated[
        XAxis | None, typer.Option(help="x axis (default: env_steps for fast mode).")
    ] = None,
) -> None:
    """Plot learning curves: episode returns, the rolling mean and the env's reward threshold."""
    try:
        check_option("--window", window)
        path = plot_run(runs, out, window, x.value if x else None)
    except UserError as exc:
        fail(exc)
    console.print(f"wrote {path}")


@app.command()
def push(
    run: Annotated[Path, typer.Argument(help="The run folder to publish.")],
    repo_id: Annotated[str, typer.Option(help="Hub repo USER/NAME (created if missing).")],
    token: Annotated[
        str | None,
        typer.Option(help="Hub token with write access (default: saved login or HF_TOKEN)."),
    ] = None,
    endpoint: HubEndpoint = None,
    private: Annotated[bool, typer.Option(help="Create the repo as private.")] = False,
    eval_episodes: Annotated[
        int, typer.Option(help="Evaluation episodes for the model card (course protocol).")
    ] = 10,
    seed: Annotated[int | None, typer.Option(help="Seed of the evaluation and the replay.")] = None,
    dry_run: Annotated[
        Path | None,
        typer.Option(
            help="Write the folder that would be uploaded here (plus DIR-manifest.json beside it); "
            "contact nothing."
        ),
    ] = None,
    video: Annotated[bool, typer.Option(help="Record replay.mp4 for the card.")] = True,
) -> None:
    """Evaluate, record and publish a run to the Hugging Face Hub with a model card."""
    from .artifacts.hub import HubUploadError
    from .publish import publish_run

    try:
        check_option("--eval-episodes", eval_episodes)
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
            f"dry run: nothing uploaded; Hub folder {result.folder}, manifest {result.manifest}"
        )
    else:
        console.print(f"pushed to {result.url}")


@app.command()
def enjoy(
    source: Annotated[str, typer.Argument(help="A run folder or a Hub repo USER/NAME.")],
    episodes: Annotated[int, typer.Option(help="Episodes to play.")] = 3,
    record: Annotated[
        Path | None,
        typer.Option(help="Record them to this .mp4/.gif file instead of showing them."),
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
        check_option("--episodes", episodes)
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
                    "(--record FILE.mp4 films them)"
                )
                result = agent.evaluate(episodes, deterministic=deterministic, seed=seed)
                returns, lengths = result.returns, result.lengths
    except UserError as exc:
        fail(exc)
    for i, (ret, length) in enumerate(zip(returns, lengths), 1):
        console.print(f"episode {i}: return {ret:g} in {length} steps")
    console.print(f"{agent.config.env_id}: {np.mean(returns):.2f} +/- {np.std(returns):.2f}")
    if record is not None:
        console.print(f"wrote {info['path']} ({info['frames']} frames: these {episodes} episodes)")


@app.command()
def presets() -> None:
    """List the named presets: one table per mode, with the fields that mode uses."""
    from rich.table import Table

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, tuple):
            return ",".join(map(str, value))
        return (
            f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
        )

    for mode, mode_class in MODES.items():
        names = [name for name, cfg in PRESETS.items() if isinstance(cfg.mode, mode_class)]
        # At most 3 presets side by side: more would not fit 80 columns, and rich would cut their
        # names.
        for start in range(0, len(names), 3):
            shown = names[start : start + 3]
            table = Table(title=f"{mode} mode" if start == 0 else None, title_justify="left")
            table.add_column("field")
            for name in shown:
                table.add_column(name)
            for field in TrainConfig.field_names(mode_class):
                if field not in ("seed", "env_kwargs"):
                    table.add_row(field, *(cell(preset_value(name, field)) for name in shown))
            console.print(table)


def preset_value(name: str, field: str) -> Any:
    """A preset's field by its flat name (``lr``, or its mode's ``num_envs``)."""
    return PRESETS[name].to_dict()[field]


def main() -> None:
    app()


from .sweep.cli import register as register_sweep  # noqa: E402  (after the app's own commands)

register_sweep(app, fail)

if __name__ == "__main__":
    main()
