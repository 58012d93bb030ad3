"""Ctrl-C: real SIGINTs sent to the command's process group (as a terminal's Ctrl-C is) at several
moments, while it imports, trains and evaluates. Every command ends with exit code 130, the
shell's, without a traceback; train saves the run first and says how to continue it."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import reinforcelab

# The console script's entry point (pyproject's [project.scripts]), importable from here.
SITE = str(Path(reinforcelab.__file__).parents[1])
LAUNCH = [sys.executable, "-m", "_reinforcelab_launcher"]


def start(*args: object, importtime: bool = False) -> subprocess.Popen:
    python = [LAUNCH[0], "-X", "importtime", *LAUNCH[1:]] if importtime else LAUNCH
    env = {**os.environ, "PYTHONPATH": SITE, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [*python, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, which the Ctrl-C goes to
    )


def ctrl_c(process: subprocess.Popen) -> tuple[int, str, str]:
    assert process.poll() is None, "the command ended before the Ctrl-C"
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def assert_interrupted(code: int, err: str) -> None:
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.rstrip().splitlines()[-1] == "error: interrupted", err


@pytest.mark.parametrize("module", ["reinforcelab._version", "numpy", "gymnasium", "typer"])
def test_ctrl_c_while_the_command_line_imports(module):
    """The SIGINT goes out as soon as ``module`` has been imported, while the rest of the command
    line still imports (Python's -X importtime reports each import as it finishes)."""
    process = start("presets", importtime=True)
    finished = re.compile(rf"\|\s+{re.escape(module)}$")
    seen = []
    for line in process.stderr:
        seen.append(line)
        if finished.search(line.rstrip()):
            break
    else:
        raise AssertionError(f"{module} was never imported:\n{''.join(seen)}")
    code, out, err = ctrl_c(process)
    err = "".join(seen) + err
    # the last import of the command line (importtime also reports an import that failed)
    assert not re.search(r"\|\s+reinforcelab\.sweep\.cli$", err, re.M), "imports had finished"
    assert out == ""
    assert_interrupted(code, err)


def test_ctrl_c_while_training_saves_the_run_and_exits_130(tmp_path):
    run = tmp_path / "run"
    process = start(
        "train", "CartPole-v1", "--episodes", 1_000_000, "--seed", 0, "--out", run,
        "--no-progress", "--no-plot",
    )  # fmt: skip
    metrics = run / "metrics.csv"
    deadline = time.monotonic() + 60
    while not (metrics.exists() and len(metrics.read_text().splitlines()) > 20):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    code, out, err = ctrl_c(process)
    assert_interrupted(code, err)
    assert "interrupted (Ctrl-C)" in out
    assert f"continue with: reinforcelab train --resume {run}" in out
    assert {"config.json", "model.safetensors", "resume.safetensors", "results.json"} <= {
        p.name for p in run.iterdir()
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_ctrl_c_while_evaluating_exits_130(cartpole_run):
    process = start("evaluate", cartpole_run, "--episodes", 1_000_000)
    # Starting up and loading the agent take about a second of CPU, evaluating 1,000,000 episodes
    # (in rounds of 256) over 20: at 3 seconds it is evaluating, however busy the machine.
    while cpu_seconds(process.pid) < 3:
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    code, out, err = ctrl_c(process)
    assert out == ""
    assert_interrupted(code, err)
