import numpy as np
import torch

import reinforcelab
from reinforcelab.policy import CategoricalPolicy, NumpyActor


def test_saturated_policy_gives_finite_log_probs():
    policy = CategoricalPolicy(4, 2, (16,))
    with torch.no_grad():
        policy.net[-1].bias.copy_(torch.tensor([200.0, -200.0]))  # softmax underflows to exactly 0
        policy.net[-1].weight.zero_()
    obs = torch.zeros(3, 4)
    lp = policy.log_probs(obs, torch.tensor([0, 1, 1]))
    assert torch.isfinite(lp).all()
    assert lp[0] == 0 and lp[1] < -300
    lp.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in policy.parameters())


def test_sampling_follows_the_policy_distribution():
    policy = CategoricalPolicy(2, 3, (8,))
    with torch.no_grad():
        policy.net[-1].weight.zero_()
        policy.net[-1].bias.copy_(torch.log(torch.tensor([0.2, 0.3, 0.5])))
    gen = torch.Generator().manual_seed(0)
    actions = policy.act(torch.zeros(20000, 2), generator=gen)
    freq = np.bincount(actions.numpy(), minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.2, 0.3, 0.5], atol=0.015)
    actor = NumpyActor(policy)
    rng = np.random.default_rng(0)
    freq_np = np.bincount([actor.act(np.zeros(2), rng) for _ in range(20000)], minlength=3) / 20000
    np.testing.assert_allclose(freq_np, [0.2, 0.3, 0.5], atol=0.015)
    freq_batch = np.bincount(actor.act_batch(np.zeros((20000, 2)), rng), minlength=3) / 20000
    np.testing.assert_allclose(freq_batch, [0.2, 0.3, 0.5], atol=0.015)
    assert (actor.act_batch(np.zeros((4, 2)), rng, deterministic=True) == 2).all()
    assert policy.act(torch.zeros(1, 2), deterministic=True).item() == 2


def test_numpy_actor_logits_match_torch():
    policy = CategoricalPolicy(7, 2, (64, 128))
    obs = np.random.default_rng(1).normal(size=7).astype(np.float32)
    expected = policy(torch.from_numpy(obs)).detach().numpy()
    np.testing.assert_allclose(NumpyActor(policy).logits(obs)[:, 0], expected, rtol=1e-5, atol=1e-6)


def test_predict_single_and_batch():
    agent = reinforcelab.Reinforce("CartPole-v1", preset="course-cartpole", seed=0)
    single = agent.predict(np.zeros(4, dtype=np.float32))
    assert isinstance(single, int) and single in (0, 1)
    batch = agent.predict(np.zeros((5, 4), dtype=np.float32), deterministic=True)
    assert batch.shape == (5,) and batch.dtype == np.int64
    assert len(set(batch.tolist())) == 1  # greedy: same obs, same action
