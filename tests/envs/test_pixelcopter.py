"""Pixelcopter-PLE-v0: the acceptance facts of shared/specs/pixelcopter.md, and single-vs-vector
equivalence.

The numbers below were measured on the original game (PLE + gym-games, pygame 2); the env must
reproduce them exactly where exact, and statistically where the spec gives averages.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

from reinforcelab.envs import PixelcopterEnv, PixelcopterVectorEnv, register_envs
from reinforcelab.envs.pixelcopter_vector import _SubEnvRandomStates

ENV_ID = "Pixelcopter-PLE-v0"
THRUST, NOOP = 0, 1
WHITE, GREEN = (255, 255, 255), (120, 240, 80)
REWARD_VALUES = {0.0, 1.0, 2.0, -3.0, -4.0, -5.0}


@pytest.fixture(scope="module", autouse=True)
def _registered():
    register_envs()


def make(**kwargs) -> gym.Env:
    return gym.make(ENV_ID, **kwargs)


def bang_bang(obs) -> int:
    """Thrust iff y + 4 vel is below (greater than) the middle of the lethal band; when the block
    is within 15 px and in the way, aim at the middle of the larger gap beside it instead."""
    y, v, to_ceil, _, block_dist, block_top, block_bottom = (float(x) for x in obs)
    c = y - to_ceil + 12.0
    low, high = c - 9.6, c + 12.0  # lethal when y <= low or y >= high
    target = (low + high) / 2
    if (
        0 < block_dist < 15 and block_top - 6 < target < block_bottom - 2
    ):  # block rows [top-4, top+5)
        if block_top - 4 - low > high - (block_bottom - 4):
            target = (low + block_top - 4) / 2
        else:
            target = (block_bottom - 4 + high) / 2
    return THRUST if y + 4 * v > target else NOOP


def play(env: gym.Env, policy, seed: int | None = None, max_steps: int = 5000):
    """One episode: (observations incl. the reset one, rewards, terminated flags)."""
    obs, info = env.reset(seed=seed)
    assert info == {}
    observations, rewards, flags = [obs], [], []
    for _ in range(max_steps):
        obs, reward, terminated, truncated, info = env.step(int(policy(obs)))
        assert truncated is False and info == {}
        observations.append(obs)
        rewards.append(reward)
        flags.append(terminated)
        if terminated:
            break
    return np.array(observations), np.array(rewards), flags


# --------------------------------------------------------------------------- spaces, registration
def test_registration_spaces_and_no_time_limit():
    register_envs()  # idempotent
    spec = gym.spec(ENV_ID)
    assert spec.max_episode_steps is None and spec.reward_threshold is None
    assert spec.vector_entry_point is not None
    env = make()
    assert "TimeLimit" not in str(env)
    assert env.observation_space == gym.spaces.Box(-np.inf, np.inf, (7,), np.float32)
    assert env.action_space == gym.spaces.Discrete(2)
    obs, _ = env.reset()
    assert obs.shape == (7,) and obs.dtype == np.float32


def test_check_env_passes_on_unwrapped_env():
    env = make(render_mode="rgb_array").unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Box(-inf, inf) draws a "not bounded" advisory
        check_env(env, skip_render_check=False)


# --------------------------------------------------------------------------- reset and seeding
def test_exact_seeded_reset_observations():
    env = make()
    start = [24, 0, 7, 17]
    assert env.reset()[0].tolist() == start + [49, 31, 40]  # first reset after make
    assert env.reset(seed=0)[0].tolist() == start + [42, 32, 41]
    assert env.reset(seed=1)[0].tolist() == start + [37, 31, 40]
    assert env.reset(seed=42)[0].tolist() == start + [49, 23, 32]
    assert env.reset()[0].tolist() == start + [38, 28, 37]  # plain reset continues seed 42's stream


def test_every_reset_starts_the_same_way():
    env = make()
    for seed in [None] * 50 + list(range(150)):
        obs, _ = env.reset(seed=seed)
        assert obs[:4].tolist() == [24, 0, 7, 17]  # the column at x=14 always has c = 29
        assert obs[4] == int(obs[4]) and 32 <= obs[4] <= 55
        assert obs[5] == int(obs[5]) and 12 <= obs[5] <= 35
        assert obs[6] == obs[5] + 9


def test_seeding_semantics():
    actions = np.random.default_rng(0).integers(0, 2, size=400)

    def trajectory(env, seed):
        obs, _ = env.reset(seed=seed)
        out = [obs]
        for a in actions:
            obs, r, terminated, _, _ = env.step(int(a))
            out.append(np.append(obs, r))
            if terminated:
                obs, _ = env.reset()
                out.append(obs)
        return np.concatenate(out)

    a, b = make(), make()
    assert np.array_equal(trajectory(a, None), trajectory(b, None))  # two fresh envs are identical
    assert np.array_equal(trajectory(a, 7), trajectory(b, 7))
    # reset() continues the stream: successive plain resets give new levels.
    fresh = make()
    starts = {tuple(fresh.reset()[0]) for _ in range(20)}
    assert len(starts) > 10
    # reset(seed=s) is rng.seed(s) + two inits, independent of the history.
    c = make()
    c.reset()
    c.step(NOOP)
    assert np.array_equal(c.reset(seed=5)[0], make().reset(seed=5)[0])
    # The action space and np_random are left alone by the game's stream.
    assert c.unwrapped._game_rng is not c.unwrapped.np_random


# --------------------------------------------------------------------------- dynamics
def test_first_step_values():
    env = make()
    obs0, _ = env.reset(seed=3)
    obs, reward, terminated, truncated, info = env.step(NOOP)
    assert obs[0] == np.float32(24.057024) and obs[1] == np.float32(0.057024)
    assert obs[4] == np.float32(obs0[4] - 0.64)
    assert (reward, terminated, truncated, info) == (0.0, False, False, {})
    env.reset(seed=18)  # a level where always-thrust lasts 5 steps (4 is more common)
    ys = []
    for _ in range(5):
        obs, *_ = env.step(THRUST)
        ys.append(obs[0])
        if len(ys) == 1:
            assert obs[1] == np.float32(-0.5544)
    np.testing.assert_allclose(ys, [23.4456, 22.3423, 20.6957, 18.5112, 15.7941], atol=5e-5)


def test_always_noop_dies_at_the_floor():
    env = make()
    lengths = set()
    for seed in range(300):
        obs, rewards, flags = play(env, lambda o: NOOP, seed=seed)
        n = len(rewards)
        lengths.add(n)
        assert 18 <= n <= 24 and flags[-1] and not any(flags[:-1])
        # At the floor (of this column or of its neighbour under the copter), falling.
        assert obs[-1][1] > 0 and obs[-1][2] > 2.4 and obs[-1][3] < 6
        assert rewards.sum() in (-3.0, -2.0)
        expected = {9: 1.0, 15: 1.0, 21: 1.0}  # +1 at steps 10, 16, 22 (0-based 9, 15, 21)
        for i, r in enumerate(rewards[:-1]):
            assert r == expected.get(i, 0.0)
    assert {20, 21, 22} <= lengths


def test_always_thrust_dies_in_four_or_five_steps():
    env = make()
    lengths = []
    for seed in range(300):
        _, rewards, _ = play(env, lambda o: THRUST, seed=seed)
        lengths.append(len(rewards))
        assert rewards.tolist() == [0.0] * (len(rewards) - 1) + [-5.0]
    lengths = np.array(lengths)
    assert set(lengths) <= {4, 5} and 0.85 < np.mean(lengths == 4) < 0.96


def test_random_policies_statistics():
    env = make()
    rng = np.random.default_rng(0)
    returns, lengths, seen = [], [], set()
    for _ in range(1500):
        _, rewards, flags = play(env, lambda o: rng.integers(2))
        returns.append(rewards.sum())
        lengths.append(len(rewards))
        seen |= set(rewards.tolist())
        assert flags[-1] and rewards[-1] in (-5.0, -4.0, -3.0)
    returns = np.array(returns)
    assert -4.9 < returns.mean() < -4.7 and 0.8 < np.mean(returns == -5.0) < 0.9
    assert 6 < np.mean(lengths) < 8
    assert seen <= REWARD_VALUES

    returns, lengths = [], []
    for _ in range(400):
        _, rewards, _ = play(env, lambda o: THRUST if rng.random() < 0.1 else NOOP)
        returns.append(rewards.sum())
        lengths.append(len(rewards))
        seen |= set(rewards.tolist())
    assert -1.2 < np.mean(returns) < -0.2 and 28 < np.mean(lengths) < 38
    assert seen <= REWARD_VALUES


def test_bang_bang_controller_statistics():
    env = make()
    returns, lengths, seen = [], [], set()
    for seed in range(200):
        _, rewards, _ = play(env, bang_bang, seed=seed)
        returns.append(rewards.sum())
        lengths.append(len(rewards))
        seen |= set(rewards.tolist())
    assert 10 < np.mean(returns) < 20 and 10 < np.std(returns) < 22
    assert 90 < np.mean(lengths) < 160 and max(lengths) > 450
    assert seen <= REWARD_VALUES and {1.0, -5.0} <= seen


def test_terminal_step_and_steps_after_termination():
    env = make()
    env.reset(seed=11)
    while True:
        obs, reward, terminated, truncated, info = env.step(NOOP)
        if terminated:
            break
    assert reward in (-5.0, -4.0) and truncated is False and info == {}
    for action in (THRUST, NOOP):
        again = env.step(action)
        assert np.array_equal(again[0], obs) and again[1:] == (0.0, True, False, {})
        assert type(again[1]) is float


def safe_copter_y(env: PixelcopterEnv) -> float:
    """A height (before this frame's gravity) at which the next frame cannot kill the copter:
    inside the lethal band (c - 9.6, c + 12) of every column near it and clear of the block."""
    columns = [c for x, c in zip(env._terrain_x, env._terrain_c) if 12 < x - 0.64 < 20]
    heights = np.arange(max(columns) - 9.5, min(columns) + 11.9, 0.05)
    bx, by = min(env._blocks, key=lambda b: abs(b[0] - 16))
    if abs(bx - 16) <= 6:  # block rows [by-4, by+5) vs copter rows [round(y)-1, round(y)+1)
        heights = heights[(heights <= by - 4.6) | (heights >= by + 5.6)]
    return heights[heights.size // 2] - 0.057024  # a no-op adds 0.057024 from rest


def test_terrain_refills_with_an_immortal_copter():
    """Refills depend on scrolling only. Keep the copter alive by placing it, before every
    frame, where the real rules cannot kill it; the game itself runs unchanged."""
    env = PixelcopterEnv()
    env.reset(seed=5)
    refills = []
    for frame in range(1, 900):
        env._y, env._momentum = safe_copter_y(env), 0.0
        before = len(env._terrain_x)
        _, _, terminated, _, _ = env.step(NOOP)
        assert not terminated, frame
        if len(env._terrain_x) > before:
            refills.append(frame)
    assert refills == [222, 519, 816]


# --------------------------------------------------------------------------- rendering
def test_rendering():
    env = make(render_mode="rgb_array")
    env.reset(seed=2)
    start = env.render()
    assert start.shape == (48, 48, 3) and start.dtype == np.uint8
    assert np.argwhere((start == WHITE).all(-1)).tolist() == [
        [23, 15],
        [23, 16],
        [24, 15],
        [24, 16],
    ]
    env.step(NOOP)
    frame = env.render()
    assert np.argwhere((frame == WHITE).all(-1)).tolist() == [
        [23, 15],
        [23, 16],
        [24, 15],
        [24, 16],
    ]
    rng = np.random.default_rng(1)
    for _ in range(300):
        _, _, terminated, _, _ = env.step(
            int(bang_bang(env.unwrapped._observation())) if rng.random() > 0.05 else 1
        )
        frame = env.render()
        colours = {tuple(p) for p in frame.reshape(-1, 3).tolist()}
        assert colours <= {(0, 0, 0), WHITE, GREEN} and GREEN in colours
        if terminated:
            env.reset()
    plain = make()
    plain.reset()
    with pytest.warns(UserWarning, match="render_mode"):
        assert plain.render() is None  # no render mode: warns, returns None


def test_bigger_screen():
    env = make(width=96, height=96, render_mode="rgb_array")
    obs, _ = env.reset()
    assert env.unwrapped.rules.speed == pytest.approx(0.0384)
    assert obs[:4].tolist() == [48, 0, 13, 35]
    assert env.render().shape == (96, 96, 3)
    with pytest.raises(ValueError):
        PixelcopterEnv(width=10)


# --------------------------------------------------------------------------- vector env
def test_random_stream_emulation_matches_randomstate():
    rows = np.arange(3)
    streams = _SubEnvRandomStates(3, seed=24, buffer_words=256)  # small: buffers refill often
    for i, s in enumerate([24, 99, 2**32 - 1]):
        streams.seed(i, s)
    refs = [np.random.RandomState(s) for s in (24, 99, 2**32 - 1)]
    for k in range(300):
        low, high = [(48, 72), (12, 36), (0, 5), (0, 2), (7, 8)][k % 5]
        streams.reserve(rows, 2 * streams.TRIES)
        assert streams.randint(rows, low, high).tolist() == [r.randint(low, high) for r in refs]
        bounds = np.array([-0.01] + [0.0] * 48), np.array([0.01] + [0.5] * 48)
        streams.reserve(rows, 98)
        got = streams.uniform(rows, *bounds)
        for i, r in enumerate(refs):
            assert got[i, 0] == r.uniform(-0.01, 0.01)
            assert np.array_equal(got[i, 1:], [r.uniform(0.0, 0.5) for _ in range(48)])


def test_make_vec_gives_the_batched_env():
    envs = gym.make_vec(ENV_ID, num_envs=3)
    assert isinstance(envs.unwrapped, PixelcopterVectorEnv)
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.single_observation_space == gym.spaces.Box(-np.inf, np.inf, (7,), np.float32)
    assert envs.single_action_space == gym.spaces.Discrete(2)
    obs, info = envs.reset()
    assert obs.shape == (3, 7) and obs.dtype == np.float32 and info == {}
    assert (obs == [24, 0, 7, 17, 49, 31, 40]).all()  # three fresh single envs after one reset
    obs, reward, terminated, truncated, _ = envs.step(np.ones(3, dtype=np.int64))
    assert reward.dtype == np.float64 and terminated.dtype == truncated.dtype == bool
    with pytest.raises(ValueError):
        envs.step(np.full(3, 2))


@pytest.mark.parametrize("size, num_envs, steps", [((48, 48), 16, 1600), ((96, 96), 4, 500)])
def test_vector_env_reproduces_single_envs(size, num_envs, steps):
    """Same per-sub-env seeds and actions: every sub-env is the single env, bit for bit, including
    NEXT_STEP dead steps, plain resets, block spawns, terrain refills and frames."""
    width, height = size
    singles = [
        PixelcopterEnv(render_mode="rgb_array", width=width, height=height) for _ in range(num_envs)
    ]
    vec = PixelcopterVectorEnv(
        num_envs=num_envs, render_mode="rgb_array", width=width, height=height
    )
    rng = np.random.default_rng(sum(size))
    scale = np.array(
        [48 / height, 1, 48 / height, 48 / height, 48 / width, 48 / height, 48 / height]
    )
    episodes, refills, dead_steps = 0, 0, 0

    def compare_frames():
        frames = vec.render()
        assert isinstance(frames, tuple) and len(frames) == num_envs
        for env, frame in zip(singles, frames):
            assert frame.shape == (height, width, 3) and np.array_equal(frame, env.render())

    for phase, seed in enumerate([100, None, [3, None, 5, 6][:num_envs] + [7] * (num_envs - 4)]):
        seeds = [seed + i for i in range(num_envs)] if isinstance(seed, int) else seed
        seeds = seeds or [None] * num_envs
        expected = np.stack([env.reset(seed=s)[0] for env, s in zip(singles, seeds)])
        obs, _ = vec.reset(seed=seed)
        assert np.array_equal(obs, expected)
        compare_frames()
        done = np.zeros(num_envs, dtype=bool)
        for t in range(steps // 3):
            actions = np.array([bang_bang(o) for o in obs * scale])
            explore = rng.random(num_envs) < 0.03
            actions[explore] = rng.integers(0, 2, explore.sum())
            obs, reward, terminated, truncated, _ = vec.step(actions)
            assert not truncated.any()
            for i, env in enumerate(singles):
                if done[i]:  # NEXT_STEP autoreset: action ignored, start obs, reward 0, flags False
                    expected_obs, expected_r, expected_t = env.reset()[0], 0.0, False
                    dead_steps += 1
                else:
                    before = len(env._terrain_x)
                    expected_obs, expected_r, expected_t, _, _ = env.step(int(actions[i]))
                    refills += len(env._terrain_x) > before
                    episodes += expected_t
                assert np.array_equal(obs[i], expected_obs), (phase, t, i)
                assert reward[i] == expected_r and terminated[i] == expected_t, (phase, t, i)
            done = terminated
            if t % 10 == 0 or terminated.any():
                compare_frames()
    assert episodes > 10 and dead_steps > 10
    if size == (48, 48):
        assert refills >= 3


def test_vector_env_matches_over_long_immortal_episodes():
    """Past the fourth refill (frame 1113), where the vector env's cave layout wraps around."""
    singles = [PixelcopterEnv(render_mode="rgb_array") for _ in range(3)]
    vec = PixelcopterVectorEnv(num_envs=3, render_mode="rgb_array")
    for i, env in enumerate(singles):
        env.reset(seed=60 + i)
    vec.reset(seed=60)
    for frame in range(1, 1300):
        for i, env in enumerate(singles):
            vec._y[i] = env._y = safe_copter_y(env)
            vec._momentum[i] = env._momentum = 0.0
        obs, reward, terminated, _, _ = vec.step(np.full(3, NOOP))
        for i, env in enumerate(singles):
            expected = env.step(NOOP)
            assert (
                np.array_equal(obs[i], expected[0]) and (reward[i], terminated[i]) == expected[1:3]
            ), frame
        if frame % 50 == 0 or frame in (222, 519, 816, 1113, 1114):
            for env, frame_v in zip(singles, vec.render()):
                assert np.array_equal(frame_v, env.render())
    assert not terminated.any()


def test_vector_seed_offsets_match_single_seeds():
    vec = PixelcopterVectorEnv(num_envs=4)
    obs, _ = vec.reset(seed=40)
    for i in range(4):
        assert np.array_equal(obs[i], PixelcopterEnv().reset(seed=40 + i)[0])
    with pytest.warns(UserWarning, match="render_mode"):
        assert vec.render() is None
