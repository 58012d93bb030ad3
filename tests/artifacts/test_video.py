"""Replay videos: frame counts, sizes, the step cap, GIFs, and clean failure."""

from __future__ import annotations

import sys
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest

imageio = pytest.importorskip("imageio")
import imageio.v3 as iio  # noqa: E402

from reinforcelab.artifacts.video import VideoError, auto_scale, pad_to_even, record_video  # noqa: E402


def balance(obs: np.ndarray) -> int:
    """A deterministic stand-in policy: push the cart towards where the pole is falling."""
    return int(obs[2] + 0.5 * obs[3] > 0)


def always_left(obs: np.ndarray) -> int:
    return 0  # CartPole falls within ~10 steps


class TinyEnv(gym.Env):
    """An env with an odd-sized 25x37 render and a fixed 5-step episode (reward 1 per step)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, render_mode: str | None = "rgb_array", fail_at: int | None = None) -> None:
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, 10.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.fail_at = fail_at
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.fail_at is not None and self.t >= self.fail_at:
            raise RuntimeError("env exploded")
        return np.full(1, self.t, np.float32), 1.0, self.t >= 5, False, {}

    def render(self):
        frame = np.zeros((25, 37, 3), np.uint8)
        frame[:, : 7 * self.t % 37] = 200  # a bar that grows each step: consecutive frames differ
        return frame


def read_mp4(path) -> np.ndarray:
    return iio.imread(path, plugin="FFMPEG")


@pytest.fixture
def cartpole():
    env = gym.make("CartPole-v1", render_mode="rgb_array")
    yield env
    env.close()


def test_mp4_frame_count_and_size(tmp_path, cartpole):
    out = tmp_path / "replay.mp4"
    summary = record_video(always_left, cartpole, out, seed=0)
    frames = read_mp4(out)
    assert summary["steps"] < 30 and summary["episode_returns"] == [float(summary["steps"])]
    assert frames.shape == (summary["steps"] + 1, 400, 600, 3) == (summary["frames"], 400, 600, 3)
    assert summary["size"] == (600, 400) and summary["scale"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["replay.mp4"]  # no temporary left over


def test_max_steps_cap_and_several_episodes(tmp_path, cartpole):
    out = tmp_path / "two.mp4"
    summary = record_video(balance, cartpole, out, episodes=2, max_steps=12, seed=1)
    assert summary["episode_steps"] == [12, 12]  # the balancing policy would last far longer
    assert summary["frames"] == 2 * (12 + 1) == len(read_mp4(out))


def test_same_seed_same_video(tmp_path, cartpole):
    a = record_video(balance, cartpole, tmp_path / "a.mp4", max_steps=8, seed=3)
    b = record_video(balance, cartpole, tmp_path / "b.mp4", max_steps=8, seed=3)
    assert np.array_equal(read_mp4(tmp_path / "a.mp4"), read_mp4(tmp_path / "b.mp4"))
    assert a["episode_returns"] == b["episode_returns"]


def test_odd_small_frames_are_upscaled_and_padded(tmp_path):
    summary = record_video(always_left, TinyEnv(), tmp_path / "tiny.mp4")
    factor = auto_scale(25, 37)
    assert factor == 11  # 25 * 11 = 275 >= 256
    # 275 x 407 padded to even: 276 x 408
    assert summary["size"] == (408, 276) and summary["scale"] == factor
    frames = read_mp4(tmp_path / "tiny.mp4")
    assert frames.shape == (6, 276, 408, 3)
    explicit = record_video(always_left, TinyEnv(), tmp_path / "x2.mp4", scale=2)
    assert explicit["size"] == (74, 50) and read_mp4(tmp_path / "x2.mp4").shape == (6, 50, 74, 3)


def test_pad_to_even_repeats_edge():
    frame = np.arange(3 * 5 * 3, dtype=np.uint8).reshape(3, 5, 3)
    padded = pad_to_even(frame)
    assert padded.shape == (4, 6, 3)
    assert np.array_equal(padded[:3, :5], frame) and np.array_equal(padded[3, :5], frame[2])


def test_gif(tmp_path, cartpole):
    pytest.importorskip("PIL")
    out = tmp_path / "replay.gif"
    summary = record_video(balance, cartpole, out, max_steps=6, fps=20, seed=0)
    assert summary["frames"] == 7 and summary["format"] == "gif"
    frames = iio.imread(out, plugin="pillow", index=None)
    # Pillow merges identical consecutive frames (a near-still pole can render identically), so a
    # GIF holds at most steps + 1 frames; the playing time is what stays exact.
    assert 1 <= len(frames) <= 7 and frames.shape[1:3] == (400, 600)
    exact = record_video(always_left, TinyEnv(), tmp_path / "tiny.gif", fps=20)
    assert (
        len(iio.imread(tmp_path / "tiny.gif", plugin="pillow", index=None)) == exact["frames"] == 6
    )


def test_missing_ffmpeg_binary(tmp_path, cartpole, monkeypatch):
    import imageio_ffmpeg

    def no_binary():
        raise RuntimeError("No ffmpeg exe could be found.")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_binary)
    with pytest.raises(VideoError, match="pip install imageio imageio-ffmpeg"):
        record_video(balance, cartpole, tmp_path / "replay.mp4", max_steps=3)
    assert list(tmp_path.iterdir()) == []


def test_missing_imageio_ffmpeg_package(tmp_path, cartpole, monkeypatch):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # makes `import imageio_ffmpeg` fail
    with pytest.raises(VideoError, match="pip install imageio imageio-ffmpeg"):
        record_video(balance, cartpole, tmp_path / "replay.mp4", max_steps=3)
    assert list(tmp_path.iterdir()) == []


def test_wrong_render_mode(tmp_path):
    env = gym.make("CartPole-v1")
    with pytest.raises(VideoError, match='render_mode="rgb_array"'):
        record_video(balance, env, tmp_path / "replay.mp4")
    env.close()
    assert list(tmp_path.iterdir()) == []


def test_unsupported_extension(tmp_path):
    with pytest.raises(VideoError, match=r"\.mp4.*\.gif"):
        record_video(balance, TinyEnv(), tmp_path / "replay.avi")


@pytest.mark.parametrize("name", ["replay.mp4", "replay.gif"])
def test_env_error_leaves_no_file(tmp_path, name):
    with pytest.raises(RuntimeError, match="env exploded"):
        record_video(always_left, TinyEnv(fail_at=3), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_policy_error_leaves_no_file(tmp_path):
    def broken(obs):
        raise KeyError("policy bug")

    with pytest.raises(KeyError):
        record_video(broken, TinyEnv(), tmp_path / "replay.mp4")
    assert list(tmp_path.iterdir()) == []
