"""Why training runs numpy's BLAS on one thread: fast mode alone and two trainings side by side.

Each measurement is a fresh process training `fast-cartpole` with 1024 envs for 4M env steps from
scratch; "side by side" starts two such processes at once (on a 2-core machine, one per core).
"numpy's default" lifts reinforcelab's one-thread limit, so OpenBLAS uses its default pool (one
thread per core), whose threads busy-wait between the many tiny matrix products.

    python benchmarks/threads.py                 # table: env steps/s and CPU seconds per process
    python benchmarks/threads.py --write docs/benchmarks/threads.md   # ... also saved in the docs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from report import Report, add_write_option


def child(blas: str, steps: int, seed: int) -> None:
    import reinforcelab
    from reinforcelab import loops

    if blas == "default":
        loops.TrainingLoop.threads = lambda self: contextlib.nullcontext()
    agent = reinforcelab.Reinforce(
        "CartPole-v1",
        preset="fast-cartpole",
        seed=seed,
        device="cpu",
        num_envs=1024,
        total_env_steps=steps,
    )
    agent.learn()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "steps_per_second": agent.loop.env_steps / agent.loop.wall_seconds,
                "wall": agent.loop.wall_seconds,
                "cpu": usage.ru_utime + usage.ru_stime,
            }
        )
    )


def run(blas: str, processes: int, steps: int, seed: int) -> list[dict]:
    cmd = [sys.executable, __file__, "--child", blas, "--steps", str(steps)]
    procs = [
        subprocess.Popen([*cmd, "--seed", str(seed + i)], stdout=subprocess.PIPE, text=True)
        for i in range(processes)
    ]
    return [json.loads(p.communicate()[0]) for p in procs]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", choices=["one", "default"], help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=4_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each setting (seeds 0, 2, 4, ...)"
    )
    add_write_option(parser)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.steps, args.seed)
        return

    report = Report("BLAS threads: one or numpy's default", args.write)
    report.line(
        f"fast-cartpole, 1024 envs, first {args.steps:,} env steps from scratch; "
        f"{os.cpu_count()} cores; medians over {args.repeats} runs\n"
    )
    report.header(
        "BLAS threads",
        "processes at once",
        "env steps/s per process",
        "CPU s per process (whole process)",
        "training wall s",
    )
    for blas, label in (("one", "one (reinforcelab)"), ("default", "numpy's default")):
        for processes in (1, 2):
            results = []
            for r in range(args.repeats):
                results += run(blas, processes, args.steps, 2 * r)
                time.sleep(0.5)
            med = {k: statistics.median(x[k] for x in results) for k in results[0]}
            report.row(
                label,
                processes,
                f"{med['steps_per_second']:,.0f}",
                f"{med['cpu']:.1f}",
                f"{med['wall']:.2f}",
            )
    report.save()


if __name__ == "__main__":
    main()
