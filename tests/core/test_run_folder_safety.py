"""A run folder has one writer at a time, appears complete, survives a failed write, and every
reader refuses a damaged file in one line instead of using it.

Concurrent processes and SIGKILL at random moments are in tests/core/test_crash_safety.py.
"""

from __future__ import annotations

import errno
import json
import os
import pathlib
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, one_line_error

import reinforcelab
from reinforcelab.artifacts.checkpoint import CheckpointError, save_resume_state
from reinforcelab.artifacts.files import LOCK_FILE, WriteError
from reinforcelab.artifacts.plots import PlotError
from reinforcelab.callbacks import Callback
from reinforcelab.config import preset
from reinforcelab.run import RunFolderBusy, RunLock, resume_run, train_run

# About a tenth of a second of training: 19 updates, checkpoints every 4.
CONFIG = preset("fast-cartpole").replace(seed=5, num_envs=8, total_env_steps=3000)
EVERY = 4


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished run folder; tests copy it, never write into it."""
    out = tmp_path_factory.mktemp("safety") / "run"
    train_run(CONFIG, out, progress=False, checkpoint_every=EVERY)
    return out


@pytest.fixture
def run(finished, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


# ----------------------------------------------------------------------------- one writer
def test_a_held_folder_refuses_every_other_writer_and_is_left_as_it_was(run, tmp_path):
    before = snapshot(run)
    with RunLock(run).acquire():
        pid = (run / LOCK_FILE).read_text().strip()
        assert pid == str(os.getpid())
        with pytest.raises(RunFolderBusy, match=rf"pid {pid}\b"):
            train_run(CONFIG, run, overwrite=True, progress=False)
        with pytest.raises(RunFolderBusy, match=rf"pid {pid}\b"):
            resume_run(run, progress=False, total_env_steps=6000)
        for args in (
            ["train", "CartPole-v1", "--out", run, "--overwrite", "--episodes", 3],
            ["train", "--resume", run, "--total-steps", 6000],
        ):
            line = one_line_error(invoke(*args, "--no-progress"))
            assert f"pid {pid}" in line and "one writer at a time" in line
        assert snapshot(run) == {**before, LOCK_FILE: f"{pid}\n".encode()}
    # Released: the lock file goes with it, and the folder takes a writer again.
    assert snapshot(run) == before
    assert resume_run(run, progress=False, total_env_steps=4000).summary["train_env_steps"] > 4000
    assert not (run / LOCK_FILE).exists()


def test_the_lock_is_held_by_another_process_for_the_whole_run(run, tmp_path):
    """A lock held by a real other process (here: a child that takes it and waits)."""
    code = (
        "import sys, time\n"
        "from reinforcelab.run import RunLock\n"
        f"lock = RunLock({str(run)!r}).acquire()\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "locked"
        line = one_line_error(invoke("train", "--resume", run, "--total-steps", 9000))
        assert f"(pid {child.pid})" in line
    finally:
        child.stdin.close()
        child.wait(timeout=30)
    assert invoke("train", "--resume", run, "--total-steps", 4000, "--no-progress").exit_code == 0


def test_a_killed_holder_leaves_a_lock_file_that_the_next_writer_takes_over(run):
    (run / LOCK_FILE).write_text("999999\n")  # as a SIGKILLed writer leaves it: unlocked
    resume_run(run, progress=False, total_env_steps=4000)
    assert not (run / LOCK_FILE).exists()


# ----------------------------------------------------------------------------- new folders
def test_a_new_folder_is_built_beside_out_and_appears_complete(tmp_path, monkeypatch):
    import reinforcelab.artifacts.checkpoint as checkpoint

    out = tmp_path / "fresh"
    seen = []
    real = checkpoint.atomic_write_bytes

    def watching(path, data):
        seen.append((Path(path).parent.name, out.exists()))
        return real(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", watching)
    train_run(CONFIG, out, progress=False, checkpoint_every=EVERY)
    step_0 = seen[:3]  # config.json, model.safetensors, resume.safetensors of step 0
    assert [name.startswith(".fresh.new.") for name, _ in step_0] == [True] * 3, seen
    assert not any(exists for _, exists in step_0)  # out did not exist while they were written
    assert [p.name for p in tmp_path.iterdir()] == ["fresh"]  # nothing left beside it


def test_a_failure_while_building_the_folder_leaves_nothing(tmp_path, monkeypatch):
    fail_writes(monkeypatch, "resume.safetensors", errno.EIO)
    with pytest.raises(WriteError, match=r"resume\.safetensors: Input/output error"):
        train_run(CONFIG, tmp_path / "never", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_leftovers_of_a_killed_writer_are_removed_and_a_live_writers_are_kept(tmp_path):
    stale = tmp_path / ".out.new.dead0001"
    stale.mkdir()
    (stale / LOCK_FILE).write_text("999999\n")  # its writer was killed: the lock is free
    (stale / "config.json").write_text("{}")
    live = tmp_path / ".out.new.live0001"
    live.mkdir()
    with RunLock(live).acquire():
        train_run(CONFIG, tmp_path / "out", progress=False)
        assert sorted(p.name for p in tmp_path.iterdir()) == [".out.new.live0001", "out"]


def test_overwrite_keeps_your_files_and_replaces_the_run_whole(run):
    (run / "notes.txt").write_text("mine")
    (run / "sub").mkdir()
    (run / "sub" / "more.txt").write_text("also mine")
    old_metrics = (run / "metrics.csv").read_bytes()
    train_run(CONFIG.replace(seed=6), run, overwrite=True, progress=False)
    assert (run / "notes.txt").read_text() == "mine"
    assert (run / "sub" / "more.txt").read_text() == "also mine"
    assert (run / "metrics.csv").read_bytes() != old_metrics
    assert json.loads((run / "config.json").read_text())["config"]["seed"] == 6
    assert [p.name for p in run.parent.iterdir()] == ["run"]


# ----------------------------------------------------------------------------- failed writes
class SnapshotAt(Callback):
    """Copies the folder's checkpoint files right after the checkpoint at update ``n``."""

    def __init__(self, folder: Path, n: int) -> None:
        self.folder, self.n, self.files = folder, n, {}

    def on_update(self, trainer, records):
        if trainer.updates == self.n:
            self.files = {
                name: (self.folder / name).read_bytes()
                for name in ("config.json", "model.safetensors", "resume.safetensors")
            }


def episodes(folder: Path) -> list[list[str]]:
    """metrics.csv without its wall-clock column."""
    return [line.split(",")[:4] for line in (folder / "metrics.csv").read_text().splitlines()]


def fail_writes(monkeypatch, name: str, error: int, after: int = 0) -> None:
    """Make writing a file called ``name`` (or its temporary file) fail with ``error`` after
    ``after`` successful writes: at the low-level ``os.write``, and in ``Path.write_bytes`` /
    ``write_text`` for code that writes through those."""
    stem, suffix = os.path.splitext(name)
    calls = {"n": 0}

    def hit(path: str) -> bool:
        base = os.path.basename(path)
        if not (base == name or (base.startswith(f".{stem}.") and base.endswith(suffix))):
            return False
        calls["n"] += 1
        return calls["n"] > after

    real_write = os.write

    def write(fd, data):
        if hit(os.readlink(f"/proc/self/fd/{fd}")):
            raise OSError(error, os.strerror(error))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    for method in ("write_bytes", "write_text"):
        real = getattr(pathlib.Path, method)

        def patched(self, data, *args, _real=real, **kwargs):
            if hit(str(self)):
                raise OSError(error, os.strerror(error))
            return _real(self, data, *args, **kwargs)

        monkeypatch.setattr(pathlib.Path, method, patched)


@pytest.mark.parametrize(
    "name, error",
    [
        ("model.safetensors", errno.ENOSPC),
        ("resume.safetensors", errno.EIO),
        ("model.safetensors", errno.EIO),
        ("resume.safetensors", errno.ENOSPC),
    ],
)
def test_a_failed_checkpoint_write_keeps_the_previous_checkpoint(
    tmp_path, monkeypatch, name, error
):
    whole = train_run(CONFIG, tmp_path / "whole", progress=False, checkpoint_every=EVERY)
    out = tmp_path / "run"
    snap = SnapshotAt(out, 2 * EVERY)
    # step 0 and the checkpoints at updates 4 and 8 are written; the one at 12 fails
    fail_writes(monkeypatch, name, error, after=3)
    with pytest.raises(WriteError) as caught:
        train_run(CONFIG, out, progress=False, checkpoint_every=EVERY, extra_callbacks=[snap])
    monkeypatch.undo()
    message = str(caught.value)
    assert "\n" not in message
    assert f"cannot write {out / name}: {os.strerror(error)}" in message
    assert errno.errorcode[error] in message and "checkpoint of update 8" in message
    assert snapshot(out).keys() >= {"config.json", "model.safetensors", "resume.safetensors"}
    for file, content in snap.files.items():  # the previous checkpoint, intact
        assert (out / file).read_bytes() == content, file
    assert not (out / "results.json").exists()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    reinforcelab.load(out)
    resumed = resume_run(out, progress=False)
    for key, array in whole.agent.weights().items():
        assert np.array_equal(array, resumed.agent.weights()[key]), key
    assert episodes(out) == episodes(tmp_path / "whole")


def test_a_failed_metrics_write_is_undone_and_said_in_one_line(tmp_path, monkeypatch):
    out = tmp_path / "run"
    fail_writes(monkeypatch, "metrics.csv", errno.ENOSPC, after=6)
    result = invoke(
        "train", "CartPole-v1", "--preset", "fast-cartpole", "--seed", 5, "--set", "num_envs=8",
        "--total-steps", 3000, "--checkpoint-every", EVERY, "--out", out, "--no-progress",
    )  # fmt: skip
    monkeypatch.undo()
    line = one_line_error(result)
    assert f"cannot write {out / 'metrics.csv'}: No space left on device (ENOSPC)" in line
    assert "checkpoint of update 4" in line and "--resume" in line
    # Whole rows only, and the checkpoint does not run ahead of them.
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("episode,") and all(r.count(",") == 4 for r in rows)
    assert resume_run(out, progress=False).summary["stop_reason"] == "budget reached"


# ----------------------------------------------------------------------------- damaged files
def rows_of(run: Path) -> list[str]:
    return (run / "metrics.csv").read_text().splitlines(keepends=True)


def damage_metrics(change):
    def apply(run: Path) -> None:
        lines = rows_of(run)
        (run / "metrics.csv").write_text("".join(change(lines)))

    return apply


def swap(lines, i, j):
    lines = list(lines)
    lines[i], lines[j] = lines[j], lines[i]
    return lines


def more_rows(lines, n):
    """``n`` well-formed rows continuing ``lines`` (episodes and env steps counting on)."""
    episode, _, _, steps, _ = lines[-1].split(",")
    return [f"{int(episode) + i},20,20,{int(steps) + 20 * i},0.5\n" for i in range(1, n + 1)]


def with_field(line, index, value):
    fields = line.rstrip("\n").split(",")
    fields[index] = value
    return ",".join(fields) + "\n"


DAMAGE = {
    # metrics.csv
    "a second header": damage_metrics(lambda ls: ls[:10] + ls[:1] + ls[10:]),
    "a header after a second writer's rows": damage_metrics(lambda ls: ls + ls),
    "rows appended twice": damage_metrics(lambda ls: ls + ls[1:]),
    "more rows than the run trained": damage_metrics(lambda ls: ls + more_rows(ls, 5)),
    "fewer rows than the run trained": damage_metrics(lambda ls: ls[:-3]),
    "only the header": damage_metrics(lambda ls: ls[:1]),
    "an empty file": damage_metrics(lambda ls: []),
    "episodes out of order": damage_metrics(lambda ls: swap(ls, 3, 4)),
    "a malformed row": damage_metrics(lambda ls: ls[:5] + ["5,x,12,40,0.1\n"] + ls[6:]),
    "a short row": damage_metrics(lambda ls: ls[:5] + ["5,12,12\n"] + ls[6:]),
    "a blank line": damage_metrics(lambda ls: ls[:5] + ["\n"] + ls[5:]),
    "an unfinished last row": damage_metrics(lambda ls: ls[:-1] + [ls[-1][:6]]),
    "env steps going down": damage_metrics(
        lambda ls: ls[:5] + [with_field(ls[5], 3, "1")] + ls[6:]
    ),
    # the other files
    "config.json not JSON": lambda run: (run / "config.json").write_text('{"format": "reinf'),
    "results.json not JSON": lambda run: (run / "results.json").write_text("{"),
    "results.json without the training": lambda run: (run / "results.json").write_text("{}"),
    "resume.safetensors truncated": lambda run: (run / "resume.safetensors").write_bytes(
        (run / "resume.safetensors").read_bytes()[:100]
    ),
    "resume.safetensors of something else": lambda run: shutil.copy(
        run / "model.safetensors", run / "resume.safetensors"
    ),
    "model.safetensors truncated": lambda run: (run / "model.safetensors").write_bytes(
        (run / "model.safetensors").read_bytes()[:50]
    ),
}
#: Which readers read each file (plot reads metrics.csv, config.json and results.json; resume
#: reads them all; evaluate (load) reads config.json and model.safetensors, and push those and
#: results.json).
READERS = {
    "metrics": ("plot", "resume"),
    "config.json": ("plot", "resume", "evaluate", "push"),
    "results.json": ("plot", "resume", "push"),
    "resume.safetensors": ("resume",),
    "model.safetensors": ("resume", "evaluate", "push"),
}


def readers_of(case: str) -> tuple[str, ...]:
    if case == "results.json without the training":  # a Hub folder's results.json is like it
        return ("plot", "resume")
    for file, readers in READERS.items():
        if case.startswith(file):
            return readers
    return READERS["metrics"]


CASES = [(case, reader) for case in DAMAGE for reader in readers_of(case)]


@pytest.mark.parametrize("case, reader", CASES, ids=[f"{c}-{r}" for c, r in CASES])
def test_a_damaged_file_is_named_in_one_line_and_not_used(run, tmp_path, case, reader):
    DAMAGE[case](run)
    before = snapshot(run)
    args = {
        "plot": ["plot", run, "--out", tmp_path / "curve.png"],
        "resume": ["train", "--resume", run, "--total-steps", 6000, "--no-progress"],
        "evaluate": ["evaluate", run, "--episodes", 2],
        "push": ["push", run, "--repo-id", "user/x", "--dry-run", tmp_path / "hub", "--no-video"],
    }[reader]
    line = one_line_error(invoke(*args))
    assert str(run) in line and any(
        word in line for word in ("damaged", "corrupt", "not valid JSON", "not a readable")
    ), line
    assert snapshot(run) == before  # nothing was changed (or trained)
    assert not (tmp_path / "curve.png").exists() and not (tmp_path / "hub").exists()


def test_rows_after_the_last_checkpoint_of_a_killed_run_are_plotted_and_then_cut(run):
    """A killed run has no results.json, and metrics.csv may run ahead of its last checkpoint:
    that is no damage. Resuming cuts the extra rows (training writes them again)."""
    (run / "results.json").unlink()
    lines = rows_of(run)
    (run / "metrics.csv").write_text("".join(lines + more_rows(lines, 3)))
    assert invoke("plot", run, "--out", run.parent / "c.png").exit_code == 0
    with pytest.raises(PlotError, match="damaged"):  # but not rows that do not fit
        bad = run.parent / "bad"
        shutil.copytree(run, bad)
        (bad / "metrics.csv").write_text("".join(lines[:-2]))
        resume_run(bad, progress=False)
    resumed = resume_run(run, progress=False, total_env_steps=4000)
    assert len(rows_of(run)) == 1 + resumed.summary["train_episodes"]


def test_resume_refuses_a_missing_metrics_file(run):
    (run / "metrics.csv").unlink()
    with pytest.raises(PlotError, match="missing or empty, but the checkpoint is at episode"):
        resume_run(run, progress=False, total_env_steps=6000)


def test_resume_refuses_metrics_of_another_run(run, tmp_path):
    other = tmp_path / "other"
    train_run(CONFIG.replace(seed=9), other, progress=False)
    shutil.copy(other / "metrics.csv", run / "metrics.csv")
    (run / "results.json").unlink()
    with pytest.raises(PlotError, match=r"does not belong to this run's checkpoint|damaged"):
        resume_run(run, progress=False)


def test_a_damaged_resume_state_is_a_checkpoint_error(run):
    save_resume_state(run, {"counters": {"episodes": "many"}, "run_options": {}})
    with pytest.raises(CheckpointError, match="damaged"):
        resume_run(run, progress=False, total_env_steps=6000)


class Unpickled(Exception):
    """Raised by unpickling ``Trap``: proof that a pickle was loaded."""


class Trap:
    def __reduce__(self):
        return (Unpickled, ("a resume.pkl was unpickled",))


def test_a_resume_pkl_that_holds_more_than_data_is_refused_and_never_unpickled(run):
    # reinforcelab 0.1 wrote resume.pkl (tests/core/test_v01_folders.py resumes such folders);
    # its reader builds arrays and containers only
    (run / "resume.safetensors").rename(run / "resume.pkl")
    (run / "resume.pkl").write_bytes(pickle.dumps(Trap()))
    with pytest.raises(CheckpointError, match="which a resume state never holds; not loaded"):
        resume_run(run, progress=False, total_env_steps=6000)
    result = invoke("train", "--resume", run, "--total-steps", 6000, "--no-progress")
    assert "never holds" in one_line_error(result)


def test_train_leaves_no_lock_file_or_temporary_file_behind(tmp_path):
    out = tmp_path / "r"
    result = invoke(
        "train", "CartPole-v1", "--preset", "fast-cartpole", "--total-steps", 2000,
        "--out", out, "--no-progress", "--checkpoint-every", 1,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["config.json", "curve.png", "metrics.csv", "model.safetensors", "resume.safetensors",
         "results.json"]
    )  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
