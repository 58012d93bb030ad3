"""Image observations: the built-in CNN policy and CNN value baseline on Pixelcopter's screen (the
separate networks; the shared one is tested in test_cnn_shared.py)."""

import numpy as np
import pytest
import torch

import reinforcelab
from reinforcelab.config import preset
from reinforcelab.errors import OptionError
from reinforcelab.policies.cnn import CNNPolicy, CNNValue
from reinforcelab.run import train_run

PIXELS = {"obs_type": "pixels", "grayscale": True, "frame_stack": 2}
# fast-pixelcopter-pixels as it was before issue 22: a policy CNN and a value CNN, whole episodes
SEPARATE = {
    "cnn_shared": False,
    "cnn_channels": (16, 32),
    "hidden_sizes": (128,),
    "segment_steps": None,
    "rollout_max_t": 300,
}


def test_pixel_observations_get_the_cnn_policy_and_value():
    agent = reinforcelab.Reinforce(preset="fast-pixelcopter-pixels", seed=0, **SEPARATE)
    assert agent.obs_shape == (2, 48, 48)
    assert isinstance(agent.policy.module, CNNPolicy) and isinstance(agent.value.module, CNNValue)
    frames = torch.randint(0, 256, (5, 2, 48, 48), dtype=torch.uint8)
    logits = agent.policy.module(frames)
    assert logits.shape == (5, 2) and agent.policy.output == "logits"
    assert agent.value.module(frames).shape == (5,)
    assert agent.policy.module.channels == [16, 32] and agent.value.module.hidden == 128
    log_prob, entropy = agent.policy.log_prob_and_entropy(logits, torch.tensor([0, 1, 0, 1, 1]))
    torch.testing.assert_close(
        log_prob, torch.log_softmax(logits, -1)[torch.arange(5), [0, 1, 0, 1, 1]]
    )
    assert (entropy > 0).all() and (entropy <= np.log(2) + 1e-6).all()
    obs = np.random.default_rng(0).integers(0, 256, (2, 48, 48), dtype=np.uint8)
    assert agent.predict(obs) in (0, 1) and agent.predict(np.stack([obs, obs])).shape == (2,)


def test_the_cnn_trains_saves_and_loads_back(tmp_path):
    config = preset("fast-pixelcopter-pixels").replace(
        seed=0, num_envs=8, total_env_steps=400, **{**SEPARATE, "rollout_max_t": 50}
    )
    before = reinforcelab.Reinforce(config=config)
    result = train_run(config, tmp_path / "run", progress=False)
    weights = result.agent.weights()
    assert any(k.startswith("value.") for k in weights)
    assert any(not np.array_equal(before.weights()[k], v) for k, v in weights.items())
    loaded = reinforcelab.load(tmp_path / "run")
    for name, value in weights.items():
        np.testing.assert_array_equal(loaded.weights()[name], value)
    frames = np.random.default_rng(1).integers(0, 256, (16, 2, 48, 48), dtype=np.uint8)
    np.testing.assert_array_equal(
        loaded.predict(frames, deterministic=True), result.agent.predict(frames, deterministic=True)
    )


def test_observation_statistics_are_refused_for_frames():
    with pytest.raises(OptionError, match="normalize_obs applies to vector observations"):
        reinforcelab.Reinforce(preset="fast-pixelcopter-pixels", normalize_obs=True)
