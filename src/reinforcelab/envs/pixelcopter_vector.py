"""Numpy-batched Pixelcopter-PLE-v0: ``num_envs`` copies of :class:`PixelcopterEnv` in lockstep.

Sub-env ``i`` reproduces the single env bit for bit (same observations, rewards, terminations,
random levels and frames), yet one step of 1024 sub-envs costs a few dozen numpy calls:

- Copter physics is plain float64 array arithmetic, in the single env's operation order.
- Scrolling uses the fact that every block and terrain column starts at an integer x and moves
  by repeated ``x -= speed * dt``: its float position after ``a`` frames depends only on
  (start x, a). :class:`_ScrollTables` tabulates that once per screen size, with what follows
  from it (when a block passes the copter or leaves the screen, which columns touch the copter
  horizontally, when columns scroll off and the cave is refilled). A block is then an integer
  key (spawn x, age), and the cave's layout is a function of the frames since reset alone (only
  the column heights are random), which becomes a periodic "phase" counter after two refills.
- A cave holds at most two chunks (the reset chunk or a refill chunk, then the newer refill
  chunk), kept in two slots, older first, which preserves the original's insertion order.
- Every sub-env owns a ``numpy.random.RandomState`` exactly as the single env does. Its raw
  32-bit words are read in bulk and turned into ``randint``/``uniform`` results with
  RandomState's own algorithms (masked rejection; 53-bit doubles), so the sub-envs that need
  draws in a frame (spawn, refill, reset) are served in one batch, each from its own stream and
  in the single env's order.
- Pixel observations (``obs_type="pixels"``) are drawn for all sub-envs at once by gathering
  each pixel column from small tables cut out of ``draw_frame``'s own output (see
  :class:`_ScreenTables`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from .pixelcopter import GREEN, PLE_RNG_SEED, WHITE, PixelcopterRules, PixelObservations, draw_frame

FIRST_CHUNK, REFILL_CHUNK, EMPTY_SLOT = 0, 1, 2


def _round_half_away(values: np.ndarray) -> np.ndarray:
    """Vectorised pygame/C ``round``: half away from zero, exact for every float64."""
    whole = np.trunc(values)
    rest = values - whole
    return (whole + (rest >= 0.5) - (rest <= -0.5)).astype(np.int64)


def _touches_copter(rules: PixelcopterRules, x: np.ndarray, width: int) -> np.ndarray:
    """Horizontal half of pygame's colliderect between a sprite centred at x and the copter."""
    left = _round_half_away(x) - width // 2
    return (left < rules.copter_left + rules.copter_w) & (left + width > rules.copter_left)


class _ScrollTables:
    """Precomputed scrolling for one screen size (see the module docstring).

    Ages count frames since an object appeared: 0 when spawned, 1 after its first scroll. A
    block is looked up by its key ``(spawn x - block_x_low) * block_ages + age``, the cave by
    its phase (see :meth:`_build_phases`).
    """

    def __init__(self, rules: PixelcopterRules):
        r = rules
        self.rules = r
        chunks = [r.terrain_steps(*r.terrain_first_chunk), r.terrain_steps(*r.terrain_refill_chunk)]
        max_x0 = max(max(chunks[0]), max(chunks[1]), r.block_x_high)

        # x_at[x0, a]: position after a frames of repeated subtraction, exactly as the game does it.
        rows = [np.arange(max_x0 + 1, dtype=np.float64)]
        while rows[-1][-1] > -min(r.terrain_w, r.block_w):
            rows.append(rows[-1] - r.scroll)
        self.x_at = np.stack(rows, axis=1)  # at the last age every object has left
        last_age = self.x_at.shape[1] - 1

        def first_age(x0s: np.ndarray, limit: float) -> np.ndarray:
            """First age >= 1 at which x <= limit (x only decreases)."""
            return (self.x_at[x0s, 1:] <= limit).argmax(axis=1) + 1

        # Blocks: where they are, whether they overlap the copter horizontally, whether they
        # have reached the copter (score and spawn the next one) or left the screen.
        bx0 = np.arange(r.block_x_low, r.block_x_high)
        self.block_ages = last_age + 1
        pass_age, gone_age = first_age(bx0, r.copter_x), first_age(bx0, -r.block_w)
        # The passed block ages at most through two crossings before it is replaced.
        assert 2 * pass_age.max() + 2 < self.block_ages
        ages = np.arange(self.block_ages)
        self.block_x = self.x_at[bx0].reshape(-1)
        self.block_touch = _touches_copter(r, self.x_at[bx0], r.block_w).reshape(-1)
        self.block_passing = (ages[None, :] >= pass_age[:, None]).reshape(-1)
        self.block_gone = (ages[None, :] >= gone_age[:, None]).reshape(-1)

        # Terrain chunks. Column j of a chunk kind starts at chunk_x0[kind][j] and is removed
        # (scoring +1) at column_gone_age[kind][j]; ages past last_age change nothing.
        self.chunk_x0 = [np.array(c, dtype=np.int64) for c in chunks]
        self.chunk_count = [len(c) for c in chunks]
        self.chunk_len = max(self.chunk_count)
        self.column_gone_age = [first_age(x0s, -r.terrain_w) for x0s in self.chunk_x0]
        ages = np.arange(last_age + 1)
        gone, touching = [], []
        for x0s, gone_age in zip(self.chunk_x0, self.column_gone_age):
            gone.append((gone_age[:, None] <= ages[None, :]).sum(axis=0).tolist())
            # Columns present at collision time (removal comes later in the frame).
            touch = _touches_copter(r, self.x_at[x0s], r.terrain_w) & (
                gone_age[:, None] >= ages[None, :]
            )
            touching.append([np.flatnonzero(touch[:, a]).tolist() for a in ages])
        self._build_phases(gone, touching, last_age)

    def _build_phases(
        self, gone: list[list[int]], touching: list[list[list[int]]], last_age: int
    ) -> None:
        """Tabulate the cave's layout by frames since reset, folded into a periodic phase.

        Frame 0 is the reset state; each later frame is one step: ages + 1, columns scroll off,
        and a refill chunk is appended when few columns remain. The older slot must be empty by
        then, so two slots always suffice. From the second refill on the layout repeats, so the
        frames after the fourth refill map back onto those after the third.
        """
        r, cap = self.rules, last_age
        slots = [(EMPTY_SLOT, 0), (FIRST_CHUNK, 0)]  # (kind, age), older first
        rows = [(0, False, [(1, j) for j in touching[FIRST_CHUNK][0]], slots)]
        refill_frames: list[int] = []
        while len(refill_frames) < 4:
            slots = [(k, a + 1) for k, a in slots]
            scored = sum(
                gone[k][min(a, cap)] - gone[k][min(a - 1, cap)] for k, a in slots if k != EMPTY_SLOT
            )
            touch = [
                (s, j)
                for s, (k, a) in enumerate(slots)
                if k != EMPTY_SLOT
                for j in touching[k][min(a, cap)]
            ]
            alive = [
                0 if k == EMPTY_SLOT else self.chunk_count[k] - gone[k][min(a, cap)]
                for k, a in slots
            ]
            refill = sum(alive) <= r.terrain_refill_at
            if refill:
                if alive[0] or any(s == 0 for s, _ in touch):
                    raise ValueError(
                        f"PixelcopterVectorEnv does not support {r.width}x{r.height}: "
                        "more than two terrain chunks would be alive at once"
                    )
                slots = [slots[1], (REFILL_CHUNK, 0)]
                touch = [(0, j) for _, j in touch]
                refill_frames.append(len(rows))
            elif len(rows) > 20 * cap:
                raise ValueError(f"terrain never refills for {r.width}x{r.height}")
            rows.append((scored, refill, touch, slots))
        # The layout repeats from the second refill on, so the step into frame fourth (same
        # removals, same touching columns, same layout after) can stand in for the step into
        # frame third, and phases wrap from fourth - 1 to third.
        third, fourth = refill_frames[2], refill_frames[3]
        assert rows[third] == rows[fourth]
        rows = rows[:fourth]
        self.phases = len(rows)
        self.next_phase = np.arange(1, self.phases + 1)
        self.next_phase[-1] = third
        self.phase_scored = np.array([row[0] for row in rows], dtype=np.float64)
        self.phase_refill = np.array([row[1] for row in rows])
        self.phase_slots = [row[3] for row in rows]
        # touch[k, phase]: k-th column touching the copter, as an index into a sub-env's
        # (2, chunk_len + 1) column array; chunk_len is a sentinel column that touches nothing.
        self.touch_width = max(1, max(len(row[2]) for row in rows))
        self.touch = np.full((self.touch_width, self.phases), self.chunk_len, dtype=np.int64)
        for p, row in enumerate(rows):
            for k, (slot, j) in enumerate(row[2]):
                self.touch[k, p] = slot * (self.chunk_len + 1) + j


class _ScreenTables:
    """What the batched renderer needs to draw every sub-env's screen with a few numpy calls.

    The screen has three colours. The terrain and the blocks share one (green) and paint over
    the copter (white), which is a few pixels. So the renderer draws green shapes first, then the
    copter on the pixels left black. The green shapes are drawn one pixel column at a time: a
    pixel column shows the terrain columns covering it (each drawn from its centre c) and maybe
    a block (drawn from its centre y), so it is one row of a table of every such combination:

    - ``terrain_rows[level]``, (levels, H): one terrain column with c = ``c_low + level - 1``
      (level 0: no column);
    - ``block_rows[level]``, (levels, H): a block with centre y = ``block_y_low + level - 1``;
    - ``column_rows[code]``, (codes, H): their unions, at code = (level of the first terrain
      column covering the pixel column + terrain_levels * level of the second, if any, and so
      on) * block_levels + block level. On big screens, where that table would be too large
      (``blocks_apart``), it holds the terrain only and ``block_rows`` are looked up apart.

    The rows are cut out of frames drawn by ``draw_frame`` and hold the first channel of
    ``GREEN`` as :class:`PixelObservations` converts it (the single env's frames), so the
    batched screens cannot drift from the reference renderer. Which terrain columns cover which
    pixel column depends only on the cave phase (see :class:`_ScrollTables`):
    ``first_cover[phase, x]`` indexes a sub-env's (2, chunk_len + 1) column array (the sentinel
    chunk_len where none does), and the few second covers, where chunks meet, are listed per
    phase in ``more_x``, ``more_cover``, ``more_weight``.
    """

    def __init__(self, rules: PixelcopterRules, tables: _ScrollTables, pixels: PixelObservations):
        r, t = rules, tables
        hidden_copter_y = -10.0 * r.height  # draw_frame always draws the copter: off screen here

        def drawn_rows(blocks, columns, x: int) -> np.ndarray:
            """(H,) uint8, 1 where pixel column x of a frame holding only these shapes is drawn."""
            frame = draw_frame(r, hidden_copter_y, blocks, columns)
            return frame[:, x].any(axis=1).astype(np.uint8)

        def colour(rgb) -> np.ndarray:
            return pixels.frame(np.array([[rgb]], dtype=np.uint8))[:, 0, 0]  # (C,)

        self.green, self.white = colour(GREEN), colour(WHITE)
        # The renderer tells black from green by the first channel alone (R 120, luma 186).
        assert self.green[0] > 0

        nothing = np.zeros(r.height, dtype=np.uint8)
        # c = int(H/2 + (H/8) sin(...)) lies in [c_low, c_high].
        self.c_low = math.floor(r.terrain_mid - r.terrain_amplitude)
        c_high = math.floor(r.terrain_mid + r.terrain_amplitude)
        x = r.terrain_w  # a column centred here is fully on screen, its left edge at x - w // 2
        self.terrain_rows = np.stack(
            [nothing]
            + [
                drawn_rows([], [(x, c)], x - r.terrain_w // 2)
                for c in range(self.c_low, c_high + 1)
            ]
        )
        x = r.block_w
        self.block_rows = np.stack(
            [nothing]
            + [
                drawn_rows([(x, y)], [], x - r.block_w // 2)
                for y in range(r.block_y_low, r.block_y_high)
            ]
        )
        self.block_left = _round_half_away(t.block_x) - r.block_w // 2  # by block key

        # Which terrain columns cover each pixel column, per phase (the single env draws every
        # column still alive at its rounded x, as _scene lists them).
        xs, columns, phases = [], [], []
        for phase, slots in enumerate(t.phase_slots):
            for slot, (kind, age) in enumerate(slots):
                alive = np.flatnonzero(t.column_gone_age[kind] > age) if kind != EMPTY_SLOT else []
                if len(alive) == 0:  # (an old slot's age can pass the end of the x_at table)
                    continue
                left = _round_half_away(t.x_at[t.chunk_x0[kind][alive], age]) - r.terrain_w // 2
                pixel_x = left[:, None] + np.arange(r.terrain_w)
                column = np.broadcast_to((slot * (t.chunk_len + 1) + alive)[:, None], pixel_x.shape)
                on_screen = (pixel_x >= 0) & (pixel_x < r.width)
                xs.append(pixel_x[on_screen])
                columns.append(column[on_screen])
                phases.append(np.full(on_screen.sum(), phase))
        xs, columns, phases = np.concatenate(xs), np.concatenate(columns), np.concatenate(phases)
        order = np.lexsort((xs, phases))
        xs, columns, phases = xs[order], columns[order], phases[order]
        rank = _rank_within_runs(phases * r.width + xs)  # 0: the first column covering x
        first = rank == 0
        self.first_cover = np.full((t.phases, r.width), t.chunk_len, dtype=np.int64)
        self.first_cover[phases[first], xs[first]] = columns[first]
        # Where two chunks meet, a pixel column can show more columns. Those are few, so they
        # are kept per phase as a short list of (x, column, weight terrain_levels**rank);
        # padding entries add level 0 at x = 0.
        more = ~first
        slot = _rank_within_runs(phases[more])
        most = slot.max() + 1 if slot.size else 0
        self.more_x = np.zeros((t.phases, most), dtype=np.int64)
        self.more_cover = np.full((t.phases, most), t.chunk_len, dtype=np.int64)
        self.more_weight = np.zeros((t.phases, most), dtype=np.int64)
        self.more_x[phases[more], slot] = xs[more]
        self.more_cover[phases[more], slot] = columns[more]
        self.more_weight[phases[more], slot] = len(self.terrain_rows) ** rank[more]

        # Every pixel column the screen can show, so that one lookup draws it (see the class
        # docstring). The table grows like H**4: for big screens the block stays apart.
        rows = self.terrain_rows
        for _ in range(rank.max()):
            rows = (rows[None, :] | self.terrain_rows[:, None]).reshape(-1, r.height)
        self.blocks_apart = rows.nbytes * len(self.block_rows) > 32 * 2**20
        if not self.blocks_apart:
            rows = (rows[:, None] | self.block_rows[None]).reshape(-1, r.height)
        # Green's first channel, so that the lookup gives the screens' first channel directly.
        self.column_rows = rows * self.green[0]
        self.block_rows *= self.green[0]


def _rank_within_runs(keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal consecutive keys."""
    if keys.size == 0:
        return keys.copy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return np.arange(keys.size) - np.repeat(starts, np.diff(np.r_[starts, keys.size]))


class _SubEnvRandomStates:
    """One ``numpy.random.RandomState`` per sub-env, drawn from many sub-envs at a time.

    Each RandomState wraps its own MT19937 bit generator, whose raw 32-bit outputs are pulled
    in bulk into a per-sub-env buffer; :meth:`randint` and :meth:`uniform` turn them into exactly
    what ``RandomState.randint(low, high)`` and ``RandomState.uniform(low, high)`` would have
    returned, consuming the same words. Callers :meth:`reserve` enough words first.
    """

    TRIES = 8  # words looked at per randint round; a round fails with probability <= 0.5**8

    def __init__(self, num_envs: int, seed: int, buffer_words: int):
        self.generators = [np.random.MT19937() for _ in range(num_envs)]
        self.states = [np.random.RandomState(generator) for generator in self.generators]
        for state in self.states:
            state.seed(seed)  # RandomState's legacy seeding: the stream of RandomState(seed)
        self.size = buffer_words
        self.words = np.zeros((num_envs, buffer_words), dtype=np.uint32)
        self.flat_words = self.words.reshape(-1)
        self.next = np.full(num_envs, buffer_words, dtype=np.int64)  # all buffers empty

    def seed(self, row: int, seed: int) -> None:
        self.states[row].seed(seed)
        self.next[row] = self.size

    def reserve(self, rows: np.ndarray, count: int) -> None:
        """Make at least ``count`` unread words available for each row."""
        for i in rows[self.next[rows] > self.size - count].tolist():
            unread = self.words[i, self.next[i] :].copy()
            self.words[i, : unread.size] = unread
            self.words[i, unread.size :] = self.generators[i].random_raw(self.size - unread.size)
            self.next[i] = 0

    def _read(self, rows: np.ndarray, count: int) -> np.ndarray:
        start = rows * self.size + self.next[rows]
        return np.take(self.flat_words, start[:, None] + np.arange(count))

    def randint(self, rows: np.ndarray, low: int, high: int) -> np.ndarray:
        """``RandomState.randint(low, high)`` for each row: masked rejection on 32-bit words."""
        span = high - 1 - low
        if span == 0:
            return np.full(rows.size, low, dtype=np.int64)
        candidates = self._read(rows, self.TRIES) & np.uint32((1 << span.bit_length()) - 1)
        accepted = candidates <= span
        first = accepted.argmax(axis=1)
        picked = np.arange(rows.size), first
        found = accepted[picked]
        out = low + candidates[picked].astype(np.int64)
        if found.all():
            self.next[rows] += first + 1
        else:
            self.next[rows] += np.where(found, first + 1, self.TRIES)
            again = rows[~found]
            self.reserve(again, self.TRIES)
            out[~found] = self.randint(again, low, high)
        return out

    def uniform(self, rows: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """One ``RandomState.uniform(low[k], high[k])`` per entry k, in order, for each row."""
        words = self._read(rows, 2 * low.size)
        self.next[rows] += 2 * low.size
        high_bits = (words[:, 0::2] >> 5).astype(np.float64)
        low_bits = (words[:, 1::2] >> 6).astype(np.float64)
        unit = (high_bits * 67108864.0 + low_bits) / 9007199254740992.0
        return low + (high - low) * unit


class PixelcopterVectorEnv(VectorEnv):
    """``num_envs`` Pixelcopter-PLE-v0 games stepped together with numpy.

    Each sub-env behaves exactly like :class:`~reinforcelab.envs.pixelcopter.PixelcopterEnv`
    (see its docstring for spaces, rewards and episode end):

    - Construction: every sub-env is a fresh single env (its own ``RandomState(24)``, game
      initialised twice).
    - ``reset(seed=s)``: sub-env i is reset like the single env's ``reset(seed=s + i)``; a list
      of seeds (entries may be None) gives one per sub-env. ``reset()`` without a seed does a
      plain reset of every sub-env, continuing its own random stream.
    - Autoreset is ``NEXT_STEP``: the step after a sub-env terminates, that sub-env does a plain
      reset, ignores its action and returns its start observation with reward 0.0 and
      ``terminated = truncated = False``.
    - ``render()`` with ``render_mode="rgb_array"`` returns a tuple of (H, W, 3) uint8 frames,
      one per sub-env.

    Rewards are float64, observations float32 of shape (num_envs, 7), or with
    ``obs_type="pixels"`` uint8 of shape (num_envs, frame_stack * C, H, W): row i is sub-env i's
    single-env pixel observation (its screen, channels first, frames oldest first; after any
    reset, autoreset included, the reset frame ``frame_stack`` times). There is no time limit:
    ``truncated`` is always False.

    Args:
        num_envs: number of sub-envs.
        render_mode: None or ``"rgb_array"``.
        width: screen width in px (>= 20), as for the single env.
        height: screen height in px (>= 20).
        obs_type: ``"vector"`` (the 7 values) or ``"pixels"`` (the screens).
        grayscale: pixels only: one luma channel per frame instead of RGB.
        frame_stack: pixels only: observations stack the last ``frame_stack`` frames (>= 1).
    """

    # gymnasium types metadata as an instance attribute, so not a ClassVar
    metadata = {  # noqa: RUF012
        "render_modes": ["rgb_array"],
        "render_fps": 30,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        render_mode: str | None = None,
        width: int = 48,
        height: int = 48,
        obs_type: str = "vector",
        grayscale: bool = False,
        frame_stack: int = 1,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None")
        PixelObservations.check_options(obs_type, grayscale, frame_stack)
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.rules = r = PixelcopterRules(width, height)
        self._tables = t = _ScrollTables(self.rules)

        self.single_action_space = spaces.Discrete(2)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.obs_type = obs_type
        if obs_type == "pixels":
            self._pixels = PixelObservations(r, grayscale, int(frame_stack))
            self._screen_tables = _ScreenTables(r, t, self._pixels)
            self.single_observation_space = self._pixels.space
            # The renderer's first colour channel, x-major: (num_envs, W, H).
            self._mask_x_major = np.empty((num_envs, r.width, r.height), np.uint8)
            # the last frame_stack (num_envs, C, H, W) frames
            self._frames: deque[np.ndarray] = deque()
        else:
            self._pixels = None
            self.single_observation_space = spaces.Box(
                -np.inf, np.inf, shape=(7,), dtype=np.float32
            )
        self.observation_space = batch_space(self.single_observation_space, num_envs)

        n = num_envs
        self._rows = np.arange(n)
        self._accel = np.array([r.thrust_accel, r.gravity_accel])  # indexed by the action
        # A reset reads about 100 words; keep the buffers under 16 MiB in total.
        self._rng = _SubEnvRandomStates(n, PLE_RNG_SEED, int(np.clip(2**22 // n, 256, 4096)))
        self._chunk_low = [np.array([-0.01] + [0.0] * c) for c in t.chunk_count]
        self._chunk_high = [np.array([0.01] + [0.5] * c) for c in t.chunk_count]

        self._y = np.zeros(n)
        self._momentum = np.zeros(n)
        # The block ahead (key = spawn x and age, see _ScrollTables) and its centre y; the block
        # already passed stays (for collisions and drawing) until it leaves the screen.
        self._block_key = np.zeros(n, dtype=np.int64)
        self._block_y = np.zeros(n, dtype=np.int64)
        self._passed_alive = np.zeros(n, dtype=bool)
        self._passed_key = np.zeros(n, dtype=np.int64)
        self._passed_y = np.zeros(n, dtype=np.int64)
        # The cave: its phase (layout, see _ScrollTables) and the column centres c of its two
        # chunk slots, older first, plus a sentinel column that touches nothing.
        self._phase = np.zeros(n, dtype=np.int64)
        self._slot_c = np.zeros((n, 2, t.chunk_len + 1), dtype=np.int64)
        self._slot_c[:, :, t.chunk_len] = -(10**9)
        self._slot_c_flat = self._slot_c.reshape(-1)
        self._slot_base = self._rows * (2 * (t.chunk_len + 1))
        self._game_over = np.zeros(n, dtype=bool)  # reset on the next step (NEXT_STEP)

        # Each sub-env starts as a freshly constructed single env: two inits.
        self._new_games(self._rows)
        self._new_games(self._rows)

    # ------------------------------------------------------------------ random draws
    def _spawn_blocks(self, rows: np.ndarray) -> None:
        """The single env's ``_spawn_block`` (two randints); the caller reserves the words."""
        r = self.rules
        x0 = self._rng.randint(rows, r.block_x_low, r.block_x_high)
        self._block_y[rows] = self._rng.randint(rows, r.block_y_low, r.block_y_high)
        self._block_key[rows] = (x0 - r.block_x_low) * self._tables.block_ages

    def _new_chunk(self, rows: np.ndarray, kind: int) -> np.ndarray:
        """The single env's ``_add_terrain`` for each row: column centres c of a new chunk."""
        r = self.rules
        draws = self._rng.uniform(rows, self._chunk_low[kind], self._chunk_high[kind])
        freq = r.terrain_base_freq + draws[:, :1]
        angle = freq * self._tables.chunk_x0[kind] + draws[:, 1:]
        fraction, c = np.modf(r.terrain_mid + r.terrain_amplitude * np.sin(angle))
        # The single env uses math.sin; numpy's sin could differ in the last bit on some
        # builds, which only matters right next to an integer. Redo those with math.sin.
        for i, j in zip(*np.nonzero((fraction < 1e-9) | (fraction > 1 - 1e-9))):
            c[i, j] = math.trunc(r.terrain_mid + r.terrain_amplitude * math.sin(float(angle[i, j])))
        return c

    def _new_games(self, rows: np.ndarray) -> None:
        """The single env's ``_new_game`` for these rows: one block, then the first chunk."""
        r, t = self.rules, self._tables
        self._rng.reserve(
            rows, 2 * _SubEnvRandomStates.TRIES + 2 * (1 + t.chunk_count[FIRST_CHUNK])
        )
        self._y[rows] = r.copter_start_y
        self._momentum[rows] = 0.0
        self._spawn_blocks(rows)
        self._passed_alive[rows] = False
        self._passed_key[rows] = 0
        self._phase[rows] = 0
        self._slot_c[rows, 1, : t.chunk_count[FIRST_CHUNK]] = self._new_chunk(rows, FIRST_CHUNK)

    def _pass_blocks(self, rows: np.ndarray) -> None:
        """The block ahead reached the copter: it becomes the passed block; spawn the next."""
        self._passed_alive[rows] = True
        self._passed_key[rows] = self._block_key[rows]
        self._passed_y[rows] = self._block_y[rows]
        self._rng.reserve(rows, 2 * _SubEnvRandomStates.TRIES)
        self._spawn_blocks(rows)

    def _refill_terrain(self, rows: np.ndarray) -> None:
        """Append a refill chunk: the newer slot becomes the older one (that one is all gone)."""
        t = self._tables
        self._slot_c[rows, 0] = self._slot_c[rows, 1]
        self._rng.reserve(rows, 2 * (1 + t.chunk_count[REFILL_CHUNK]))
        self._slot_c[rows, 1, : t.chunk_count[REFILL_CHUNK]] = self._new_chunk(rows, REFILL_CHUNK)

    # ------------------------------------------------------------------ geometry
    def _contact(self):
        """Per sub-env: (copter hits a block or a terrain hit box, c of the column under it).

        Terrain candidates are the columns touching the copter horizontally (from the tables),
        older slot first, left to right: the order of the original's sprite group.
        """
        r, t = self.rules, self._tables
        y = self._y
        copter_top = _round_half_away(y) - r.copter_h // 2

        # Blocks: horizontal overlap from the tables, vertical overlap of the integer rects.
        low = copter_top - (r.block_h - r.block_h // 2)  # block centre y strictly between these
        high = copter_top + r.copter_h + r.block_h // 2
        hit = t.block_touch[self._block_key] & (self._block_y > low) & (self._block_y < high)
        hit |= (
            self._passed_alive
            & t.block_touch[self._passed_key]
            & (self._passed_y > low)
            & (self._passed_y < high)
        )

        cols = np.take(t.touch, self._phase, axis=1)  # (touch_width, n)
        c = np.take(self._slot_c_flat, cols + self._slot_base)
        low = copter_top - (r.terrain_h - r.terrain_h // 2)  # column centre c strictly between
        high = copter_top + r.copter_h + r.terrain_h // 2
        touching = (c > low) & (c < high)
        lethal = touching & (
            (y - r.copter_height <= c - r.terrain_half_gap) | (y >= c + r.terrain_half_gap)
        )
        hit |= lethal.any(axis=0)
        c_under = c[-1]  # the first touching column, in group order
        for k in range(t.touch_width - 2, -1, -1):
            c_under = np.where(touching[k], c[k], c_under)
        if not touching.any(axis=0).all():
            # Unreachable for the original's sizes (where the original would crash):
            # fall back to the first column that touches horizontally.
            missing = np.flatnonzero(~touching.any(axis=0))
            c_under[missing] = c[(cols[:, missing] == t.chunk_len).argmin(axis=0), missing]
        return hit, c_under

    def _observe(self, c_under: np.ndarray) -> np.ndarray:
        r = self.rules
        obs = np.empty((self.num_envs, 7), dtype=np.float32)  # float64 values rounded on assignment
        obs[:, 0] = self._y
        obs[:, 1] = self._momentum
        obs[:, 2] = self._y - (c_under - r.terrain_half_gap)
        obs[:, 3] = (c_under + r.terrain_half_gap) - self._y
        obs[:, 4] = self._tables.block_x[self._block_key] - r.copter_x
        obs[:, 5] = self._block_y
        obs[:, 6] = self._block_y + r.block_h
        return obs

    def _draw_screens(self) -> np.ndarray:
        """Every sub-env's screen, as the single env's pixel frame: (num_envs, C, H, W) uint8."""
        r, st = self.rules, self._screen_tables
        n, width, height = self.num_envs, r.width, r.height
        mask = self._mask_x_major  # (n, W, H): x-major, so each lookup copies one table row

        # The code of each pixel column (see _ScreenTables), with one more entry at the end that
        # takes what falls off screen. First the terrain: the levels of the columns covering
        # each pixel column (the sentinel column's c gives level 0, nothing).
        terrain_levels = len(st.terrain_rows)
        code = np.empty(n * width + 1, dtype=np.int64)
        on_screen_code = code[:-1].reshape(n, width)
        c = np.take(self._slot_c_flat, st.first_cover[self._phase] + self._slot_base[:, None])
        np.clip(c - (st.c_low - 1), 0, terrain_levels - 1, out=on_screen_code)
        if st.more_x.shape[1]:
            c = np.take(self._slot_c_flat, st.more_cover[self._phase] + self._slot_base[:, None])
            more = np.clip(c - (st.c_low - 1), 0, terrain_levels - 1) * st.more_weight[self._phase]
            np.add.at(on_screen_code, (self._rows[:, None], st.more_x[self._phase]), more)

        # (Codes are in range by construction; mode="clip" spares the copy through a buffer
        # that take(out=...) makes in the default mode="raise".)
        if st.blocks_apart:
            np.take(st.column_rows, on_screen_code, axis=0, out=mask, mode="clip")
            code[:] = 0
        else:
            code *= len(st.block_rows)
        # Blocks: the one ahead and, while on screen, the one passed (level 0 once gone). They
        # are always more than a block width apart (a block spawns at x >= W when the last one
        # reaches the copter), so a pixel column shows at most one.
        for key, level in (
            (self._passed_key, (self._passed_y - (r.block_y_low - 1)) * self._passed_alive),
            (self._block_key, self._block_y - (r.block_y_low - 1)),
        ):
            x = st.block_left[key][:, None] + np.arange(r.block_w)  # (n, block_w)
            code[np.where((x >= 0) & (x < width), self._rows[:, None] * width + x, n * width)] += (
                level[:, None]
            )
        if st.blocks_apart:
            mask |= np.take(st.block_rows, on_screen_code, axis=0)
        else:
            np.take(st.column_rows, on_screen_code, axis=0, out=mask, mode="clip")

        # The transposing copy is the costliest step: it is done once, for the first channel.
        channels = len(st.green)
        screens = np.empty((n, channels, height, width), dtype=np.uint8)
        first = screens[:, 0]
        np.copyto(first, mask.transpose(0, 2, 1))
        if channels > 1:
            drawn = (first != 0).view(np.uint8)  # 0 or 1, as bytes (no bool -> uint8 cast below)
            np.multiply(drawn[:, None], st.green[1:, None, None], out=screens[:, 1:])

        # The copter: white on the pixels left black (everything else paints over it).
        plane = height * width
        top = _round_half_away(self._y) - r.copter_h // 2
        rows = top[:, None, None] + np.arange(r.copter_h)[:, None]
        cols = r.copter_left + np.arange(r.copter_w)
        # (n, copter_h, copter_w)
        pixel = (self._rows * (channels * plane))[:, None, None] + rows * width + cols
        visible = (rows >= 0) & (rows < height)
        flat = screens.reshape(-1)
        pixel = pixel[visible & (flat[np.where(visible, pixel, 0)] == 0)]
        flat[pixel[:, None] + plane * np.arange(channels)] = st.white
        return screens

    def _pixel_observation(self, restarted: np.ndarray | None) -> np.ndarray:
        """Draw the screens and push them onto the frame stacks; (num_envs, frame_stack * C, H, W).

        ``restarted``: the sub-envs whose stack starts over with this frame (None: all of them).
        """
        frame = self._draw_screens()
        k = self._pixels.frame_stack
        if restarted is None:
            self._frames = deque([frame] * k, maxlen=k)
        else:
            # The stacked frames are private (concatenate copies them), so they can be edited.
            for older in list(self._frames)[1:]:  # the ones still stacked after this append
                older[restarted] = frame[restarted]
            self._frames.append(frame)
        return frame if k == 1 else np.concatenate(self._frames, axis=1)

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is None or isinstance(seed, (int, np.integer)):
            super().reset(seed=None if seed is None else int(seed))
            seeds = (
                [None] * self.num_envs
                if seed is None
                else [int(seed) + i for i in range(self.num_envs)]
            )
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"expected {self.num_envs} seeds, got {len(seeds)}")
            super().reset(seed=seeds[0])
        seeded = np.array([i for i, s in enumerate(seeds) if s is not None], dtype=np.int64)
        for i in seeded.tolist():
            self._rng.seed(i, seeds[i])
        if seeded.size:
            self._new_games(seeded)  # gym-games initialises once more after seeding
        self._new_games(self._rows)
        self._game_over = np.zeros(self.num_envs, dtype=bool)
        if self._pixels is not None:
            return self._pixel_observation(restarted=None), {}
        _, c_under = self._contact()
        return self._observe(c_under), {}

    def step(self, actions: np.ndarray):
        r, t = self.rules, self._tables
        actions = np.asarray(actions)
        valid = actions.shape == (self.num_envs,) and actions.dtype.kind in "iu"
        if not (valid and 0 <= actions.min() <= actions.max() <= 1):
            raise ValueError(
                f"expected {self.num_envs} integer actions in {{0, 1}}, got {actions!r}"
            )
        resetting = self._game_over
        live = ~resetting

        # Copter physics, in the single env's order of float operations.
        self._momentum += self._accel[actions]
        self._momentum *= r.drag
        self._y += self._momentum

        # Scrolling: every block and chunk is one frame older.
        self._block_key += 1
        self._passed_key += 1
        self._phase = t.next_phase[self._phase]

        # Scoring, in the original's order. Its block loop visits the passed block first (it is
        # removed once off screen), then the block ahead, which scores and spawns the next block
        # when it reaches the copter while it is the only block. Then the terrain columns.
        self._passed_alive &= ~t.block_gone[self._passed_key]
        passing = t.block_passing[self._block_key] & ~self._passed_alive & live
        reward = (t.phase_scored[self._phase] + passing) * r.reward_positive
        refilling = t.phase_refill[self._phase] & live

        # Random draws, each sub-env in the single env's order: block spawn, then terrain refill.
        rows = np.flatnonzero(passing)
        if rows.size:
            self._pass_blocks(rows)
        rows = np.flatnonzero(refilling)
        if rows.size:
            self._refill_terrain(rows)
        # Sub-envs that ended last step start over instead (their step above is discarded).
        rows = np.flatnonzero(resetting)
        if rows.size:
            self._new_games(rows)

        # Collisions and the observation. The original tests collisions before the scoring
        # above; that changes nothing here, since neither the block that spawned nor the chunk
        # appended can touch the copter, and the passed block is only removed far behind it.
        dead, c_under = self._contact()
        dead |= (self._y < r.top_limit) | (self._y > r.bottom_limit)
        terminated = dead & live
        reward += np.where(terminated, r.reward_loss, 0.0)
        reward[rows] = 0.0
        self._game_over = terminated.copy()  # the caller may keep (and modify) `terminated`
        obs = (
            self._observe(c_under)
            if self._pixels is None
            else self._pixel_observation(restarted=rows)
        )
        return obs, reward, terminated, np.zeros(self.num_envs, dtype=bool), {}

    def render(self) -> tuple[np.ndarray, ...] | None:
        if self.render_mode is None:
            gym.logger.warn(
                "render() needs a render mode: create the env with "
                'gym.make_vec("Pixelcopter-PLE-v0", render_mode="rgb_array")'
            )
            return None
        return tuple(draw_frame(self.rules, *self._scene(i)) for i in range(self.num_envs))

    def _scene(self, i: int):
        """(copter y, blocks, columns) of sub-env i, in the shapes ``draw_frame`` takes."""
        t = self._tables
        blocks = []
        if self._passed_alive[i]:
            blocks.append((t.block_x[self._passed_key[i]], int(self._passed_y[i])))
        blocks.append((t.block_x[self._block_key[i]], int(self._block_y[i])))
        columns = []
        for s, (kind, age) in enumerate(t.phase_slots[self._phase[i]]):
            if kind == EMPTY_SLOT:
                continue
            for j in np.flatnonzero(t.column_gone_age[kind] > age):
                columns.append((t.x_at[t.chunk_x0[kind][j], age], int(self._slot_c[i, s, j])))
        return float(self._y[i]), blocks, columns
