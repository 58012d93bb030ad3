"""Ctrl-C: real SIGINTs sent to the command's process group (as a terminal's Ctrl-C is) at several
moments, while it imports, trains and evaluates. Every command ends with exit code 130, the
shell's, without a traceback; train saves the run first and says how to continue it."""

import os
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


def start(*args: object, code: str | None = None) -> subprocess.Popen:
    """The command with ``args``, or ``python -c code`` with them."""
    python = [sys.executable, "-c", code] if code is not None else LAUNCH
    env = {**os.environ, "PYTHONPATH": SITE, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [*python, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, which the Ctrl-C goes to
        # as from a terminal: a shell's background job (pytest run with `&`) ignores SIGINT, and
        # its children would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
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


# Runs the command line in a child that holds still at its first import after ``MODULE`` has
# started importing (an audit hook, which Python calls before every module it loads), so the
# Ctrl-C lands mid-import however fast or busy the machine is.
PAUSED_IMPORT = """
import sys, time
def hold(event, args):
    if event == "import" and MODULE in sys.modules and not hold.done:
        hold.done = True
        last = "reinforcelab.sweep.cli" in sys.modules  # the command line's last import
        sys.stderr.write(f"holding at {args[0]}; last import started: {last}\\n")
        sys.stderr.flush()
        time.sleep(120)
hold.done = False
sys.addaudithook(hold)
import _reinforcelab_launcher
_reinforcelab_launcher.main()
"""


@pytest.mark.parametrize("module", ["reinforcelab._version", "numpy", "gymnasium", "typer"])
def test_ctrl_c_while_the_command_line_imports(module):
    """The SIGINT goes out while the command line is importing, once ``module`` has started."""
    process = start("presets", code=f"MODULE = {module!r}\n{PAUSED_IMPORT}")
    assert process.stderr is not None
    held = process.stderr.readline()
    assert held.startswith("holding at ") and held.endswith("last import started: False\n"), (
        held + process.communicate()[1]
    )
    code, out, err = ctrl_c(process)
    assert out == ""
    assert_interrupted(code, held + err)


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
