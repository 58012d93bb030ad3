"""Every path the user gives that cannot be written ends in one line naming the path and the reason
(exit code 2 on the command line, a ``UserError`` from Python), before any work is done, never a
``PermissionError`` traceback.

The tests run as root, which permission bits do not stop, so the unwritable paths are ones that
stop root too: a path through a regular file, /sys and /proc (the kernel refuses new entries
there), and folders whose writes are made to fail (read-only file system, an immutable folder)
by refusing ``os.open`` / ``os.mkdir`` inside them.
"""

import errno
import os
from pathlib import Path

import pytest
from cli_helpers import invoke, one_line_error

import reinforcelab
from reinforcelab.errors import UserError

#: option -> the command line that writes to it; {path} is the path under test
WRITERS = {
    "train --out": ["train", "CartPole-v1", "--episodes", 2, "--out", "{path}"],
    "train --tensorboard": ["train", "CartPole-v1", "--episodes", 2, "--tensorboard", "{path}"],
    "record --out": ["record", "{run}", "--out", "{path}.mp4"],
    "plot --out": ["plot", "{run}", "--out", "{path}.png"],
    "push --dry-run": ["push", "{run}", "--repo-id", "me/agent", "--dry-run", "{path}"],
    "enjoy --record": ["enjoy", "{run}", "--record", "{path}.gif"],
    "sweep --out": ["sweep", "--preset", "fast-cartpole", "--param", "lr=0.1", "--out", "{path}"],
    "sweep --tensorboard": ["sweep", "--preset", "fast-cartpole", "--tensorboard", "{path}"],
}
LOCKED = {"read-only": errno.EROFS, "immutable": errno.EPERM, "no permission": errno.EACCES}


@pytest.fixture
def locked(tmp_path, monkeypatch):
    """Folders where creating anything fails with the errno of their name, as on a read-only
    file system, an immutable (chattr +i) folder, or one without write permission."""
    folders = {name: tmp_path / name.replace(" ", "-") for name in LOCKED}
    for folder in folders.values():
        folder.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def refused(path):
        for name, folder in folders.items():
            if Path(os.fspath(path)).parent == folder:
                return OSError(LOCKED[name], os.strerror(LOCKED[name]), os.fspath(path))
        return None

    tmpfile = getattr(os, "O_TMPFILE", 0)

    def open_(path, flags, *args, **kwargs):
        if (flags & os.O_CREAT) and (exc := refused(path)):
            raise exc
        # an unnamed file (O_TMPFILE) is created inside the folder it opens
        if tmpfile and flags & tmpfile == tmpfile and (exc := refused(Path(path) / "unnamed")):
            raise exc
        return real_open(path, flags, *args, **kwargs)

    def mkdir(path, *args, **kwargs):
        if exc := refused(path):
            raise exc
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "mkdir", mkdir)
    return folders


def unwritable(tmp_path, locked) -> dict[str, tuple[Path, str]]:
    """Paths that cannot be created, and the reason the error must give."""
    regular = tmp_path / "regular-file"
    regular.write_text("not a folder")
    return {
        "through a file": (regular / "out", "regular-file is a file, not a folder"),
        "deep through a file": (regular / "a" / "b", "regular-file is a file, not a folder"),
        "sysfs (root too)": (Path("/sys/reinforcelab-test"), "Permission denied"),
        "procfs (root too)": (Path("/proc/reinforcelab-test"), "/proc is not writable"),
        **{
            f"{name} folder": (folder / "out", os.strerror(LOCKED[name]))
            for name, folder in locked.items()
        },
    }


def command(writer: str, path: Path, run: Path) -> list[str]:
    return [str(a).format(path=path, run=run) for a in WRITERS[writer]]


@pytest.mark.parametrize("writer", WRITERS)
def test_an_unwritable_path_is_one_line_before_any_work(
    writer, tmp_path, in_tmp, cartpole_run, locked, monkeypatch
):
    def no_work(*args, **kwargs):
        raise AssertionError("work started before the path was checked")

    # nothing is loaded, trained, evaluated, recorded or plotted before the paths are checked
    for name in ("load_agent", "train_run", "resume_run", "plot_run", "record_replay"):
        monkeypatch.setattr(f"reinforcelab.cli.{name}", no_work)
    monkeypatch.setattr("reinforcelab.publish.publish_run", no_work)
    monkeypatch.setattr("reinforcelab.sweep.driver.run_sweep", no_work)
    option = writer.split()[1]
    for case, (path, reason) in unwritable(tmp_path, locked).items():
        line = one_line_error(invoke(*command(writer, path, cartpole_run)))
        assert option in line and str(path) in line and reason in line, (case, line)
    assert not (in_tmp / "runs").exists()


@pytest.mark.parametrize("writer", WRITERS)
def test_a_file_where_a_folder_goes_and_the_reverse(writer, in_tmp, cartpole_run):
    folder_option = writer in ("train --out", "train --tensorboard", "push --dry-run") or (
        writer.startswith("sweep")
    )
    taken = in_tmp / "taken"
    if folder_option:
        taken.write_text("a file")
        expected = "is a file, not a folder"
    else:  # the command adds the suffix: make a folder of that name
        suffix = WRITERS[writer][-1].removeprefix("{path}")
        Path(f"{taken}{suffix}").mkdir()
        expected = "is a folder, not a file"
    line = one_line_error(invoke(*command(writer, taken, cartpole_run)))
    assert writer.split()[1] in line and expected in line


def test_the_python_api_refuses_unwritable_paths_the_same_way(tmp_path, cartpole_run, locked):
    from reinforcelab.artifacts.hub import write_hub_folder, write_manifest
    from reinforcelab.artifacts.plots import plot_learning_curves
    from reinforcelab.artifacts.video import record_video
    from reinforcelab.playback import record_replay
    from reinforcelab.publish import publish_run
    from reinforcelab.run import train_run
    from reinforcelab.tensorboard import TensorBoardScalars

    agent = reinforcelab.load(cartpole_run)
    config = reinforcelab.preset("course-cartpole").replace(n_episodes=2)
    results = {"env_id": "CartPole-v1", "mean_reward": 1.0, "std_reward": 0.0}
    writers = [  # (the argument named in the error, a call writing to the path p)
        ("out", lambda p: train_run(config, p, progress=False)),
        ("out", lambda p: record_replay(agent, Path(f"{p}.mp4"))),
        ("out_path", lambda p: plot_learning_curves([cartpole_run], Path(f"{p}.png"))),
        ("dry_run", lambda p: publish_run(cartpole_run, "me/agent", dry_run=p)),
        ("out_dir", lambda p: write_hub_folder(cartpole_run, p, results, "me/agent")),
        ("manifest_path", lambda p: write_manifest(cartpole_run, Path(f"{p}.json"), "me/agent")),
        ("path", lambda p: record_video(lambda obs: 0, None, Path(f"{p}.gif"))),
        ("logdir", lambda p: TensorBoardScalars(p)),
    ]
    for argument, write in writers:
        for case, (path, reason) in unwritable(tmp_path, locked).items():
            with pytest.raises(UserError) as caught:
                write(path)
            message = str(caught.value)
            assert "\n" not in message and message.startswith(f"{argument} "), (case, message)
            assert str(path) in message and reason in message, (case, message)
    assert not list((tmp_path / "read-only").iterdir())


def test_a_write_that_fails_after_the_check_is_one_line_too(in_tmp, cartpole_run, monkeypatch):
    """The folder was writable when checked and is not when written (a disk that filled up, a
    permission changed meanwhile): still one line, the file left as it was."""
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).suffix in (".png", ".mp4"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(dst))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    line = one_line_error(invoke("plot", cartpole_run, "--out", "curve.png"))
    assert line == "error: cannot write curve.png: Permission denied (EACCES)"
    line = one_line_error(invoke("record", cartpole_run, "--out", "replay.mp4", "--max-steps", 5))
    assert line == "error: cannot write replay.mp4: Permission denied (EACCES)"
    assert sorted(p.name for p in in_tmp.iterdir()) == []  # no partial files left behind


def test_a_writable_path_passes_and_is_left_as_it_was(tmp_path):
    """The check tries a write and removes what it made; folders that do not exist yet are not
    created by the check."""
    from reinforcelab.checks import WRITABLE_FILE, WRITABLE_FOLDER

    existing = tmp_path / "existing"
    existing.mkdir()
    assert WRITABLE_FOLDER.check("out", existing) == existing
    assert WRITABLE_FOLDER.check("out", str(tmp_path / "new" / "deeper")) == tmp_path / "new/deeper"
    assert WRITABLE_FILE.check("out", tmp_path / "new" / "curve.png") == tmp_path / "new/curve.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]
    assert list(existing.iterdir()) == []


def test_the_write_check_names_no_file_where_the_file_system_can(tmp_path, monkeypatch):
    """An unnamed file (O_TMPFILE) is the probe where the file system has them, so a process
    killed during the check leaves nothing in the user's folder."""
    import tempfile

    from reinforcelab.checks import WRITABLE_FOLDER

    try:
        os.close(os.open(tmp_path, os.O_TMPFILE | os.O_WRONLY, 0o600))
    except (AttributeError, OSError):
        pytest.skip("no O_TMPFILE here")

    def named(*args, **kwargs):
        raise AssertionError("the check made a named file")

    monkeypatch.setattr(tempfile, "mkstemp", named)
    assert WRITABLE_FOLDER.check("out", tmp_path) == tmp_path
    assert list(tmp_path.iterdir()) == []


def test_a_path_that_cannot_be_read_is_one_line(in_tmp, cartpole_run, monkeypatch):
    """Folders and files given to read (a run to resume or plot, a sweep file) are tried too."""
    sweep_file = in_tmp / "sweep.toml"
    sweep_file.write_text('preset = "fast-cartpole"\n')
    real_scandir, real_open = os.scandir, open

    def scandir(path="."):
        if Path(path) == cartpole_run:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_scandir(path)

    def open_(path, *args, **kwargs):
        if Path(os.fspath(path)) == sweep_file:
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr("builtins.open", open_)
    for args, name in [
        (["train", "--resume", cartpole_run], "--resume"),
        (["plot", cartpole_run], "RUNS"),
        (["push", cartpole_run, "--repo-id", "me/agent", "--dry-run", "hub"], "RUN"),
        (["sweep", sweep_file], "FILE"),
    ]:
        line = one_line_error(invoke(*args))
        assert line.startswith(f"error: {name} ") and "cannot be read (Permission denied)" in line
