"""Fast mode: masks and returns over vector-env batches, each option, and learning."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

import reinforcelab
from reinforcelab.engines.numpy_adam import NumpyAdam
from reinforcelab.envs.make import make_vector_env
from reinforcelab.policies.mlp import MLP
from reinforcelab.returns import (
    advantages,
    batch_returns,
    episode_ids,
    per_episode_standardize,
    reward_to_go,
    standardize,
)
from reinforcelab.rollout import RolloutStorage, collect_batch


class ScriptedVectorEnv(gym.vector.VectorEnv):
    """Sub-env i plays episodes of the given lengths; obs = [episode number, step in episode].

    Rewards are 10 * episode number + step, so a return that crossed an episode boundary would show.
    The last episode of each script runs until stopped; ``truncate_at`` marks time-limit ends.
    """

    def __init__(self, lengths, mode=AutoresetMode.NEXT_STEP, truncate=()):
        self.num_envs = len(lengths)
        self.lengths = lengths
        self.truncate = set(truncate)  # (env, episode) pairs that end by truncation
        self.metadata = {"autoreset_mode": mode}
        self.mode = mode
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)

    def length(self, i):
        return self.lengths[i][min(self.episode[i], len(self.lengths[i]) - 1)]

    def reset(self, seed=None, options=None):
        self.episode = np.zeros(self.num_envs, dtype=int)
        self.step_in = np.zeros(self.num_envs, dtype=int)
        self.needs_reset = np.zeros(self.num_envs, dtype=bool)
        return self.obs(), {}

    def obs(self):
        return np.stack([self.episode, self.step_in], axis=1).astype(np.float32)

    def step(self, actions):
        rewards = np.zeros(self.num_envs)
        term = np.zeros(self.num_envs, dtype=bool)
        trunc = np.zeros(self.num_envs, dtype=bool)
        for i in range(self.num_envs):
            if self.needs_reset[i]:  # NEXT_STEP: this step only resets
                self.needs_reset[i] = False
                self.episode[i] += 1
                self.step_in[i] = 0
                continue
            rewards[i] = 10 * self.episode[i] + self.step_in[i]
            self.step_in[i] += 1
            if self.step_in[i] == self.length(i):
                end_trunc = (i, int(self.episode[i])) in self.truncate
                trunc[i], term[i] = end_trunc, not end_trunc
                if self.mode is AutoresetMode.NEXT_STEP:
                    self.needs_reset[i] = True
                else:
                    self.episode[i] += 1
                    self.step_in[i] = 0
        return self.obs(), rewards, term, trunc, {}


def expected_episodes(lengths, k, max_t):
    """(return, length) of the episodes each env should contribute, env by env."""
    out = []
    for i, ls in enumerate(lengths):
        for e in range(k):
            n = ls[min(e, len(ls) - 1)]
            if n > max_t:
                out.append((i, sum(10 * e + s for s in range(max_t)), max_t))
                break  # a cap ends that sub-env's share
            out.append((i, sum(10 * e + s for s in range(n)), n))
    return out


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize(
    "k,max_t,lengths",
    [
        (1, 100, [[3, 1, 4], [1, 1, 1], [7, 2, 2], [2, 6, 3]]),
        (2, 100, [[3, 1, 4], [1, 1, 1], [7, 2, 2], [2, 6, 3]]),
        (3, 100, [[3, 1, 4], [1, 1, 1], [7, 2, 2], [2, 6, 3]]),
        (3, 5, [[3, 1, 4], [1, 1, 1], [7, 2, 2], [2, 6, 3]]),
        (
            2,
            1000,
            [[300, 2], [5, 400]],
        ),  # longer than the rows a batch starts with: its arrays grow
    ],
)
def test_masks_and_returns_never_cross_episode_boundaries(mode, k, max_t, lengths):
    envs = ScriptedVectorEnv(lengths, mode)
    batch = collect_batch(envs, lambda obs: np.zeros(len(obs), dtype=np.int64), max_t, k)
    expected = expected_episodes(lengths, k, max_t)
    assert sorted(zip(batch.episode_returns, batch.episode_lengths)) == sorted(
        (r, n) for _, r, n in expected
    )
    for i in range(envs.num_envs):
        counted = batch.valid[:, i]
        obs = batch.obs[:-1, i][counted]
        # Counted steps are exactly the first steps of each counted episode, in order, no dead
        # steps.
        want = [
            (e, s)
            for j, (env, _, n) in enumerate(expected)
            if env == i
            for e in [sum(1 for x in expected[:j] if x[0] == i)]
            for s in range(n)
        ]
        assert [tuple(map(int, o)) for o in obs] == want
        ends = batch.episode_end[:, i]
        assert ends[counted].sum() == sum(1 for env, _, _ in expected if env == i)
        assert not ends[~counted].any()
    assert batch.env_steps == sum(n for _, _, n in expected)
    assert np.abs(batch.rewards[~batch.valid]).sum() == 0


def test_next_step_dead_step_is_masked():
    envs = ScriptedVectorEnv([[2, 2]], AutoresetMode.NEXT_STEP)
    batch = collect_batch(envs, lambda obs: np.zeros(len(obs), dtype=np.int64), 100, 2)
    # steps: ep0 s0, ep0 s1 (end), dead reset step, ep1 s0, ep1 s1 (end)
    assert batch.valid[:, 0].tolist() == [True, True, False, True, True]
    assert batch.episode_end[:, 0].tolist() == [False, True, False, False, True]


def test_truncation_flags_and_cap():
    envs = ScriptedVectorEnv([[3], [9]], truncate=[(0, 0)])
    batch = collect_batch(envs, lambda obs: np.zeros(len(obs), dtype=np.int64), 5, 1)
    # env 0 truncated by the env at step 3; env 1 cut by the max_t cap at 5.
    assert batch.truncated[:, 0].nonzero()[0].tolist() == [2]
    assert batch.truncated[:, 1].nonzero()[0].tolist() == [4]
    assert batch.episode_lengths == [3, 5]


def test_reused_storage_gives_the_same_batches_as_fresh_arrays():
    """Batches collected into one reused storage (as training does) equal freshly allocated ones,
    also when a later batch needs more rows than the storage holds, and are views into it."""
    reused, fresh = make_vector_env("CartPole-v1", 5), make_vector_env("CartPole-v1", 5)
    storage = RolloutStorage()
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    for i, (max_t, k) in enumerate([(30, 1), (20, 2), (200, 2)]):
        seed = 4 if i == 0 else None
        a = collect_batch(
            reused, lambda o: rng_a.integers(0, 2, len(o)), max_t, k, seed=seed, storage=storage
        )
        b = collect_batch(fresh, lambda o: rng_b.integers(0, 2, len(o)), max_t, k, seed=seed)
        for name in ("obs", "actions", "rewards", "valid", "episode_end", "truncated"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert (a.episode_returns, a.episode_lengths) == (b.episode_returns, b.episode_lengths)
        assert np.shares_memory(a.obs, storage.arrays["obs"]) and np.shares_memory(
            a.valid, storage.arrays["counted"]
        )


def test_cartpole_vector_batch_matches_single_env_replay():
    """Every counted transition of the numpy-batched CartPole equals a single env replaying it."""
    envs = make_vector_env("CartPole-v1", 6)
    assert envs.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    rng = np.random.default_rng(0)
    batch = collect_batch(envs, lambda obs: rng.integers(0, 2, len(obs)), 500, 2, seed=3)
    single = gym.make("CartPole-v1").unwrapped
    returns = []
    for i in range(6):
        valid = batch.valid[:, i]
        steps = np.flatnonzero(valid)
        ends = set(np.flatnonzero(batch.episode_end[:, i]).tolist())
        start = True
        for t in steps:
            if start:  # CartPole's state is its observation: start the single env from it
                single.reset()
                single.state = batch.obs[t, i].astype(np.float64)
                ep_return, start = 0.0, False
            obs, reward, terminated, _, _ = single.step(int(batch.actions[t, i]))
            np.testing.assert_allclose(obs, batch.obs[t + 1, i], rtol=1e-6, atol=1e-6)
            assert reward == batch.rewards[t, i]
            ep_return += reward
            if t in ends:
                assert terminated or batch.truncated[t, i]
                returns.append(ep_return)
                start = True
            else:
                assert not terminated
    assert sorted(returns) == sorted(batch.episode_returns)
    assert len(returns) == 12


def test_per_episode_standardize_matches_the_course_per_episode():
    ends = np.array([[False, False], [True, False], [False, True], [True, False]])
    valid = np.array([[True, True], [True, True], [True, True], [True, False]])
    values = np.array([[1.0, 5.0], [2.0, 7.0], [4.0, 0.0], [8.0, 0.0]])
    ids = episode_ids(valid, ends)[valid]
    full = np.zeros_like(values)
    full[valid] = per_episode_standardize(values[valid], ids)
    np.testing.assert_allclose(full[:2, 0], standardize(np.array([1.0, 2.0])))
    np.testing.assert_allclose(full[2:, 0], standardize(np.array([4.0, 8.0])))
    np.testing.assert_allclose(full[:3, 1], standardize(np.array([5.0, 7.0, 0.0])))


def small_fast_agent(**kw):
    cfg = dict(
        mode="fast",
        num_envs=16,
        gamma=0.99,
        lr=0.01,
        hidden_sizes=(16,),
        total_env_steps=4000,
        seed=0,
    )
    cfg.update(kw)
    return reinforcelab.Reinforce("CartPole-v1", device="cpu", **cfg)


def batch_for(agent, seed=0):
    envs = make_vector_env("CartPole-v1", 8)
    actor = agent.actor()
    rng = np.random.default_rng(seed)
    return collect_batch(envs, lambda o: actor.act_batch(o, rng), 500, 1, seed=seed)


@pytest.mark.parametrize("norm", ["batch", "episode", "none"])
def test_return_normalisation_options(norm):
    batch = batch_for(small_fast_agent())
    adv = np.zeros(batch.valid.shape)
    adv[batch.valid] = advantages(batch, batch_returns(batch, 1.0, None), None, norm)
    # Recompute by hand: each episode's reward-to-go, normalised as asked.
    by_hand = [reward_to_go(batch.rewards[batch.valid[:, i], i], 1.0) for i in range(8)]
    if norm == "episode":
        by_hand = [standardize(g) for g in by_hand]
    if norm == "batch":
        everything = np.concatenate(by_hand)
        by_hand = [
            (g - everything.mean()) / (everything.std(ddof=1) + np.finfo(np.float32).eps)
            for g in by_hand
        ]
    for i, expected in enumerate(by_hand):
        np.testing.assert_allclose(adv[batch.valid[:, i], i], expected, rtol=1e-5, atol=1e-5)


def value_loss(agent, batch):
    returns = batch_returns(batch, agent.config.gamma, None)
    v = agent.value.forward(batch.obs[:-1][batch.valid].T)[0]
    return 0.5 * np.mean((v - returns) ** 2)


def test_value_baseline_learns_and_is_saved(tmp_path):
    agent = small_fast_agent(baseline="value", value_lr=0.01)
    batch = batch_for(agent)
    first = value_loss(agent, batch)
    agent.learn(total_env_steps=8000)
    assert value_loss(agent, batch) < first
    agent.save(tmp_path / "v")
    loaded = reinforcelab.load(tmp_path / "v")
    for a, b in zip(agent.value.parameters(), loaded.value.parameters(), strict=True):
        assert np.array_equal(a, b)


def test_entropy_bonus_keeps_the_policy_more_random():
    def mean_entropy(agent):
        logits = agent.policy.forward(batch.obs[:-1][batch.valid].T)
        p = np.exp(logits - logits.max(0))
        p /= p.sum(0)
        return float(-(p * np.log(p + 1e-12)).sum(0).mean())

    plain, bonus = small_fast_agent(lr=0.05), small_fast_agent(lr=0.05, entropy_coef=1.0)
    batch = batch_for(plain)
    for agent in (plain, bonus):
        agent.learn(total_env_steps=6000)
    assert mean_entropy(bonus) > mean_entropy(plain) + 0.05


def test_gradient_clipping_bounds_the_step(monkeypatch):
    agent = small_fast_agent(max_grad_norm=1e-3, lr=1.0)
    seen = []
    original = NumpyAdam.step

    def spy(self, grads):
        seen.append(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)))
        return original(self, grads)

    monkeypatch.setattr(NumpyAdam, "step", spy)
    agent.learn(total_env_steps=500)
    assert seen and max(seen) <= 1e-3 * (1 + 1e-4)


def test_observation_normalisation_is_saved_and_used_at_inference(tmp_path):
    agent = small_fast_agent(normalize_obs=True)
    agent.learn(total_env_steps=2000)
    assert agent.obs_norm.count > 0 and not np.allclose(agent.obs_norm.var, np.ones(4))
    agent.save(tmp_path / "n")
    loaded = reinforcelab.load(tmp_path / "n")
    np.testing.assert_array_equal(loaded.obs_norm.mean, agent.obs_norm.mean)
    assert loaded.obs_norm.count == agent.obs_norm.count
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    assert (loaded.predict(obs, deterministic=True) == agent.predict(obs, deterministic=True)).all()
    # Acting applies the statistics: logits are those of the normalised input.
    normalized = np.clip(
        (obs - agent.obs_norm.mean) / np.sqrt(agent.obs_norm.var + agent.obs_norm.eps), -10, 10
    )
    expected = agent.policy.forward(normalized.T.astype(np.float32))
    np.testing.assert_allclose(agent.actor().logits(obs), expected, rtol=1e-4, atol=1e-5)
    assert not np.allclose(agent.policy.forward(obs.T), expected)
    assert np.abs(agent.obs_norm.frozen()(obs * 1e6)).max() <= agent.obs_norm.clip


def test_truncation_bootstrap_adds_the_value_of_the_last_state():
    envs = ScriptedVectorEnv([[3]], truncate=[(0, 0)])
    batch = collect_batch(envs, lambda obs: np.zeros(len(obs), dtype=np.int64), 100, 1)
    value = MLP.random(2, (4,), 1, np.random.default_rng(0))
    v = value.forward(batch.obs[:, 0].T)[0].astype(np.float64)
    r = batch.rewards[:, 0]
    g_last = r[2] + 0.5 * v[3]
    expected = [r[0] + 0.5 * (r[1] + 0.5 * g_last), r[1] + 0.5 * g_last, g_last]
    bootstrapped = batch_returns(batch, 0.5, lambda obs: value.forward(obs.T)[0])
    np.testing.assert_allclose(bootstrapped, expected, rtol=1e-6)
    terminal = batch_returns(batch, 0.5, None)
    np.testing.assert_allclose(terminal, [r[0] + 0.5 * r[1] + 0.25 * r[2], r[1] + 0.5 * r[2], r[2]])


def test_fast_mode_is_reproducible():
    a, b = small_fast_agent(), small_fast_agent()
    a.learn()
    b.learn()
    for x, y in zip(a.weights().values(), b.weights().values(), strict=True):
        assert np.array_equal(x, y)


def test_fast_preset_learns_quickly():
    agent = reinforcelab.Reinforce(
        "CartPole-v1", preset="fast-cartpole", seed=0, device="cpu", total_env_steps=300_000
    )
    agent.learn()
    assert agent.evaluate(20, seed=0).mean_reward > 150


def test_rollout_max_t_caps_training_episodes_but_not_evaluation(tmp_path):
    from reinforcelab.run import train_run

    config = reinforcelab.preset("fast-cartpole").replace(
        seed=0,
        num_envs=8,
        total_env_steps=400,
        rollout_max_t=10,
        baseline="value",
        truncation="bootstrap",
        max_t=30,
    )
    result = train_run(config, tmp_path / "r", progress=False, device="cpu")
    lengths = [
        int(line.split(",")[2])
        for line in (tmp_path / "r" / "metrics.csv").read_text().splitlines()[1:]
    ]
    assert lengths and max(lengths) <= 10
    assert max(result.evaluation.lengths) <= 30


def test_episodes_are_listed_in_start_order_not_finish_order():
    # env 0: episodes of 5 then 1 steps; env 1: 1 then 1; env 2: 3 then 2.
    envs = ScriptedVectorEnv([[5, 1], [1, 1], [3, 2]], AutoresetMode.SAME_STEP)
    batch = collect_batch(envs, lambda obs: np.zeros(len(obs), dtype=np.int64), 100, 2)
    assert batch.episode_lengths == [5, 1, 3, 1, 1, 2]


def test_training_runs_blas_and_torch_on_one_thread_and_restores_them():
    """Tiny networks must not pay for thread pools: while training, numpy's BLAS (both modes) and
    torch (course mode) run on one thread; the caller's settings come back afterwards."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    from reinforcelab.callbacks import Callback

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    seen = []

    class Look(Callback):
        def on_update(self, trainer, records):
            seen.append((trainer.config.mode.name, blas_threads(), torch.get_num_threads()))
            trainer.stop("looked")

    with threadpool_limits(2, user_api="blas"):
        before = (blas_threads(), torch.get_num_threads())
        assert before[0] and max(before[0]) == 2
        for preset in ("fast-cartpole", "course-cartpole"):
            reinforcelab.Reinforce("CartPole-v1", preset=preset, seed=0, device="cpu").learn(
                [Look()]
            )
        assert (blas_threads(), torch.get_num_threads()) == before
    assert seen[0][:2] == ("fast", [1] * len(before[0]))
    assert seen[1] == ("course", [1] * len(before[0]), 1)


@pytest.mark.parametrize(
    ("reward", "training_mean", "evaluates"),
    [(200.0, 185.0, True), (200.0, 175.0, False), (-200.0, -210.0, True), (-200.0, -225.0, False)],
)
def test_early_stopping_evaluates_near_a_negative_threshold_too(
    monkeypatch, reward, training_mean, evaluates
):
    # The gate sits 10% of the threshold's size below it, whatever its sign (0.9 * -200 = -180
    # would have skipped every evaluation of a Pendulum agent training at -200 to -180).
    from types import SimpleNamespace

    from reinforcelab import playback
    from reinforcelab.callbacks import EpisodeRecords, StopOnEvaluation

    calls = []
    result = SimpleNamespace(mean_reward=reward + 1.0)
    monkeypatch.setattr(playback, "evaluate_policy", lambda *a, **k: calls.append(k) or result)
    stop = StopOnEvaluation(reward, n_episodes=10, seed=0)
    stop.envs, stop.rng = None, np.random.default_rng(0)
    stopped = []
    trainer = SimpleNamespace(
        parts=SimpleNamespace(actor=lambda: None),
        seed_entropy=0,
        updates=1,
        env_steps=100,
        wall_seconds=1.0,
        config=SimpleNamespace(env_id="Pendulum-v1", max_t=200),
        stop=stopped.append,
    )
    returns, steps = np.full(4, training_mean), np.arange(1, 5) * 200
    records = EpisodeRecords(1, returns, np.full(4, 200), steps, 1.0)
    stop.on_update(trainer, records)
    assert bool(calls) == evaluates
    assert bool(stopped) == evaluates  # an evaluation at the threshold stops training


def masks_by_definition(envs, max_t, k, rollout_steps):
    """The masks ``collect_batch`` must give, worked out one sub-env and one step at a time from
    their definitions: a step counts if it is a real one (not the dead step after an end under
    NEXT_STEP) while the sub-env's share is open; an episode ends at the env's end or at max_t
    real steps (a cut); the share closes at a cut, or at an end once ``k`` episodes ended (or,
    with ``rollout_steps``, once that many steps counted). Rows until every share is closed."""
    n = envs.num_envs
    envs.reset()
    live, dead, steps, ended, used = [True] * n, [False] * n, [0] * n, [0] * n, [0] * n
    valid, ends, truncated = [], [], []
    while any(live):
        _, _, term, trunc, _ = envs.step(np.zeros(n, dtype=np.int64))
        rows = ([], [], [])
        for i in range(n):
            counted, done = live[i] and not dead[i], bool(term[i] or trunc[i])
            steps[i] += not dead[i]
            cut = counted and not done and steps[i] >= max_t
            used[i] += counted
            ended[i] += counted and done
            end = counted and (done or cut)
            for row, value in zip(rows, (counted, end, end and not term[i])):
                row.append(value)
            if done:
                steps[i], dead[i] = 0, envs.mode is AutoresetMode.NEXT_STEP
            else:
                dead[i] = False
            share_used = ended[i] >= k if rollout_steps is None else used[i] >= rollout_steps
            if cut or (counted and done and share_used):
                live[i] = False
        for table, row in zip((valid, ends, truncated), rows):
            table.append(row)
    return np.array(valid), np.array(ends), np.array(truncated)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_batch_masks_match_their_definition_step_by_step(mode):
    # collect_batch takes shortcuts (no per-step step counts until a cut is possible, none of
    # rollout_steps' counting until a sub-env can have used its steps): random scripts of
    # episode lengths, time-limit ends, caps, episodes per sub-env and rollout_steps check them
    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(1, 7))
        lengths = rng.integers(1, 13, (n, 8)).tolist()
        truncate = [(i, e) for i in range(n) for e in range(8) if rng.random() < 0.2]
        max_t = int(rng.choice([1, 2, 5, 9, 100]))
        k, rollout_steps = int(rng.integers(1, 4)), rng.choice([None, 1, 3, 8, 20])
        if rollout_steps is not None:
            k = 1
        valid, ends, truncated = masks_by_definition(
            ScriptedVectorEnv(lengths, mode, truncate), max_t, k, rollout_steps
        )
        batch = collect_batch(
            ScriptedVectorEnv(lengths, mode, truncate),
            lambda obs: np.zeros(len(obs), dtype=np.int64),
            max_t,
            k,
            rollout_steps=rollout_steps,
        )
        np.testing.assert_array_equal(batch.valid, valid)
        np.testing.assert_array_equal(batch.episode_end, ends)
        np.testing.assert_array_equal(batch.truncated, truncated)
