"""The files of a run folder: their modes follow the umask, and the same seed writes a
byte-identical model file."""

import os
import stat
import subprocess
import sys

from cli_helpers import invoke


def test_files_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "perm"
        result = invoke(
            "train",
            "CartPole-v1",
            "--preset",
            "fast-cartpole",
            "--total-steps",
            3000,
            "--out",
            out,
            "--no-progress",
            "--record",
        )
        assert result.exit_code == 0, result.output
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert {
        "curve.png",
        "model.safetensors",
        "replay.mp4",
        "config.json",
        "resume.safetensors",
    } <= set(modes)
    assert set(modes.values()) == {0o640}, modes
    assert stat.S_IMODE(out.stat().st_mode) == 0o750


def test_same_seed_gives_a_byte_identical_model_file(tmp_path):
    def train(name):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "reinforcelab.cli",
                "train",
                "CartPole-v1",
                "--preset",
                "fast-cartpole",
                "--seed",
                "3",
                "--total-steps",
                "3000",
                "--out",
                str(tmp_path / name),
                "--no-progress",
                "--no-plot",
            ],
            check=True,
            capture_output=True,
        )
        return (tmp_path / name / "model.safetensors").read_bytes()

    assert train("a") == train("b")
