"""The benchmark suite: reinforcelab, SB3 PPO and SB3 A2C on six envs, judged by one evaluator.

The peers are Stable-Baselines3's PPO and A2C with rl-zoo3's hyperparameters (``suite_zoo.py``).

For every (method, env, seed) it trains in a process of its own (``suite_run.py``) and reports the
training wall-clock and env steps until a 100-episode *sampled-action* evaluation reaches the env's
threshold, the peak memory (max RSS) of that process and the final score. A run stops at the
threshold, at its time cap (``--minutes``, on the training clock: ``5`` for every env,
``Pixelcopter-PLE-v0=15`` for one, or both) or at its own step budget
(reinforcelab: the preset's ``total_env_steps``; the peers: the zoo's ``n_timesteps``), whichever
comes first; a run that never reaches the threshold is reported as such, with its best evaluation.

How runs are judged (``suite_run.py``), the same for every method:

- the training clock starts before the learner and its envs are built (imports come before it)
  and excludes every evaluation;
- after each update (reinforcelab) or rollout-and-update (SB3), an evaluation is due once the last
  100 training episodes average the env's ``precheck`` and the training clock has grown by
  ``--eval-growth`` (10%, and by 0.01 s at least) since the last evaluation: the reported times
  overshoot by at most that fraction plus one update, for fast and slow methods alike;
- an evaluation plays 100 episodes, one per sub-env of Gymnasium's own vector env (EnvPool is
  never the judge), from fresh reset seeds drawn from (seed, evaluation number): the same episodes
  for every method at its k-th evaluation. Actions are sampled (SB3: ``deterministic=False``; its
  observations pass through its ``VecNormalize`` with the training statistics frozen; gSDE noise is
  redrawn as often as in training). The run's own random streams are left as they were;
- a run that stops without evaluating at its last step is evaluated once more there (whatever the
  precheck): its final score.

Seeds run one after another unless ``--parallel N`` runs N seeds of a method side by side (the
report then says so). ``--lock PATH`` takes that lock (flock, as ``flock PATH cmd``) around each
run, or each group of side-by-side runs, so that only one timed job uses the machine.

    python benchmarks/suite.py --lock /work/notes/cpu.lock --write docs/benchmarks/suite.md
    python benchmarks/suite.py --quick --write docs/benchmarks/suite.md
    python benchmarks/suite.py --envs CartPole-v1 --methods reinforcelab sb3-ppo --seeds 1

Stable-Baselines3 is a benchmark-only dependency: ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from report import Report, add_write_option


@dataclass(frozen=True)
class SuiteEnv:
    env_id: str
    preset: str  # reinforcelab's preset for this env
    threshold: float  # solved when an evaluation's score reaches this
    minutes: float  # default cap on a run's training clock
    # evaluate only once the last 100 training episodes average this: set far below the
    # threshold, since their mean lags the policy by up to 100 episodes and must not hold back
    # an evaluation the policy could pass
    precheck: float
    score: str = "mean"  # of the evaluation returns, or "mean-std" (the course's score)
    eval_max_t: int = 1000  # step cap of an evaluation episode (above the env's time limit)


# The envs, reinforcelab's preset for each and how a run on it is judged. Pixelcopter: state
# observations, the course's 10,000-step episode cap, and a course score (mean - std) of 100.
# fmt: off
ENVS: tuple[SuiteEnv, ...] = (
    #        env                         preset                         threshold min precheck
    SuiteEnv("CartPole-v1",              "fast-cartpole",                475,  5,   150),
    SuiteEnv("Acrobot-v1",               "fast-acrobot",                -100, 10,  -350),
    SuiteEnv("LunarLander-v3",           "fast-lunarlander",             200, 15,     0),
    SuiteEnv("LunarLanderContinuous-v3", "fast-lunarlander-continuous",  200, 15,     0),
    SuiteEnv("Pendulum-v1",              "fast-pendulum",               -200, 10,  -800),
    SuiteEnv("Pixelcopter-PLE-v0",       "fast-pixelcopter",             100, 15,    10,
             score="mean-std", eval_max_t=10_000),
)
# fmt: on
ENV_BY_ID = {e.env_id: e for e in ENVS}
METHODS = ("reinforcelab", "sb3-ppo", "sb3-a2c")

# --quick: every env and method once, short caps (about 15 minutes in all).
QUICK_SEEDS, QUICK_MINUTES = 1, 0.5

HERE = Path(__file__).resolve().parent


def reinforcelab_config(env: SuiteEnv) -> tuple[Any, str]:
    """The config reinforcelab trains ``env`` with, and its label (the preset's name)."""
    from reinforcelab.config import PRESETS

    return PRESETS[env.preset], f"`{env.preset}`"


def method_settings(spec: RunSpec, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``spec``'s method trains with (its result records it), or ``stored``, a result's
    record, in the same form: a reinforcelab config read back (fields added since take their
    defaults), as JSON reads it back (lists, not tuples)."""
    if spec.method == "reinforcelab":
        from reinforcelab.config import TrainConfig

        if stored is None:
            config = reinforcelab_config(ENV_BY_ID[spec.env_id])[0].replace(seed=spec.seed)
        else:
            config = TrainConfig.from_dict(stored)
        settings = config.to_dict()
    else:
        from suite_zoo import zoo_setup

        settings = stored or zoo_setup(spec.method.removeprefix("sb3-"), spec.env_id).settings()
    return json.loads(json.dumps(settings))


# ---------------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class RunSpec:
    env_id: str
    method: str
    seed: int
    minutes: float
    eval_growth: float

    @property
    def name(self) -> str:
        return f"{self.env_id}-{self.method}-seed{self.seed}"

    def argv(self, out: Path) -> list[str]:
        return [
            sys.executable,
            str(HERE / "suite_run.py"),
            "--env", self.env_id,
            "--method", self.method,
            "--seed", str(self.seed),
            "--minutes", f"{self.minutes:g}",
            "--eval-growth", f"{self.eval_growth:g}",
            "--out", str(out),
        ]  # fmt: skip


def plan(args: argparse.Namespace) -> list[list[RunSpec]]:
    """The runs in order, grouped into what runs side by side (one run a group unless
    ``--parallel``): env by env, method by method, seed by seed."""
    groups = []
    for env_id in args.envs:
        minutes = cap_minutes(args, env_id)
        for method in args.methods:
            specs = [
                RunSpec(env_id, method, seed, minutes, args.eval_growth)
                for seed in range(args.first_seed, args.first_seed + args.seeds)
            ]
            groups += [specs[i : i + args.parallel] for i in range(0, len(specs), args.parallel)]
    return groups


# ---------------------------------------------------------------------------------- running
@contextmanager
def cpu_lock(path: str | None) -> Iterator[None]:
    """Hold ``path``'s flock (the lock ``flock PATH cmd`` takes) while the block runs."""
    if path is None:
        yield
        return
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"  waiting for the lock {path} ...", flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def hard_limit_seconds(spec: RunSpec) -> float:
    """Wall seconds after which a run is killed: its training cap, twice over for evaluations,
    start-up and the update that crosses the cap, plus 10 minutes."""
    return 2 * 60 * spec.minutes + 600


def stored_or_not_run(spec: RunSpec, results_dir: Path) -> dict[str, Any]:
    """``--report-only``: the result already in ``results_dir`` for ``spec``, or a record that says
    the run was not run."""
    old = read_result(results_dir / f"{spec.name}.json")
    if reusable(old, spec):
        return old | {"reused": True}
    return {"spec": spec_dict(spec), "not_run": True}


def reusable(old: dict[str, Any] | None, spec: RunSpec) -> bool:
    """Whether ``old`` (a stored result, or None) is ``spec``'s run with today's settings (one
    trained before a preset or zoo entry changed is not)."""
    if old is None or old.get("spec") != spec_dict(spec) or "settings" not in old:
        return False
    try:
        return method_settings(spec, old["settings"]) == method_settings(spec)
    except ValueError:  # a config this version no longer reads
        return False


def run_group(specs: list[RunSpec], results_dir: Path) -> list[dict[str, Any]]:
    """Run ``specs`` side by side, each in its own process (log and result in ``results_dir``);
    a result already there for the same run and settings is reused."""
    outcomes: dict[RunSpec, dict[str, Any]] = {}
    running = []
    for spec in specs:
        out = results_dir / f"{spec.name}.json"
        old = read_result(out)
        if reusable(old, spec):
            print(f"{spec.name}: reusing {out}", flush=True)
            outcomes[spec] = old | {"reused": True}
            continue
        if old is not None and old.get("spec") == spec_dict(spec):
            print(f"{spec.name}: {out} was trained with other settings; running again", flush=True)
        out.unlink(missing_ok=True)
        log = (results_dir / f"{spec.name}.log").open("w")
        print(f"{spec.name}: running (log: {log.name})", flush=True)
        proc = subprocess.Popen(
            spec.argv(out), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        running.append((spec, proc, out, log, time.monotonic()))
    try:
        while running:
            time.sleep(0.2)
            for item in list(running):
                spec, proc, out, log, started = item
                killed = False
                if proc.poll() is None:
                    if time.monotonic() - started < hard_limit_seconds(spec):
                        continue
                    kill(proc)
                    killed = True
                log.close()
                running.remove(item)
                outcomes[spec] = finished(spec, proc.returncode, out, Path(log.name), killed)
    finally:  # Ctrl-C or a bug here: the runs (in sessions of their own) must not outlive us
        for _, proc, *_ in running:
            kill(proc)
    return [outcomes[spec] for spec in specs]


def kill(proc: subprocess.Popen[bytes]) -> None:
    """End a run: its own process group (its process and any workers it started)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def finished(spec: RunSpec, returncode: int, out: Path, log: Path, killed: bool) -> dict[str, Any]:
    """A run's result, or a failure record that says where its log is."""
    result = read_result(out)
    if returncode == 0 and result is not None:
        print(f"{spec.name}: {result['summary']}", flush=True)
        return result
    why = "killed at the hard time limit" if killed else f"exit status {returncode}"
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    print(f"{spec.name}: FAILED ({why}); the end of {log}:\n{tail}", file=sys.stderr, flush=True)
    return {"spec": spec_dict(spec), "failed": f"{why}, log {log}"}


def read_result(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def spec_dict(spec: RunSpec) -> dict[str, Any]:
    return {
        "env_id": spec.env_id,
        "method": spec.method,
        "seed": spec.seed,
        "minutes": spec.minutes,
        "eval_growth": spec.eval_growth,
    }


# ------------------------------------------------------------------------------------ CLI
def missing_dependency(methods: list[str], envs: list[str]) -> str | None:
    """One line naming what the chosen runs need and is not installed, or None."""
    if any(m.startswith("sb3-") for m in methods) and not module_installed("stable_baselines3"):
        return (
            "Stable-Baselines3 is not installed (the suite's peers): pip install -e '.[bench]', "
            "or run only --methods reinforcelab"
        )
    if any(e.startswith("LunarLander") for e in envs) and not module_installed("Box2D"):
        return "LunarLander needs Box2D: pip install -e '.[bench]'"
    return None


def module_installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", choices=list(ENV_BY_ID), help="default: all")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="default: all")
    parser.add_argument("--seeds", type=positive_int, help="seeds per env and method (default 3)")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, ... (0)")
    parser.add_argument(
        "--minutes",
        nargs="+",
        type=minutes_item,
        metavar="MIN|ENV=MIN",
        help="cap on each run's training clock: MIN for every env, ENV=MIN for one (default: "
        "per env, ENVS' min column: 5 for CartPole, 10 for Acrobot and Pendulum, 15 for the "
        "others)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a reduced suite: {QUICK_SEEDS} seed, {QUICK_MINUTES:g} min per run unless "
        "--seeds/--minutes say otherwise (about 15 minutes for all envs and methods)",
    )
    parser.add_argument(
        "--parallel", type=positive_int, default=1, help="seeds of a method run side by side (1)"
    )
    parser.add_argument(
        "--lock", metavar="PATH", help="hold this flock around each run (default: none)"
    )
    parser.add_argument(
        "--results",
        metavar="DIR",
        type=Path,
        help="keep each run's result (JSON) and log here, and reuse results already there for "
        "the same run and settings (default: a new temporary directory)",
    )
    parser.add_argument(
        "--eval-growth",
        type=positive_float,
        default=0.1,
        help="evaluate once the training clock has grown by this fraction since the last "
        "evaluation (0.1)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: report the runs whose results are in --results, the others as not run",
    )
    add_write_option(parser)
    args = parser.parse_args(argv)
    if args.report_only and args.results is None:
        parser.error("--report-only reports the results in --results DIR: give it")
    args.envs = args.envs or list(ENV_BY_ID)
    args.methods = args.methods or list(METHODS)
    caps = dict(args.minutes or [])
    args.minutes = caps.pop(None, QUICK_MINUTES if args.quick else None)
    args.env_minutes = caps
    if args.quick:
        args.seeds = args.seeds or QUICK_SEEDS
    args.seeds = args.seeds or 3
    return args


def cap_minutes(args: argparse.Namespace, env_id: str) -> float:
    """The training cap of a run on ``env_id``: its own ``--minutes ENV=MIN``, else the bare
    ``--minutes MIN``, else the env's default."""
    fallback = args.minutes if args.minutes is not None else ENV_BY_ID[env_id].minutes
    return float(args.env_minutes.get(env_id, fallback))


def minutes_item(text: str) -> tuple[str | None, float]:
    """``MIN`` (every env) or ``ENV=MIN`` (one env) of ``--minutes``."""
    env_id, _, minutes = text.rpartition("=")
    if env_id and env_id not in ENV_BY_ID:
        raise argparse.ArgumentTypeError(f"{env_id!r} is not a suite env ({', '.join(ENV_BY_ID)})")
    return env_id or None, positive_float(minutes)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1; got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive; got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = None if args.report_only else missing_dependency(args.methods, args.envs)
    if problem:
        print(f"suite.py: {problem}", file=sys.stderr)
        return 2
    args.results = args.results or Path(tempfile.mkdtemp(prefix="suite-"))
    args.results.mkdir(parents=True, exist_ok=True)
    print(f"results and logs: {args.results}", flush=True)

    from suite_report import write_report

    started = time.monotonic()
    results = []
    for group in plan(args):
        if args.report_only:
            results += [stored_or_not_run(spec, args.results) for spec in group]
            continue
        with cpu_lock(args.lock):
            results += run_group(group, args.results)
    report = Report("Benchmark suite: reinforcelab, SB3 PPO and A2C", args.write)
    write_report(report, results, args, time.monotonic() - started)
    report.save()
    return 1 if any("failed" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
