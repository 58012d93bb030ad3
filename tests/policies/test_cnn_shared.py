"""The shared CNN (``cnn_shared``): one body with a policy head and a value head, uint8 frames until
the first convolution, one loss for both heads, V(s) recorded while acting."""

import copy

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import reinforcelab
from reinforcelab.config import ConfigError, preset
from reinforcelab.engines import PolicyTargets, torch_engine
from reinforcelab.engines.torch_engine import VALUE_COEF, ActorCriticEngine
from reinforcelab.errors import OptionError
from reinforcelab.loops import FastLoop
from reinforcelab.policies.cnn import CNNActorCritic, block_sums
from reinforcelab.rollout import SegmentCollector
from reinforcelab.run import train_run

SHAPE = (2, 48, 48)


def reference_forward(net: CNNActorCritic, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The network written out plainly: float frames scaled by 1/255 before the first convolution
    (what the folded weights must be equal to)."""
    h = F.relu(F.conv2d(x, net.conv1.weight, net.conv1.bias, stride=4))
    h = F.relu(F.conv2d(h, net.conv2.weight, net.conv2.bias, stride=2)).flatten(1)
    z = F.relu(F.linear(h, net.fc.weight, net.fc.bias))
    return F.linear(z, net.policy_head.weight, net.policy_head.bias), F.linear(
        z, net.value_head.weight, net.value_head.bias
    ).squeeze(-1)


def frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *SHAPE), dtype=np.uint8)


@pytest.mark.parametrize("channels", [(16, 32), (8, 16)])
def test_uint8_frames_equal_float_frames_scaled_by_1_over_255(channels):
    torch.manual_seed(0)
    net = CNNActorCritic(SHAPE, 2, hidden=64, channels=channels)
    x = torch.from_numpy(frames(7))
    logits, value = net.logits_and_value(x)
    ref_logits, ref_value = reference_forward(net, x.float() / 255.0)
    torch.testing.assert_close(logits, ref_logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(value, ref_value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(net(x), logits)  # forward: the policy's logits
    torch.testing.assert_close(net(x.float()), logits)  # float 0-255 frames too (evaluation)


@pytest.mark.parametrize("entropy_coef", [0.0, 0.01])
def test_shared_gradients_equal_autograd_of_the_whole_batch_loss(monkeypatch, entropy_coef):
    agent = reinforcelab.Reinforce(preset="fast-pixelcopter-pixels", seed=0, device="cpu")
    engine = ActorCriticEngine(agent.policy, lr=1e-3)
    # chunks of 256 frames: the 600-frame batch runs in three, whose gradients must add up
    monkeypatch.setattr(torch_engine, "CHUNK_ELEMENTS", 256 * int(np.prod(SHAPE)))
    assert len(engine.chunks(frames(600))) == 3
    rng = np.random.default_rng(1)
    obs, actions = frames(600, seed=2), rng.integers(0, 2, 600)
    weights = rng.standard_normal(600).astype(np.float32)
    returns = rng.normal(3.0, 2.0, 600)
    stats: dict[str, float] = {}
    grads = engine.actor_critic_gradients(
        PolicyTargets(obs, actions, weights, entropy_coef), returns, stats
    )

    ref = copy.deepcopy(agent.policy.module)
    logits, value = reference_forward(ref, torch.from_numpy(obs).float() / 255.0)
    log_pi = torch.log_softmax(logits, -1)
    chosen = log_pi[torch.arange(600), torch.from_numpy(actions)]
    entropy = -(log_pi.exp() * log_pi).sum(-1)
    g = torch.from_numpy(returns).float()
    loss = (
        -(chosen * torch.from_numpy(weights)).mean()
        - entropy_coef * entropy.mean()
        + VALUE_COEF * 0.5 * (value - g).square().mean() / float(np.var(returns))
    )
    loss.backward()
    names = [name for name, _ in agent.policy.module.named_parameters()]
    for name, got, (_, p) in zip(names, grads, ref.named_parameters(), strict=True):
        assert got is not None and p.grad is not None
        torch.testing.assert_close(got, p.grad, rtol=1e-4, atol=1e-7, msg=name)
    assert stats["entropy"] == pytest.approx(float(entropy.detach().mean()), rel=1e-5)
    assert stats["policy_loss"] == pytest.approx(
        float(-(chosen * torch.from_numpy(weights)).mean().detach()), rel=1e-4, abs=1e-7
    )


def test_the_recording_actor_keeps_the_values_of_the_frames_it_acted_on():
    agent = reinforcelab.Reinforce(preset="fast-pixelcopter-pixels", seed=0, device="cpu")
    engine = ActorCriticEngine(agent.policy, lr=1e-3)
    actor, values = engine.recording_actor()
    obs = [frames(5, seed=s) for s in range(3)]
    actions = [actor.act_batch(o, np.random.default_rng(s)) for s, o in enumerate(obs)]
    assert len(values) == 3
    for s, o in enumerate(obs):
        np.testing.assert_allclose(values[s], engine.values(o), rtol=1e-5, atol=1e-6)
        # the same actions as the policy's own actor with the same random numbers
        expected = agent.parts.actor().act_batch(o, np.random.default_rng(s))
        np.testing.assert_array_equal(actions[s], expected)


def test_the_update_uses_the_values_of_the_batchs_own_frames():
    config = preset("fast-pixelcopter-pixels").replace(seed=0, num_envs=4, segment_steps=16)
    agent = reinforcelab.Reinforce(config=config, device="cpu")
    loop = FastLoop(agent.config, agent.parts, "cpu")
    engine = loop.actor_critic()
    actor, values = engine.recording_actor()
    rng = np.random.default_rng(0)
    batch = SegmentCollector(loop.envs, seed=0).collect(lambda o: actor.act_batch(o, rng), 16)
    acting = np.stack(values)  # [T, N], as the loop stacks them
    assert acting.shape == (16, 4)
    n_frames = 16 * 4
    again = engine.values(batch.obs[:-1].reshape(n_frames, *SHAPE)).reshape(16, 4)
    np.testing.assert_allclose(acting, again, rtol=1e-5, atol=1e-6)
    loop.envs.close()


def test_the_shared_cnn_trains_saves_and_loads_back(tmp_path):
    config = preset("fast-pixelcopter-pixels").replace(seed=0, num_envs=8, total_env_steps=600)
    before = reinforcelab.Reinforce(config=config)
    assert isinstance(before.policy.module, CNNActorCritic) and before.value is None
    result = train_run(config, tmp_path / "run", progress=False)
    weights = result.agent.weights()
    assert not any(k.startswith("value.") for k in weights)  # the value head is the policy's
    assert any(not np.array_equal(before.weights()[k], v) for k, v in weights.items())
    loaded = reinforcelab.load(tmp_path / "run")
    assert isinstance(loaded.policy.module, CNNActorCritic)
    assert loaded.policy.module.channels == [8, 16] and loaded.policy.module.hidden == 64
    for name, value in weights.items():
        np.testing.assert_array_equal(loaded.weights()[name], value)
    obs = frames(16, seed=3)
    np.testing.assert_array_equal(
        loaded.predict(obs, deterministic=True), result.agent.predict(obs, deterministic=True)
    )


def test_shared_options_are_checked():
    with pytest.raises(ConfigError, match=r"cnn_shared.*needs baseline='value'"):
        preset("course-pixelcopter").replace(cnn_shared=True)
    with pytest.raises(ConfigError, match=r"cnn_shared.*value_steps at 1"):
        preset("fast-pixelcopter-pixels").replace(value_steps=2)
    with pytest.raises(ConfigError, match=r"cnn_channels.*two widths"):
        preset("fast-pixelcopter-pixels").replace(cnn_channels=(8, 16, 32))
    with pytest.raises(OptionError, match="cnn_shared applies to image observations"):
        reinforcelab.Reinforce(preset="fast-pixelcopter", cnn_shared=True)


def test_block_sums_are_the_2x2_average_pool_times_4():
    x = torch.from_numpy(frames(3))
    np.testing.assert_array_equal(block_sums(x), F.avg_pool2d(x.float(), 2) * 4)
    odd = torch.from_numpy(np.ascontiguousarray(frames(2)[:, :, :47, :45]))
    assert block_sums(odd).shape == (2, 2, 23, 22)  # the odd last row and column dropped


def test_the_downsampled_cnn_is_a_4x4_stride_2_convolution_of_the_mean_frame():
    torch.manual_seed(0)
    net = CNNActorCritic(SHAPE, 2, 64, (8, 16), downsample=True)
    assert net.conv1.kernel_size == (4, 4) and net.conv1.stride == (2, 2)
    x = torch.from_numpy(frames(6))
    mean = F.avg_pool2d(x.float() / 255.0, 2)
    h = F.relu(F.conv2d(mean, net.conv1.weight, net.conv1.bias, stride=2))
    h = F.relu(F.conv2d(h, net.conv2.weight, net.conv2.bias, stride=2)).flatten(1)
    z = F.relu(F.linear(h, net.fc.weight, net.fc.bias))
    logits, value = net.logits_and_value(x)
    torch.testing.assert_close(logits, F.linear(z, net.policy_head.weight, net.policy_head.bias))
    torch.testing.assert_close(
        value, F.linear(z, net.value_head.weight, net.value_head.bias).squeeze(-1)
    )


def test_cnn_downsample_needs_the_shared_cnn():
    with pytest.raises(ConfigError, match=r"cnn_downsample.*cnn_shared"):
        preset("fast-pixelcopter-pixels").replace(cnn_shared=False, cnn_downsample=True)
