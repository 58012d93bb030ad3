"""Replay videos: play a policy in an ``rgb_array`` env and write the frames as H.264 mp4 or GIF.

Frame semantics: every episode contributes ``steps + 1`` frames — the frame rendered right after
``reset`` and one after each ``step`` — so a video of episodes with ``s_1, ..., s_n`` steps has
``sum(s_i + 1)`` frames, played back to back. An mp4 keeps every frame. A GIF may store fewer:
Pillow merges consecutive identical frames into one longer frame (the playing time is unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import WRITABLE_FILE
from ..errors import OptionError, UserError
from ..rollout import collect_episode
from .files import atomic_write

INSTALL_HINT = "pip install imageio imageio-ffmpeg"
MIN_SHORT_SIDE = 256  # auto-scale target: small renders (Pixelcopter is 48x48) become watchable
MP4_QUALITY = 6  # imageio's 1..10 scale; 6 is libx264 CRF 20, sharp enough for line-art envs
FORMATS = {".mp4": "mp4", ".gif": "gif"}


class VideoError(UserError, RuntimeError):
    """Video recording is impossible: missing imageio / ffmpeg / Pillow, a wrong render mode, an
    unsupported file type, or an encoder failure."""


def video_format(path: str | Path) -> str:
    """``"mp4"`` or ``"gif"`` from the file name; anything else is a VideoError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise VideoError(
            f"cannot record {Path(path).name!r}: the file name must end in .mp4 (H.264 video) "
            "or .gif"
        )
    return FORMATS[suffix]


def check_video_support(path: str | Path = "replay.mp4") -> None:
    """Raise VideoError, with the fix, unless a video of this file type can be written here.

    mp4 needs imageio, imageio-ffmpeg and an ffmpeg binary (imageio-ffmpeg ships one); GIF needs
    imageio and Pillow. Cheap: call it before loading an agent or making an env.
    """
    fmt = video_format(path)
    try:
        import imageio  # noqa: F401
    except ImportError as exc:
        raise VideoError(
            f"recording a video needs imageio, which is not installed: {INSTALL_HINT}"
        ) from exc
    if fmt == "gif":
        try:
            import PIL  # noqa: F401
        except ImportError as exc:
            raise VideoError(
                "recording a GIF needs Pillow, which is not installed: pip install pillow"
            ) from exc
        return
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise VideoError(
            f"recording an mp4 needs imageio-ffmpeg, which is not installed: {INSTALL_HINT} "
            "(or record a .gif instead)"
        ) from exc
    try:
        imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # imageio-ffmpeg raises RuntimeError when it finds no binary
        raise VideoError(
            f"recording an mp4 needs an ffmpeg binary and none was found ({exc}). Reinstall "
            f"imageio-ffmpeg, which ships one ({INSTALL_HINT}), or point IMAGEIO_FFMPEG_EXE at an "
            "ffmpeg executable (or record a .gif instead)"
        ) from exc


def auto_scale(height: int, width: int, min_short_side: int = MIN_SHORT_SIDE) -> int:
    """The smallest integer upscaling factor that makes the shorter side at least ``min_short_side``
    pixels (1 for frames that are already that big)."""
    return max(1, math.ceil(min_short_side / max(1, min(height, width))))


def upscale(frame: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour integer upscaling (every pixel becomes a ``scale`` x ``scale`` block)."""
    if scale == 1:
        return frame
    return np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)


def pad_to_even(frame: np.ndarray) -> np.ndarray:
    """Repeat the last row / column where needed: H.264 in yuv420p needs even width and height."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


class _Mp4Writer:
    def __init__(self, path: Path, fps: float) -> None:
        import imageio.v2 as iio

        # macro_block_size=1: imageio would otherwise resize frames to multiples of 16; we only pad
        # to even sizes (pad_to_even), which is all libx264 with yuv420p requires.
        self.writer = iio.get_writer(
            str(path),
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            quality=MP4_QUALITY,
            pixelformat="yuv420p",
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=[
                "-movflags",
                "+faststart",
            ],  # index first: browsers (and the Hub) stream it
        )

    def append(self, frame: np.ndarray) -> None:
        self.writer.append_data(frame)

    def close(self) -> None:
        self.writer.close()


class _GifWriter:
    def __init__(self, path: Path, fps: float) -> None:
        import imageio.v3 as iio

        self.duration = max(10, round(1000 / fps))  # ms per frame; GIF stores centiseconds
        self.file = iio.imopen(str(path), "w", plugin="pillow", extension=".gif")

    def append(self, frame: np.ndarray) -> None:
        self.file.write(frame, is_batch=False, duration=self.duration, loop=0)

    def close(self) -> None:
        self.file.close()


def _check_frame(frame: Any, expected_shape: tuple[int, ...] | None) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        got = None if frame is None else getattr(frame, "shape", type(frame).__name__)
        raise VideoError(
            f"env.render() returned {got}; expected an (height, width, 3) RGB array. Create the "
            'env with render_mode="rgb_array"'
        )
    if expected_shape is not None and frame.shape != expected_shape:
        raise VideoError(
            f"env.render() changed frame size from {expected_shape} to {frame.shape} mid-video"
        )
    return frame if frame.dtype == np.uint8 else np.clip(frame, 0, 255).astype(np.uint8)


def record_video(
    act: Callable[[np.ndarray], int],
    env: Any,
    path: str | Path,
    episodes: int = 1,
    max_steps: int = 1000,
    fps: float = 30,
    seed: int | Sequence[int] | None = None,
    scale: int | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` episodes with ``act`` and write them, back to back, to ``path``.

    Args:
        act: maps one observation to an action, e.g. ``lambda obs: agent.predict(obs)``.
        env: a Gymnasium env created with ``render_mode="rgb_array"``, e.g.
            ``gymnasium.make("CartPole-v1", render_mode="rgb_array")``. The caller owns it: it is
            reset and stepped here, never closed.
        path: output file; ``.mp4`` writes H.264 (yuv420p, needs imageio-ffmpeg), ``.gif`` an
            endlessly looping GIF (needs Pillow; it is held in memory until written, so keep it
            short). Missing parent folders are created; a path that cannot be written is refused
            before the env is touched. The file appears only when complete:
            frames go to a hidden temporary file in the same folder, renamed on success and deleted
            on error.
        episodes: number of episodes to record.
        max_steps: step cap per episode (an episode also ends when the env terminates or truncates).
        fps: playback frame rate.
        seed: an int seeds the first ``reset`` (later episodes continue the env's random stream);
            a sequence of ``episodes`` ints seeds each episode's reset. Either way a deterministic
            ``act`` gives the same video every time. The randomness inside ``act`` (a sampling
            policy) is the caller's to seed.
        scale: integer nearest-neighbour upscaling factor; ``None`` picks the smallest factor that
            makes the shorter side at least 256 px (1 for CartPole's 600x400).

    Each episode contributes ``steps + 1`` frames (the frame after reset, then one per step).

    Returns:
        ``{"path", "format", "frames", "steps", "episode_steps", "episode_returns", "mean_return",
        "size": (width, height) as written, "scale", "fps"}``.

    Raises:
        VideoError: video support missing (with the ``pip install`` to fix it), the env does not
            render RGB arrays, an unsupported file type, or the encoder failed.
    """
    path = WRITABLE_FILE.check("path", path)
    fmt = video_format(path)
    if episodes < 1 or max_steps < 1:
        raise OptionError(
            f"episodes and max_steps must be at least 1; got {episodes} and {max_steps}"
        )
    if not fps > 0:
        raise OptionError(f"fps must be positive; got {fps}")
    seeds = (
        [seed] + [None] * (episodes - 1)
        if seed is None or isinstance(seed, (int, np.integer))
        else list(seed)
    )
    if len(seeds) != episodes:
        raise OptionError(f"expected one seed per episode ({episodes}); got {len(seeds)}")
    if scale is not None and (int(scale) != scale or scale < 1):
        raise OptionError(f"scale must be a positive integer or None (auto); got {scale!r}")
    render_mode = getattr(env, "render_mode", None)
    if render_mode != "rgb_array":
        raise VideoError(
            f"the env was created with render_mode={render_mode!r}; recording needs "
            'render_mode="rgb_array", e.g. gymnasium.make(env_id, render_mode="rgb_array")'
        )
    check_video_support(path)

    writer = None
    frame_shape: tuple[int, ...] | None = None
    factor = 1
    frames = 0
    episode_steps: list[int] = []
    episode_returns: list[float] = []
    out_size: tuple[int, int] = (0, 0)

    def write(tmp: Path, frame: Any) -> None:
        nonlocal writer, frame_shape, factor, frames, out_size
        frame = _check_frame(frame, frame_shape)
        if writer is None:  # sizes are known only once the first frame is rendered
            frame_shape = frame.shape
            factor = int(scale) if scale is not None else auto_scale(*frame.shape[:2])
            try:
                writer = _Mp4Writer(tmp, fps) if fmt == "mp4" else _GifWriter(tmp, fps)
            except Exception as exc:
                raise VideoError(f"could not start the {fmt} writer for {path}: {exc}") from exc
        frame = upscale(frame, factor)
        if fmt == "mp4":
            frame = pad_to_even(frame)
        try:
            writer.append(frame)
        except Exception as exc:
            raise VideoError(f"writing {path} failed: {exc}") from exc
        out_size = (frame.shape[1], frame.shape[0])
        frames += 1

    def play(tmp: Path) -> None:
        nonlocal writer
        try:
            for episode_seed in seeds:
                episode = collect_episode(
                    env, act, max_steps, seed=episode_seed, on_step=lambda: write(tmp, env.render())
                )
                episode_steps.append(episode.length)
                episode_returns.append(episode.total_reward)
            try:
                writer.close()
            except Exception as exc:
                raise VideoError(f"finishing {path} failed: {exc}") from exc
        except BaseException:
            if writer is not None:
                try:
                    writer.close()
                except Exception:
                    pass
            raise
        finally:
            writer = None

    # Never a partial video under the final name (also on Ctrl-C); a failed write is one line.
    atomic_write(path, play)
    return {
        "path": str(path),
        "format": fmt,
        "frames": frames,
        "steps": sum(episode_steps),
        "episode_steps": episode_steps,
        "episode_returns": episode_returns,
        "mean_return": float(np.mean(episode_returns)),
        "size": out_size,
        "scale": factor,
        "fps": fps,
    }
