"""Pixelcopter-PLE-v0: a bit-faithful Gymnasium re-implementation of PLE's Pixelcopter.

The original is ``ple/games/pixelcopter.py`` from the PyGame Learning Environment, wrapped for
Gymnasium by gym-games (``gym_pygame``). This module reproduces that game frame for frame: same
constants, same per-frame update order, same float arithmetic, same pygame rectangle rules
(centres rounded half away from zero, ``size // 2`` offsets, strict overlap), same random draws
from a ``numpy.random.RandomState`` seeded with 24, and the same pixels, drawn with numpy
instead of pygame. The batched twin lives in :mod:`reinforcelab.envs.pixelcopter_vector`.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import logger, spaces

WHITE = (255, 255, 255)
GREEN = (120, 240, 80)

# PLE builds one RandomState(24) per environment and the game draws everything from it.
PLE_RNG_SEED = 24


class PixelcopterRules:
    """The numbers of the game for one screen size, named as the original uses them.

    Everything scales with the screen: speeds and horizontal sizes with ``width``, vertical
    sizes with ``height``. Integer sizes are truncated exactly where the original truncates
    them (``int(...)`` or a pygame surface/rect built from floats).
    """

    def __init__(self, width: int = 48, height: int = 48):
        if int(width) != width or int(height) != height:
            raise ValueError(f"width and height must be integers, got {width!r}, {height!r}")
        width, height = int(width), int(height)
        if width < 20 or height < 20:
            # Below 20 px the copter sprite is 0 px wide or tall; a zero-sized pygame rect
            # never collides, and the original then crashes looking for the terrain under it.
            raise ValueError(f"Pixelcopter needs width and height >= 20, got {width}x{height}")
        self.width = width
        self.height = height

        # Time: PLE runs at fps=30 with force_fps, so every frame advances a fixed dt (in ms).
        self.fps = 30
        self.dt = 1000.0 / self.fps
        self.speed = 0.0004 * width  # px per ms
        self.scroll = self.speed * self.dt  # px every block and terrain column moves left per frame

        # Copter: fixed x, starts mid-screen at rest. Momentum is in px/frame.
        self.copter_x = int(width * 0.35)
        self.copter_start_y = height / 2
        self.copter_height = height * 0.05  # float: used as is in the ceiling test
        self.copter_w = int(width * 0.05)  # sprite size in px (pygame truncates 2.4 to 2)
        self.copter_h = int(height * 0.05)
        self.copter_left = self.copter_x - self.copter_w // 2
        self.thrust_accel = (self.speed * -0.875) * self.dt  # added to momentum when thrusting
        self.gravity_accel = (self.speed * 0.09) * self.dt  # added to momentum otherwise
        self.drag = 0.99  # momentum is multiplied by this every frame

        # The single floating block ("gate"), positioned by its centre.
        self.block_w = int(width * 0.1)
        self.block_h = int(height * 0.2)
        self.block_x_low, self.block_x_high = width, int(width * 1.5)  # randint: high exclusive
        self.block_y_low, self.block_y_high = int(height * 0.25), int(height * 0.75)

        # The cave: columns terrain_w px wide, terrain_h px tall, centred at (x, c).
        self.terrain_w = int(width * 0.1)
        self.terrain_h = int(height * 1.5)
        self.terrain_band_h = int(height * 0.5)  # drawn ceiling rows [0, band_h) of the sprite
        self.terrain_floor_top = int(height * 1.05)  # drawn floor rows start here in the sprite
        self.terrain_half_gap = height * 0.25  # hit box and observation: c -/+ this
        self.terrain_mid = height / 2.0
        self.terrain_amplitude = height * 0.125
        self.terrain_base_freq = 4.5 / width  # rad/px, plus uniform(-0.01, 0.01) per chunk
        self.terrain_first_chunk = (0, width * 4)  # generated at reset
        self.terrain_refill_chunk = (width, width * 5)  # appended when few columns remain
        self.terrain_refill_at = 10 + 3  # refill once at most this many columns remain

        # Global bounds of the copter centre.
        self.top_limit = height * 0.125
        self.bottom_limit = height * 0.875

        # PLE's default rewards (the wrapper keeps them): +1 per column or block passed,
        # -5 once on death, 0 per tick.
        self.reward_positive = 1.0
        self.reward_loss = -5.0

    def terrain_steps(self, start: int, end: int) -> range:
        """Centre x of every column of a terrain chunk over [start, end)."""
        half = int(self.terrain_w / 2)
        return range(start + half, end + half, self.terrain_w)


def round_half_away(value: float) -> int:
    """Round like pygame 2 does when a float is assigned to a rect position (C ``round``)."""
    whole = math.trunc(value)
    rest = value - whole  # exact
    if rest >= 0.5:
        return whole + 1
    if rest <= -0.5:
        return whole - 1
    return whole


def rects_overlap(l1: int, t1: int, w1: int, h1: int, l2: int, t2: int, w2: int, h2: int) -> bool:
    """pygame's ``Rect.colliderect`` for non-empty rects: strict overlap on both axes."""
    return l1 < l2 + w2 and t1 < t2 + h2 and l1 + w1 > l2 and t1 + h1 > t2


def _paint(frame: np.ndarray, left: int, top: int, w: int, h: int, colour: tuple[int, int, int]):
    height, width = frame.shape[:2]
    x0, x1 = max(left, 0), min(left + w, width)
    y0, y1 = max(top, 0), min(top + h, height)
    if x0 < x1 and y0 < y1:
        frame[y0:y1, x0:x1] = colour


def draw_frame(rules: PixelcopterRules, copter_y: float, blocks, columns) -> np.ndarray:
    """One (height, width, 3) uint8 frame, painted in the original's order.

    ``blocks`` yields (centre x, centre y) and ``columns`` yields (centre x, c). Black fill, then
    the copter, then the blocks, then the terrain (which paints over the others).
    """
    r = rules
    frame = np.zeros((r.height, r.width, 3), dtype=np.uint8)
    copter_top = round_half_away(copter_y) - r.copter_h // 2
    _paint(frame, r.copter_left, copter_top, r.copter_w, r.copter_h, WHITE)
    for x, y in blocks:
        left = round_half_away(x) - r.block_w // 2
        _paint(frame, left, y - r.block_h // 2, r.block_w, r.block_h, GREEN)
    floor_h = min(r.terrain_band_h, r.terrain_h - r.terrain_floor_top)
    for x, c in columns:
        left = round_half_away(x) - r.terrain_w // 2
        if left >= r.width or left + r.terrain_w <= 0:
            continue
        top = c - r.terrain_h // 2
        _paint(frame, left, top, r.terrain_w, r.terrain_band_h, GREEN)
        _paint(frame, left, top + r.terrain_floor_top, r.terrain_w, floor_h, GREEN)
    return frame


OBS_TYPES = ("vector", "pixels")


def to_grayscale(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (...) uint8 luma with the ITU-R BT.601 weights, rounded to nearest.

    Integer arithmetic, so the result is exact: Pixelcopter's black, white and green
    (120, 240, 80) become 0, 255 and 186.
    """
    r, g, b = (rgb[..., k].astype(np.uint32) for k in range(3))
    return ((299 * r + 587 * g + 114 * b + 500) // 1000).astype(np.uint8)


class PixelObservations:
    """The pixel observation options of one env, checked, and how a rendered frame becomes one.

    An observation is channels-first, (frame_stack * C, H, W) uint8, the layout a torch
    ``Conv2d`` takes, with C = 1 (grayscale) or 3 (RGB). Frames are stacked oldest first: channels
    [j * C, (j + 1) * C) hold frame j, the newest frame is last. Right after a reset the stack
    holds the reset frame frame_stack times.
    """

    def __init__(self, rules: PixelcopterRules, grayscale: bool, frame_stack: int):
        self.grayscale = grayscale
        self.frame_stack = frame_stack
        self.channels = 1 if grayscale else 3  # per frame
        self.frame_shape = (self.channels, rules.height, rules.width)
        self.space = spaces.Box(
            0, 255, (frame_stack * self.channels, rules.height, rules.width), np.uint8
        )

    @staticmethod
    def check_options(obs_type: Any, grayscale: Any, frame_stack: Any) -> None:
        """Raise a one-line ValueError for option values the env does not accept."""
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be 'vector' or 'pixels', got {obs_type!r}")
        if not isinstance(grayscale, (bool, np.bool_)):
            raise ValueError(f"grayscale must be True or False, got {grayscale!r}")
        is_integer = isinstance(frame_stack, (int, np.integer)) and not isinstance(
            frame_stack, (bool, np.bool_)
        )
        if not is_integer or frame_stack < 1:
            raise ValueError(f"frame_stack must be an integer >= 1, got {frame_stack!r}")
        if obs_type == "vector" and (grayscale or frame_stack != 1):
            raise ValueError(
                "grayscale and frame_stack only apply to pixel observations: "
                "pass obs_type='pixels' as well"
            )

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        """A (H, W, 3) frame from ``draw_frame`` -> (C, H, W), a new array."""
        if self.grayscale:
            return to_grayscale(rgb)[None]
        return np.ascontiguousarray(rgb.transpose(2, 0, 1))


class PixelcopterEnv(gym.Env[np.ndarray, np.int64]):
    """
    ## Description

    Pixelcopter from the PyGame Learning Environment (PLE), as registered by gym-games under
    ``Pixelcopter-PLE-v0`` and used in Unit 4 of the Hugging Face Deep RL course. A copter
    flies through a scrolling cave with a single floating block in it. Holding thrust makes it
    climb, letting go makes it fall. This is a re-implementation without pygame that matches the
    original bit for bit: observations, rewards, episode ends, random levels and rendered frames.
    One step is one game frame (PLE at 30 fps, no frame skip).

    ## Action Space

    `Discrete(2)`, in PLE's action-set order:

    - 0: thrust (PLE posts a key-down for `K_w` this frame)
    - 1: no-op

    ## Observation Space

    `Box(-inf, inf, (7,), float32)`, in the order of PLE's `getGameState()`:

    | Num | Observation                | Meaning                                                  |
    |-----|----------------------------|----------------------------------------------------------|
    | 0   | player_y                   | copter centre y (px, grows downwards)                    |
    | 1   | player_vel                 | momentum in px/frame, positive when falling              |
    | 2   | player_dist_to_ceil        | `y - (c - 0.25 H)` for the column under the copter       |
    | 3   | player_dist_to_floor       | `(c + 0.25 H) - y`                                       |
    | 4   | next_gate_dist_to_player   | block centre x minus copter x                            |
    | 5   | next_gate_block_top        | block centre y (PLE's name is misleading)                |
    | 6   | next_gate_block_bottom     | block centre y + block height                            |

    `c` is the centre of the leftmost terrain column whose rect overlaps the copter's. The
    hit boxes are not the drawn walls: the copter dies when item 2 <= 0.05 H or item 3 <= 0.

    With `obs_type="pixels"` the observation is the screen instead, exactly the frame `render()`
    draws, as `Box(0, 255, (frame_stack * C, H, W), uint8)`: channels first (the layout of a torch
    `Conv2d` input), C = 3 (RGB) or 1 (`grayscale=True`: ITU-R BT.601 luma, rounded, so black,
    white and green become 0, 255 and 186). Stacked frames are in time order, oldest first, each
    frame's C channels together; the newest frame is the last C channels. The observation right
    after a reset holds the reset frame `frame_stack` times. A step after termination returns the
    same observation again.

    ## Rewards

    PLE's defaults, paid as the change in game score over the frame: +1 for every terrain column
    that scrolls off the left edge (about one per 6.2 frames), +1 when the block passes the
    copter, and -5 on the frame the copter dies (plus any +1 from that frame). Rewards are
    therefore in {0, 1, 2, -5, -4, -3}.

    ## Starting State

    The copter at (0.35 W, H / 2) with zero momentum; 48 terrain columns (for 48x48) drawn from
    the game's random stream; one block at a random x in [W, 1.5 W) and centre y in
    [0.25 H, 0.75 H).

    ## Episode End

    Termination when the copter touches the block, a terrain hit box, or leaves
    [H / 8, 7 H / 8]. There is no time limit, so `truncated` is always False. Stepping again
    after termination changes nothing and returns reward 0.0 with `terminated=True`.

    ## Arguments

    ```python
    >>> import gymnasium as gym
    >>> from reinforcelab.envs import register_envs
    >>> register_envs()
    >>> env = gym.make("Pixelcopter-PLE-v0", render_mode="rgb_array")
    >>> env.reset()
    (array([24.,  0.,  7., 17., 49., 31., 40.], dtype=float32), {})

    ```

    - `render_mode` (`str | None`, default `None`): `"rgb_array"` for `render()` frames
    - `width` (`int`, default `48`): screen width in px (>= 20)
    - `height` (`int`, default `48`): screen height in px (>= 20)
    - `obs_type` (`str`, default `"vector"`): `"vector"` (the 7 values) or `"pixels"` (the screen)
    - `grayscale` (`bool`, default `False`): pixels: one luma channel per frame instead of RGB
    - `frame_stack` (`int`, default `1`): pixels: stack the last `frame_stack` frames (>= 1)

    There is no resize option: the game's own screen is 48x48 already, small enough for a CNN,
    and `width`/`height` change the game itself (speeds and sizes scale with the screen).

    Seeding follows the original exactly. The game owns `numpy.random.RandomState(24)`, and
    construction initialises the game twice (PLE, then the wrapper). `reset()` initialises once
    more, continuing that stream, so every fresh env plays the same levels.
    `reset(seed=s)` reseeds the stream with `s` and initialises twice; the second level is played.

    ## Rendering

    `render()` returns the screen as a (H, W, 3) uint8 array: black background, a white 2x2
    copter, green (120, 240, 80) block and cave. From the first step on it equals the original's
    frame pixel for pixel. The one deliberate difference is that right after `reset()` the start
    state is drawn (the original shows a stale or black screen until the first step).

    ## Vectorized environment

    `gym.make_vec("Pixelcopter-PLE-v0", num_envs=n)` returns the numpy-batched
    :class:`~reinforcelab.envs.pixelcopter_vector.PixelcopterVectorEnv`. Sub-env i reproduces
    this class exactly (after `reset(seed=s)`, as `reset(seed=s + i)`), with next-step autoreset.
    It takes the same pixel options and draws every sub-env's screen at once.
    """

    # gymnasium types metadata as an instance attribute, so not a ClassVar
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}  # noqa: RUF012

    def __init__(
        self,
        render_mode: str | None = None,
        width: int = 48,
        height: int = 48,
        obs_type: str = "vector",
        grayscale: bool = False,
        frame_stack: int = 1,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        PixelObservations.check_options(obs_type, grayscale, frame_stack)
        self.render_mode = render_mode
        self.rules = PixelcopterRules(width, height)

        self.action_space = spaces.Discrete(2)
        self.obs_type = obs_type
        self._pixels = (
            PixelObservations(self.rules, grayscale, int(frame_stack))
            if obs_type == "pixels"
            else None
        )
        if self._pixels is None:
            self.observation_space = spaces.Box(-np.inf, np.inf, shape=(7,), dtype=np.float32)
        else:
            self.observation_space = self._pixels.space
        self._frames: deque[np.ndarray] = deque()  # pixels: the last frame_stack (C, H, W) frames

        self._game_rng = np.random.RandomState(PLE_RNG_SEED)
        # PLE's constructor initialises the game, then gym-games' wrapper does it again.
        self._new_game()
        self._new_game()

    # ------------------------------------------------------------------ game state
    def _new_game(self) -> None:
        """PLE's ``Pixelcopter.init()``: draws one block, then one terrain chunk."""
        r = self.rules
        self._y = r.copter_start_y
        self._momentum = 0.0
        self._blocks: list[list[float]] = []  # [centre x, centre y], in insertion order
        self._spawn_block()
        self._terrain_x: list[float] = []  # column centre x, in insertion order
        self._terrain_c: list[int] = []  # column centre y
        self._add_terrain(*r.terrain_first_chunk)
        self._game_over = False

    def _spawn_block(self) -> None:
        r = self.rules
        x = self._game_rng.randint(r.block_x_low, r.block_x_high)
        y = self._game_rng.randint(r.block_y_low, r.block_y_high)
        self._blocks.append([x, y])

    def _add_terrain(self, start: int, end: int) -> None:
        r = self.rules
        steps = r.terrain_steps(start, end)
        freq = r.terrain_base_freq + self._game_rng.uniform(-0.01, 0.01)
        # One uniform(0, 0.5) per column; drawing them at once gives the same numbers.
        phases = self._game_rng.uniform(0.0, 0.5, size=len(steps)).tolist()
        for step, phase in zip(steps, phases):
            jitter = r.terrain_amplitude * math.sin(freq * step + phase)
            self._terrain_x.append(step)
            self._terrain_c.append(int(r.terrain_mid + jitter))

    def _columns_under_copter(self) -> list[int]:
        """c of every terrain column whose rect overlaps the copter's, in insertion order."""
        r = self.rules
        copter_top = round_half_away(self._y) - r.copter_h // 2
        reach = r.terrain_w + r.copter_w + 1  # no column further away can overlap
        return [
            c
            for x, c in zip(self._terrain_x, self._terrain_c)
            if abs(x - r.copter_x) < reach
            and rects_overlap(
                r.copter_left,
                copter_top,
                r.copter_w,
                r.copter_h,
                round_half_away(x) - r.terrain_w // 2,
                c - r.terrain_h // 2,
                r.terrain_w,
                r.terrain_h,
            )
        ]

    def _observation(self) -> np.ndarray:
        r = self.rules
        under = self._columns_under_copter()
        if not under:  # unreachable for the original's sizes, where the original would crash
            under = [
                c
                for x, c in zip(self._terrain_x, self._terrain_c)
                if abs(x - r.copter_x) < r.terrain_w
            ]
        c = under[0]
        min_dist, block_y = 999, 0
        for bx, by in self._blocks:
            dist = bx - r.copter_x
            if 0 < dist < min_dist:
                min_dist, block_y = dist, by
        return np.array(
            [
                self._y,
                self._momentum,
                self._y - (c - r.terrain_half_gap),
                (c + r.terrain_half_gap) - self._y,
                min_dist,
                block_y,
                block_y + r.block_h,
            ],
            dtype=np.float32,
        )

    def _pixel_observation(self, restart: bool) -> np.ndarray:
        """Draw the screen and push it onto the frame stack; (frame_stack * C, H, W) uint8."""
        frame = self._pixels.frame(self._screen())
        if restart:
            self._frames = deque(
                [frame] * self._pixels.frame_stack, maxlen=self._pixels.frame_stack
            )
        else:
            self._frames.append(frame)
        return np.concatenate(self._frames)

    def _screen(self) -> np.ndarray:
        """The current screen, as ``render()`` returns it: (H, W, 3) uint8."""
        return draw_frame(self.rules, self._y, self._blocks, zip(self._terrain_x, self._terrain_c))

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)  # seeds self.np_random; the game itself uses its own stream
        if seed is not None:
            # gym-games: rng.seed(seed) and an extra init before the wrapper's own reset.
            self._game_rng.seed(seed)
            self._new_game()
        self._new_game()
        if self._pixels is not None:
            return self._pixel_observation(restart=True), {}
        return self._observation(), {}

    def step(self, action):
        if not (isinstance(action, (int, np.integer)) and 0 <= action <= 1):
            assert self.action_space.contains(action), f"{action!r} ({type(action)}) invalid"
        if self._game_over:  # PLE does not advance a finished game
            obs = self._observation() if self._pixels is None else np.concatenate(self._frames)
            return obs, 0.0, True, False, {}
        r = self.rules
        thrust = int(action) == 0

        # Copter physics: momentum is px/frame; only the acceleration is scaled by dt.
        self._momentum += r.thrust_accel if thrust else r.gravity_accel
        self._momentum *= r.drag
        self._y += self._momentum

        # Everything else scrolls left by repeated float subtraction.
        for block in self._blocks:
            block[0] -= r.scroll
        self._terrain_x = [x - r.scroll for x in self._terrain_x]

        # Collisions, pygame-style, before anything is scored or removed.
        dead = False
        copter_top = round_half_away(self._y) - r.copter_h // 2
        for bx, by in self._blocks:
            left = round_half_away(bx) - r.block_w // 2
            if rects_overlap(r.copter_left, copter_top, r.copter_w, r.copter_h,
                             left, by - r.block_h // 2, r.block_w, r.block_h):  # fmt: skip
                dead = True
        for c in self._columns_under_copter():
            if self._y - r.copter_height <= c - r.terrain_half_gap:
                dead = True
            if self._y >= c + r.terrain_half_gap:
                dead = True

        # Scoring, in the original's order (block loop over a snapshot, then terrain).
        reward = 0.0
        for block in list(self._blocks):
            if block[0] <= r.copter_x and len(self._blocks) == 1:
                reward += r.reward_positive
                self._spawn_block()
            if block[0] <= -r.block_w:
                self._blocks = [b for b in self._blocks if b is not block]
        if min(self._terrain_x) <= -r.terrain_w:
            kept = [i for i, x in enumerate(self._terrain_x) if x > -r.terrain_w]
            reward += r.reward_positive * (len(self._terrain_x) - len(kept))
            self._terrain_x = [self._terrain_x[i] for i in kept]
            self._terrain_c = [self._terrain_c[i] for i in kept]

        if self._y < r.top_limit or self._y > r.bottom_limit:
            dead = True
        if len(self._terrain_x) <= r.terrain_refill_at:
            self._add_terrain(*r.terrain_refill_chunk)

        if dead:
            reward += r.reward_loss
            self._game_over = True
        obs = (
            self._observation() if self._pixels is None else self._pixel_observation(restart=False)
        )
        return obs, reward, dead, False, {}

    def render(self):
        if self.render_mode is None:
            logger.warn(
                "render() needs a render mode: create the env with "
                'gym.make("Pixelcopter-PLE-v0", render_mode="rgb_array")'
            )
            return None
        return self._screen()
