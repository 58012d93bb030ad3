"""The numpy networks: hand-written gradients equal torch autograd; acting, Adam and statistics."""

import numpy as np
import pytest
import torch

import reinforcelab
from reinforcelab.engines import PolicyTargets, clip_by_global_norm
from reinforcelab.engines.chunks import chunks
from reinforcelab.engines.numpy_adam import NumpyAdam
from reinforcelab.engines.numpy_engine import NumpyEngine
from reinforcelab.engines.torch_engine import TorchEngine
from reinforcelab.envs.make import make_vector_env
from reinforcelab.policies.mlp import MLP, MLPPolicy
from reinforcelab.policies.obs_norm import ObsNorm
from reinforcelab.rollout import collect_batch


def random_mlp(in_dim, hidden, out_dim, seed=0):
    return MLP.random(in_dim, hidden, out_dim, np.random.default_rng(seed))


def numpy_policy_gradient(net, x, actions, adv, entropy_coef):
    """The numpy engine's policy gradient for inputs x [n, in]."""
    engine = NumpyEngine(MLPPolicy(net.layers), None, 0.1, 0.1)
    return engine.policy_gradients(PolicyTargets(x, actions, adv, entropy_coef), {})


def numpy_value_gradient(net, x, returns):
    engine = NumpyEngine(MLPPolicy(random_mlp(x.shape[1], (2,), 2).layers), net, 0.1, 0.1)
    return engine.value_gradients(x, returns)


@pytest.mark.parametrize("hidden,entropy_coef", [((16,), 0.0), ((64, 64), 0.01), ((8, 5, 3), 0.5)])
def test_policy_gradient_equals_autograd(hidden, entropy_coef):
    rng = np.random.default_rng(1)
    net = random_mlp(6, hidden, 3)
    x = rng.normal(size=(500, 6)).astype(np.float32)
    actions = rng.integers(0, 3, 500)
    adv = rng.normal(size=500).astype(np.float32)
    # autograd of the loss, written out here as the definition
    module = net.copy().torch_view()
    log_pi = torch.log_softmax(module(torch.from_numpy(x)), dim=-1)
    log_prob = log_pi.gather(-1, torch.from_numpy(actions).unsqueeze(-1)).squeeze(-1)
    entropy = -(log_pi.exp() * log_pi).sum(-1)
    (-(log_prob * torch.from_numpy(adv)).mean() - entropy_coef * entropy.mean()).backward()
    ours = numpy_policy_gradient(net, x, actions, adv, entropy_coef)
    for a, b in zip(ours, [p.grad.numpy() for p in module.parameters()], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    # and the torch engine computes the same loss's gradients
    engine = TorchEngine(MLPPolicy(net.copy().layers), None, 0.1, 0.1)
    theirs = engine.policy_gradients(PolicyTargets(x, actions, adv, entropy_coef), {})
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-6)


def test_value_gradient_equals_autograd():
    rng = np.random.default_rng(2)
    net = random_mlp(4, (32, 32), 1)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    returns = rng.normal(size=300) * 50
    module = net.copy().torch_view("value")
    (
        0.5 * (module(torch.from_numpy(x)) - torch.from_numpy(returns).float()).square().mean()
    ).backward()
    ours, values = numpy_value_gradient(net, x, returns)
    np.testing.assert_allclose(values, module(torch.from_numpy(x)).detach().numpy(), rtol=1e-5)
    for a, b in zip(ours, [p.grad.numpy() for p in module.parameters()], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_chunked_gradients_add_up_to_the_whole_batch(monkeypatch):
    rng = np.random.default_rng(5)
    policy, value = random_mlp(4, (256,), 2), random_mlp(4, (256,), 1, seed=1)
    n = 10_000
    x = rng.normal(size=(n, 4)).astype(np.float32)
    actions, adv, returns = (
        rng.integers(0, 2, n),
        rng.normal(size=n).astype(np.float32),
        rng.normal(size=n),
    )
    parts = chunks(n, 4096)
    assert [(c.start, c.stop) for c in parts] == [(0, 4096), (4096, 8192), (8192, 12288)]
    whole_p = numpy_policy_gradient(policy, x, actions, adv, 0.1)
    whole_v, _ = numpy_value_gradient(value, x, returns)
    monkeypatch.setattr("reinforcelab.engines.numpy_engine.chunks", lambda n: chunks(n, 4096))
    chunked_p = numpy_policy_gradient(policy, x, actions, adv, 0.1)
    chunked_v, _ = numpy_value_gradient(value, x, returns)
    for a, b in zip(whole_p + whole_v, chunked_p + chunked_v, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)


def test_saturated_policy_gives_finite_gradients():
    net = random_mlp(4, (16,), 2)
    net.layers[-1][0][:] = 0
    net.layers[-1][1][:] = [200.0, -200.0]  # softmax underflows to exactly 0 for action 1
    grads = numpy_policy_gradient(
        net, np.zeros((3, 4), np.float32), np.array([0, 1, 1]), np.ones(3, np.float32), 0.1
    )
    assert all(np.isfinite(g).all() for g in grads)


def test_clip_grad_norm_matches_torch():
    grads = [np.full((3, 4), 2.0, np.float32), np.full(3, -1.0, np.float32)]
    tensors = [torch.tensor(g) for g in grads]
    params = [torch.zeros_like(t, requires_grad=True) for t in tensors]
    for p, t in zip(params, tensors):
        p.grad = t.clone()
    torch.nn.utils.clip_grad_norm_(params, 0.5)
    clip_by_global_norm(grads, 0.5)
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-6)
    ours = [t.clone() for t in tensors]  # torch tensors take the same path
    clip_by_global_norm(ours, 0.5)
    for g, p in zip(ours, params):
        np.testing.assert_allclose(g.numpy(), p.grad.numpy(), rtol=1e-6)
    small = [np.full(2, 0.1, np.float32)]
    clip_by_global_norm(small, 0.5)
    assert np.array_equal(small[0], np.full(2, 0.1, np.float32))  # under the limit: untouched


def test_numpy_adam_matches_torch_adam():
    rng = np.random.default_rng(3)
    params = [rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=5).astype(np.float32)]
    ref = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    ours, theirs = NumpyAdam(params, lr=0.05), torch.optim.Adam(ref, lr=0.05)
    for _ in range(20):
        grads = [rng.normal(size=p.shape).astype(np.float32) for p in params]
        ours.step(grads)
        for r, g in zip(ref, grads):
            r.grad = torch.from_numpy(g.copy())
        theirs.step()
    for p, r in zip(params, ref):
        np.testing.assert_allclose(p, r.detach().numpy(), rtol=1e-6, atol=1e-7)
    saved = ours.state_dict()
    other = NumpyAdam([p.copy() for p in params], lr=1.0)
    other.load_state_dict(saved)
    assert other.lr == 0.05 and other.step_count == 20
    with pytest.raises(ValueError, match="shapes"):
        NumpyAdam([np.zeros(2, np.float32)]).load_state_dict(saved)


def test_obs_norm_merges_batches_like_one_big_batch():
    rng = np.random.default_rng(4)
    data = rng.normal(3.0, 2.0, size=(1000, 3))
    norm = ObsNorm(3)
    for chunk in np.array_split(data, 7):
        norm.update(chunk)
    np.testing.assert_allclose(norm.mean, data.mean(0))
    np.testing.assert_allclose(norm.var, data.var(0))
    assert norm.count == 1000
    out = norm.frozen()(data * 1e6)
    assert out.dtype == np.float32 and np.abs(out).max() <= norm.clip


def test_sampling_follows_the_policy_distribution():
    net = random_mlp(2, (8,), 3)
    net.layers[-1][0][:] = 0
    net.layers[-1][1][:] = np.log([0.2, 0.3, 0.5])
    actor, rng = MLPPolicy(net.layers).actor(), np.random.default_rng(0)
    freq = np.bincount([actor.act(np.zeros(2), rng) for _ in range(20000)], minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.2, 0.3, 0.5], atol=0.015)
    freq_batch = np.bincount(actor.act_batch(np.zeros((20000, 2)), rng), minlength=3) / 20000
    np.testing.assert_allclose(freq_batch, [0.2, 0.3, 0.5], atol=0.015)
    assert (actor.act_batch(np.zeros((4, 2)), rng, deterministic=True) == 2).all()
    assert actor.act(np.zeros(2), rng, deterministic=True) == 2


def test_two_action_sampling_follows_the_policy():
    net = random_mlp(3, (8,), 2)
    obs = np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32) * 3
    logits = net.forward(obs.T)
    p1 = np.exp(logits[1]) / np.exp(logits).sum(0)
    actor, rng = MLPPolicy(net.layers).actor(), np.random.default_rng(0)
    freq = np.mean([actor.act_batch(obs, rng) for _ in range(20000)], axis=0)
    np.testing.assert_allclose(freq, p1, atol=0.015)
    saturated = random_mlp(3, (8,), 2)
    saturated.layers[-1][0][:] = 0
    saturated.layers[-1][1][:] = [500.0, -500.0]  # exp(l0 - l1) overflows without the clamp
    with np.errstate(over="raise"):
        assert not MLPPolicy(saturated.layers).actor().act_batch(obs, rng).any()


def test_actor_is_a_snapshot_and_matches_torch():
    net = random_mlp(7, (64, 128), 2)
    obs = np.random.default_rng(1).normal(size=(5, 7)).astype(np.float32)
    actor = MLPPolicy(net.layers).actor()
    expected = net.torch_view()(torch.from_numpy(obs)).detach().numpy()
    np.testing.assert_allclose(actor.logits(obs).T, expected, rtol=1e-5, atol=1e-6)
    net.layers[0][0][:] = 0  # later updates do not change a snapshot
    np.testing.assert_allclose(actor.logits(obs).T, expected, rtol=1e-5, atol=1e-6)


def test_torch_view_shares_memory_on_the_cpu():
    net = random_mlp(4, (16,), 2)
    module = net.torch_view()
    with torch.no_grad():
        next(module.parameters()).add_(1.0)
    np.testing.assert_array_equal(net.layers[0][0], next(module.parameters()).detach().numpy())


def test_predict_single_and_batch():
    agent = reinforcelab.Reinforce("CartPole-v1", preset="course-cartpole", seed=0)
    single = agent.predict(np.zeros(4, dtype=np.float32))
    assert isinstance(single, int) and single in (0, 1)
    batch = agent.predict(np.zeros((5, 4), dtype=np.float32), deterministic=True)
    assert batch.shape == (5,) and batch.dtype == np.int64
    assert len(set(batch.tolist())) == 1  # greedy: same obs, same action
    with pytest.raises(ValueError, match="shape"):
        agent.predict(np.zeros(3))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_norm": "episode", "entropy_coef": 0.05, "max_grad_norm": 0.5},
        {
            "baseline": "value",
            "truncation": "bootstrap",
            "normalize_obs": True,
            "return_norm": "none",
        },
    ],
)
def test_numpy_update_equals_the_torch_update(options):
    """Fast mode's numpy engine and its torch engine (CUDA's) make the same Adam steps."""
    agents = [
        reinforcelab.Reinforce(
            "CartPole-v1", preset="fast-cartpole", seed=0, device="cpu", num_envs=8, **options
        )
        for _ in range(2)
    ]
    loops = [agent.training_loop() for agent in agents]
    assert isinstance(loops[0].engine, NumpyEngine)
    value_lr = agents[1].config.mode.value_lr
    loops[1].engine = TorchEngine(agents[1].policy, agents[1].value, 0.1, value_lr, "cpu")
    envs = make_vector_env("CartPole-v1", 8)
    actor, rng = agents[0].actor(), np.random.default_rng(0)
    batch = collect_batch(
        envs, lambda o: actor.act_batch(o, rng), 15, 1, seed=0
    )  # the cap forces truncations
    assert batch.truncated.any()
    for agent in agents:
        if agent.obs_norm is not None:
            agent.obs_norm.update(batch.obs[0])
    first = [loop.update(batch) for loop in loops]
    assert set(first[0]) == set(first[1]) >= {"policy_loss", "entropy", "grad_norm", "lr"}
    for name in first[0]:  # the reported statistics agree too
        np.testing.assert_allclose(
            first[0][name], first[1][name], rtol=1e-4, atol=1e-6, err_msg=name
        )
    for _ in range(2):
        for loop in loops:
            loop.update(batch)
    for (name, a), b in zip(agents[0].weights().items(), agents[1].weights().values(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)
    assert not np.allclose(
        agents[0].policy.layers[0][0],
        reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", seed=0).policy.layers[0][0],
    )


def test_device_choice():
    assert (
        reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", device="cpu").device == "cpu"
    )
    assert (
        reinforcelab.Reinforce("CartPole-v1", preset="course-cartpole", device="auto").device
        == "cpu"
    )
    with pytest.raises(ValueError, match="device must be"):
        reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", device="cuda")
