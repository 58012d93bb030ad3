"""Pixelcopter-PLE-v0 pixel observations: the frames are render()'s, the vector twin's equal the
single env's.

The game itself is checked in test_pixelcopter.py; here the observation is the screen, so every
test compares observations with ``render()`` (drawn by ``draw_frame``, the reference renderer)
or with the single env's observations.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from test_pixelcopter import NOOP, THRUST, bang_bang, safe_copter_y

from reinforcelab.envs import PixelcopterEnv, PixelcopterVectorEnv, register_envs
from reinforcelab.envs.pixelcopter import GREEN, WHITE, to_grayscale

ENV_ID = "Pixelcopter-PLE-v0"


@pytest.fixture(scope="module", autouse=True)
def _registered():
    register_envs()


def as_observation_frame(rgb: np.ndarray, grayscale: bool) -> np.ndarray:
    """A (H, W, 3) render() frame in the observation layout: (C, H, W)."""
    return to_grayscale(rgb)[None] if grayscale else rgb.transpose(2, 0, 1)


def steer(env: PixelcopterEnv, rng: np.random.Generator) -> int:
    """A policy that survives long enough to see blocks pass and the cave refill (from the game
    state)."""
    if rng.random() < 0.03:
        return int(rng.integers(2))
    h, w = 48 / env.rules.height, 48 / env.rules.width  # bang_bang's constants are for 48x48
    return bang_bang(env._observation() * np.array([h, 1, h, h, w, h, h]))


def step_singles(singles: list[PixelcopterEnv], actions: np.ndarray, done: np.ndarray):
    """What the vector env's sub-envs must return: NEXT_STEP autoreset after termination."""
    observations, terminated = [], []
    for env, action, restart in zip(singles, actions, done):
        if restart:
            observations.append(env.reset()[0])
            terminated.append(False)
        else:
            obs, _, ended, _, _ = env.step(int(action))
            observations.append(obs)
            terminated.append(ended)
    return observations, np.array(terminated)


# --------------------------------------------------------------------------- single env
@pytest.mark.parametrize("grayscale", [False, True])
def test_observation_is_the_rendered_frame(grayscale):
    env = gym.make(ENV_ID, obs_type="pixels", grayscale=grayscale, render_mode="rgb_array")
    channels = 1 if grayscale else 3
    assert env.observation_space == gym.spaces.Box(0, 255, (channels, 48, 48), np.uint8)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=3)
    episodes = 0
    for _ in range(600):
        assert env.observation_space.contains(obs)
        assert np.array_equal(obs, as_observation_frame(env.render(), grayscale))
        obs, _, terminated, _, _ = env.step(steer(env.unwrapped, rng))
        if terminated:
            episodes += 1
            obs, _ = env.reset()
    assert episodes >= 2


def test_default_observation_is_still_the_vector():
    env = gym.make(ENV_ID)
    assert env.unwrapped.obs_type == "vector"
    assert env.observation_space == gym.spaces.Box(-np.inf, np.inf, (7,), np.float32)
    explicit = gym.make(ENV_ID, obs_type="vector")
    assert np.array_equal(env.reset(seed=4)[0], explicit.reset(seed=4)[0])


def test_grayscale_is_bt601_luma():
    colours = np.array([[(0, 0, 0), WHITE, GREEN]], dtype=np.uint8)
    assert to_grayscale(colours).tolist() == [
        [0, 255, 186]
    ]  # 0.299*120 + 0.587*240 + 0.114*80 = 185.88
    image = pytest.importorskip("PIL.Image")
    assert np.array_equal(np.asarray(image.fromarray(colours).convert("L")), to_grayscale(colours))
    env = PixelcopterEnv(obs_type="pixels", grayscale=True)
    obs, _ = env.reset()
    assert set(np.unique(obs).tolist()) == {0, 186, 255}


@pytest.mark.parametrize("grayscale", [False, True])
def test_frame_stack_order(grayscale):
    """Oldest frame first; after a reset the stack is the reset frame repeated."""
    env = PixelcopterEnv(
        obs_type="pixels", grayscale=grayscale, frame_stack=3, render_mode="rgb_array"
    )
    c = 1 if grayscale else 3
    assert env.observation_space.shape == (3 * c, 48, 48)

    def frame():
        return as_observation_frame(env.render(), grayscale)

    obs, _ = env.reset(seed=1)
    f0 = frame()
    assert np.array_equal(obs, np.concatenate([f0, f0, f0]))
    seen = [f0]
    for t in range(1, 30):
        obs, _, terminated, _, _ = env.step(THRUST if t % 4 == 0 else NOOP)
        seen.append(frame())
        assert np.array_equal(obs, np.concatenate(([f0, f0] + seen)[-3:])), t
        if terminated:
            break
    assert terminated and len(seen) > 4 and not np.array_equal(seen[-1], seen[-2])
    # A step after termination changes nothing, the observation included.
    again = env.step(NOOP)
    assert np.array_equal(again[0], obs) and again[1:3] == (0.0, True)
    obs, _ = env.reset()
    assert np.array_equal(obs, np.concatenate([frame()] * 3))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(obs_type="rgb"), "obs_type must be 'vector' or 'pixels', got 'rgb'"),
        (dict(obs_type="pixels", frame_stack=0), "frame_stack must be an integer >= 1, got 0"),
        (dict(obs_type="pixels", frame_stack=2.0), "frame_stack must be an integer >= 1, got 2.0"),
        (dict(obs_type="pixels", grayscale="yes"), "grayscale must be True or False, got 'yes'"),
        (dict(grayscale=True), "grayscale and frame_stack only apply to pixel observations"),
        (dict(frame_stack=4), "grayscale and frame_stack only apply to pixel observations"),
    ],
)
def test_bad_options_give_a_one_line_value_error(kwargs, message):
    for make in (
        lambda: gym.make(ENV_ID, **kwargs),
        lambda: gym.make_vec(ENV_ID, num_envs=2, **kwargs),
    ):
        with pytest.raises(ValueError, match=message) as error:
            make()
        assert "\n" not in str(error.value)


def test_check_env_passes_with_pixels():
    env = gym.make(
        ENV_ID, obs_type="pixels", grayscale=True, frame_stack=2, render_mode="rgb_array"
    ).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env, skip_render_check=False)


# --------------------------------------------------------------------------- vector env
@pytest.mark.parametrize(
    "grayscale, frame_stack, size, num_envs, steps",
    [(False, 1, 48, 12, 700), (True, 4, 48, 12, 700), (False, 2, 72, 4, 400)],
)
def test_vector_pixels_reproduce_single_envs(grayscale, frame_stack, size, num_envs, steps):
    """Sub-env i's observation is single env i's, through int, per-sub-env and no seeds, over
    episodes with NEXT_STEP autoreset (the stack restarts with the reset frame)."""
    kwargs = dict(
        obs_type="pixels", grayscale=grayscale, frame_stack=frame_stack, width=size, height=size
    )
    singles = [PixelcopterEnv(render_mode="rgb_array", **kwargs) for _ in range(num_envs)]
    envs = gym.make_vec(ENV_ID, num_envs=num_envs, render_mode="rgb_array", **kwargs)
    assert envs.single_observation_space == singles[0].observation_space
    channels = 1 if grayscale else 3
    assert envs.observation_space.shape == (num_envs, frame_stack * channels, size, size)
    rng = np.random.default_rng(size)
    episodes = refills = 0
    for seed in [7, [3, None] + list(range(10, 10 + num_envs - 2)), None]:
        seeds = (
            [seed + i for i in range(num_envs)]
            if isinstance(seed, int)
            else seed or [None] * num_envs
        )
        obs, _ = envs.reset(seed=seed)
        for i, env in enumerate(singles):
            assert np.array_equal(obs[i], env.reset(seed=seeds[i])[0]), i
        done = np.zeros(num_envs, dtype=bool)
        for t in range(steps // 3):
            assert envs.observation_space.contains(obs)
            actions = np.array([steer(env, rng) for env in singles])
            obs, _, terminated, _, _ = envs.step(actions)
            columns_before = [len(env._terrain_x) for env in singles]
            expected, expected_terminated = step_singles(singles, actions, done)
            for i, env in enumerate(singles):
                assert np.array_equal(obs[i], expected[i]), (seed, t, i)
                refills += len(env._terrain_x) > columns_before[i] and not done[i]
                if done[i]:  # autoreset: the stack holds the reset frame only
                    assert np.array_equal(obs[i], np.tile(obs[i][-channels:], (frame_stack, 1, 1)))
            assert np.array_equal(terminated, expected_terminated)
            episodes += terminated.sum()
            done = terminated
        # The batched screens are also what the vector env's own render() draws.
        for i, frame in enumerate(envs.render()):
            assert np.array_equal(obs[i][-channels:], as_observation_frame(frame, grayscale))
    assert episodes >= 10
    if size == 48:  # on bigger screens the cave refills later than these episodes last
        assert refills >= 1


def test_vector_pixels_over_long_immortal_episodes():
    """Past the fourth refill (frame 1113), where the vector env's cave phases wrap around. The
    caller owns the observations: scribbling on them changes nothing that follows."""
    kwargs = dict(obs_type="pixels", grayscale=True, frame_stack=3)
    singles = [PixelcopterEnv(**kwargs) for _ in range(2)]
    envs = PixelcopterVectorEnv(num_envs=2, **kwargs)
    for i, env in enumerate(singles):
        env.reset(seed=80 + i)
    envs.reset(seed=80)
    for frame in range(1, 1200):
        for i, env in enumerate(singles):
            envs._y[i] = env._y = safe_copter_y(env)
            envs._momentum[i] = env._momentum = 0.0
        obs, _, terminated, _, _ = envs.step(np.full(2, NOOP))
        for i, env in enumerate(singles):
            assert np.array_equal(obs[i], env.step(NOOP)[0]), frame
        obs.fill(7)
    assert not terminated.any()


def test_vector_pixels_on_a_big_screen():
    """Big screens look blocks up apart from the terrain (the combined table would be too large)."""
    singles = [PixelcopterEnv(obs_type="pixels", width=200, height=200) for _ in range(2)]
    envs = PixelcopterVectorEnv(num_envs=2, obs_type="pixels", width=200, height=200)
    assert envs._screen_tables.blocks_apart
    obs, _ = envs.reset(seed=[5, 6])
    expected = [env.reset(seed=seed)[0] for env, seed in zip(singles, [5, 6])]
    rng = np.random.default_rng(2)
    done = np.zeros(2, dtype=bool)
    for t in range(150):
        assert all(np.array_equal(obs[i], expected[i]) for i in range(2)), t
        actions = np.array([steer(env, rng) for env in singles])
        obs, _, terminated, _, _ = envs.step(actions)
        expected, expected_terminated = step_singles(singles, actions, done)
        assert np.array_equal(terminated, expected_terminated)
        done = terminated
