"""Image observations as envs give them: (H, W, C) or (H, W) uint8 frames are transposed to the
(C, H, W) the CNN takes, in single and vector envs and in predict(); images the CNN cannot take
and spaces no policy takes are one line. Ids of envs that other packages provide (ALE/Pong-v5)
name the package instead of suggesting an unrelated id."""

from __future__ import annotations

import importlib.util

import gymnasium as gym
import numpy as np
import pytest
from cli_helpers import invoke, one_line_error

import reinforcelab
from reinforcelab.envs import make
from reinforcelab.envs.make import EnvError, make_env, make_vector_env
from reinforcelab.errors import OptionError
from reinforcelab.policies.cnn import CNNGaussianPolicy, CNNPolicy


class Frames(gym.Env):
    """Frames of ``shape`` and ``dtype`` whose pixel (i, j, ...) tells where it is; each episode
    lasts 6 steps. Discrete actions, or a 2-D Box when ``continuous``."""

    def __init__(self, shape=(32, 24, 3), dtype=np.uint8, continuous=False, render_mode=None):
        self.observation_space = gym.spaces.Box(0, 255, shape, dtype)
        self.action_space = (
            gym.spaces.Box(-1.0, 1.0, (2,), np.float32) if continuous else gym.spaces.Discrete(3)
        )
        self.frame = (np.arange(np.prod(shape)) % 251).reshape(shape).astype(dtype)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.frame.copy(), {}

    def step(self, action):
        self.t += 1
        return self.frame.copy(), float(np.sum(action)), self.t >= 6, False, {}


def register(name: str, **kwargs) -> str:
    env_id = f"ReinforcelabTest{name}-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=lambda **kw: Frames(**{**kwargs, **kw}))
    return env_id


CHANNELS_LAST = [((32, 24, 3), (3, 32, 24)), ((32, 24, 4), (4, 32, 24)), ((32, 24, 1), (1, 32, 24))]
GRAY = [((32, 24), (1, 32, 24))]


@pytest.mark.parametrize("shape, chw", CHANNELS_LAST + GRAY)
def test_frames_come_channels_first_from_single_and_vector_envs(shape, chw):
    env_id = register("x".join(map(str, shape)), shape=shape)
    raw = Frames(shape).frame
    expected = np.moveaxis(raw, -1, 0) if len(shape) == 3 else raw[None]
    env = make_env(env_id)
    obs, _ = env.reset(seed=0)
    assert obs.shape == chw and obs.dtype == np.uint8 and np.array_equal(obs, expected)
    assert env.observation_space.shape == chw
    env.close()
    envs = make_vector_env(env_id, 3)
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (3, *chw) and all(np.array_equal(o, expected) for o in obs)
    obs, *_ = envs.step(np.zeros(3, dtype=np.int64))
    assert obs.shape == (3, *chw)
    envs.close()


@pytest.mark.parametrize("shape, chw", CHANNELS_LAST + GRAY)
@pytest.mark.parametrize("continuous", [False, True], ids=["discrete", "continuous"])
def test_frames_get_the_cnn_and_train_in_both_modes(shape, chw, continuous):
    env_id = register(
        f"{'x'.join(map(str, shape))}{continuous}", shape=shape, continuous=continuous
    )
    for preset in ("course-cartpole", "fast-cartpole"):
        agent = reinforcelab.Reinforce(env_id, preset=preset, seed=0, hidden_sizes=(16,))
        module = agent.policy.module
        assert type(module) is (CNNGaussianPolicy if continuous else CNNPolicy)
        assert agent.obs_shape == chw
        if preset == "fast-cartpole":
            agent.learn(total_env_steps=50)
        else:
            agent.learn(n_episodes=2)
        result = agent.evaluate(3, seed=0)
        assert result.lengths == [6, 6, 6]
    # predict takes frames as the env gives them, or transposed, one or a batch
    raw = Frames(shape).frame
    chw_frame = np.moveaxis(raw, -1, 0) if len(shape) == 3 else raw[None]
    for as_given, transposed in (
        (raw, chw_frame),
        (np.stack([raw] * 2), np.stack([chw_frame] * 2)),
    ):
        a = agent.predict(as_given, deterministic=True)
        b = agent.predict(transposed, deterministic=True)
        np.testing.assert_allclose(a, b, rtol=1e-5)  # a transposed copy: float sums may differ


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        # float frames: not images the CNN scales
        ({"shape": (32, 32, 3), "dtype": np.float32}, OptionError, "takes uint8 images"),
        # too small for the convolutions
        ({"shape": (8, 8, 3)}, OptionError, "at least 16x16 pixels"),
        ({"shape": (12, 40)}, OptionError, "these are 12x40 (1 channels)"),
        # spaces no policy takes
        ({"shape": (5, 5), "dtype": np.float32}, EnvError, "uint8 images, (C, H, W), (H, W, C)"),
        ({"shape": (2, 16, 16, 3)}, EnvError, "uint8 images, (C, H, W), (H, W, C)"),
    ],
)
def test_images_no_built_in_policy_takes_are_one_line(kwargs, error, words, tmp_path):
    name = f"Bad{'x'.join(map(str, kwargs['shape']))}{np.dtype(kwargs.get('dtype', np.uint8))}"
    env_id = register(name, **kwargs)
    with pytest.raises(error) as caught:
        reinforcelab.Reinforce(env_id)
    assert words in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.skipif(importlib.util.find_spec("Box2D") is None, reason="CarRacing needs box2d")
def test_car_racing_trains_on_the_cnn_from_the_command_line(tmp_path):
    # The issue's example: (96, 96, 3) uint8 frames went to the Gaussian MLP and failed in torch
    result = invoke("train", "CarRacing-v3", "--episodes", 1, "--max-t", 5, "--out", tmp_path / "r")
    assert result.exit_code == 0, result.output
    agent = reinforcelab.Reinforce.load(tmp_path / "r")
    assert type(agent.policy.module) is CNNGaussianPolicy and agent.obs_shape == (3, 96, 96)
    env = gym.make("CarRacing-v3")
    frame, _ = env.reset(seed=0)
    env.close()
    assert frame.shape == (96, 96, 3)
    action = agent.predict(frame, deterministic=True)
    assert action.shape == (3,) and np.isfinite(action).all()


def test_a_preset_env_argument_another_env_does_not_take_is_one_line(tmp_path):
    line = one_line_error(
        invoke("train", "CartPole-v1", "--preset", "fast-pixelcopter-pixels", "--out", tmp_path)
    )
    assert "CartPole-v1 does not take the env keyword argument 'obs_type'" in line


# ----------------------------------------------------------------------------- ids
PROVIDED = [
    ("ALE/Pong-v5", "ale_py", "pip install ale-py"),
    ("ALE/Breakout-v5", "ale_py", "pip install ale-py"),
    ("MiniGrid-Empty-5x5-v0", "minigrid", "pip install minigrid"),
    ("dm_control/cartpole-balance-v0", "shimmy", "pip install 'shimmy[dm-control]'"),
    ("FetchReach-v4", "gymnasium_robotics", "pip install gymnasium-robotics"),
]


@pytest.mark.parametrize("env_id, module, install", PROVIDED)
def test_ids_of_other_packages_name_the_package(env_id, module, install, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        make.importlib.util, "find_spec", lambda name: None if name == module else real(name)
    )
    with pytest.raises(EnvError) as caught:
        make.check_env_id(env_id)
    message = str(caught.value)
    assert message.endswith(install) and "not installed" in message
    assert "Did you mean" not in message  # ALE/Pong-v5 suggested Ant-v5


@pytest.mark.skipif(importlib.util.find_spec("ale_py") is not None, reason="ale-py is installed")
@pytest.mark.parametrize("env_id", ["ALE/Pong-v5", "ALE/SpaceInvaders-v5"])
def test_the_issue_atari_id_is_one_line_on_the_command_line(env_id, tmp_path):
    line = one_line_error(invoke("train", env_id, "--out", tmp_path / "r"))
    assert line == (
        f"error: {env_id} comes from the ale-py package (Atari games), which is not installed: "
        "pip install ale-py"
    )


@pytest.mark.parametrize(
    "env_id, words",
    [
        ("CartPol-v1", "Did you mean: CartPole-v1"),
        ("cartpole-v1", "Did you mean: CartPole-v1"),
        ("Nowhere/Thing-v0", "no installed package registers the namespace Nowhere"),
        ("no_such_module_here:Thing-v0", "its module no_such_module_here cannot be imported"),
    ],
)
def test_unknown_ids_say_what_is_wrong(env_id, words):
    with pytest.raises(EnvError) as caught:
        make.check_env_id(env_id)
    assert words in str(caught.value)
    assert "Ant-v5" not in str(caught.value)
