"""Group sampling (``group_size``) and the baselines made from a group: leave-one-out (RLOO) and
GRPO's normalisation by the group's std. The statistical tests use the estimates of
``group_gradients.py``; benchmarks/group_baselines.py reports the same quantities at more points."""

import json

import gymnasium as gym
import numpy as np
import pytest
from cli_helpers import invoke, one_line_error
from group_gradients import bandit_expected_gradients, gradient_samples, paired_z
from test_seeding import levels

import reinforcelab
from reinforcelab.config import ConfigError, preset
from reinforcelab.envs import PixelcopterVectorEnv
from reinforcelab.envs.envpool_env import EnvPoolVectorEnv, envpool_installed
from reinforcelab.envs.make import EnvError, make_vector_env, seeds_each_sub_env
from reinforcelab.returns import group_standardize, leave_one_out
from reinforcelab.seeding import episode_seeds, group_seeds, vector_reset_seed

SyncEnv = gym.vector.SyncVectorEnv
LOO = {"group_size": 8, "baseline": "leave-one-out"}


# ----------------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"baseline": "leave-one-out"}, "baseline 'leave-one-out' compares episodes within groups"),
        ({"return_norm": "group"}, "return_norm 'group' compares episodes within groups"),
        ({"group_size": 3}, "group_size must divide num_envs"),
        ({**LOO, "rollout_steps": 200}, "group_size needs whole first episodes"),
        ({**LOO, "episodes_per_env": 2}, "group_size shares only the first episode's start"),
        ({**LOO, "return_norm": "episode"}, "return_norm 'episode' subtracts each episode's own"),
        ({"group_size": 8, "baseline": "value", "return_norm": "group"}, "return_norm 'group'"),
        ({**LOO, "truncation": "bootstrap"}, "truncation 'bootstrap' adds gamma . V.s. at cuts"),
        (
            {"group_size": 8, "return_norm": "group", "truncation": "bootstrap"},
            "truncation 'bootstrap' needs baseline='value'",
        ),
        # segment_steps continues episodes across updates: none but the first share a start
        (
            {"group_size": 8, "baseline": "value", "truncation": "bootstrap", "segment_steps": 64},
            "group_size needs whole episodes from the shared reset, and segment_steps",
        ),
        ({**LOO, "segment_steps": 64}, "group_size needs whole episodes"),
    ],
)
def test_combinations_that_make_no_sense_are_refused_in_one_line(changes, message):
    with pytest.raises(ConfigError, match=message) as refused:
        preset("fast-cartpole").replace(**changes)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "changes",
    [
        LOO,
        {**LOO, "return_norm": "none"},  # RLOO, Dr. GRPO
        {"group_size": 8, "return_norm": "group"},  # GRPO
        {**LOO, "return_norm": "group"},  # the same as GRPO
        {"group_size": 8, "baseline": "value"},  # group sampling alone, with any baseline
        {"group_size": 8, "return_norm": "episode"},
    ],
)
def test_combinations_that_make_sense_are_accepted(changes):
    assert preset("fast-cartpole").replace(**changes).mode.group_size == 8


def test_group_size_is_a_fast_mode_field():
    with pytest.raises(ConfigError, match="applies to fast mode only"):
        preset("course-cartpole").replace(group_size=2)


# ------------------------------------------------------------------------ seeds and starts
def test_group_seeds_repeat_each_seed_group_size_times_and_groups_differ():
    seeds = group_seeds(7, 12, 4, 0, 3)
    assert seeds == [s for s in episode_seeds(7, 3, 0, 3) for _ in range(4)]
    assert len(set(seeds)) == 3
    assert group_seeds(7, 12, 1, 0, 3) == episode_seeds(7, 12, 0, 3)  # no groups: as before


def test_auto_steps_cartpole_groups_in_a_backend_that_seeds_each_sub_env():
    assert not seeds_each_sub_env(make_vector_env("CartPole-v1", 4))  # numpy-batched: one seed
    grouped = make_vector_env("CartPole-v1", 4, seed_each=True)
    backend = EnvPoolVectorEnv if envpool_installed() else gym.vector.SyncVectorEnv
    assert isinstance(grouped.unwrapped, backend)
    assert isinstance(make_vector_env("CartPole-v1", 4, "sync", seed_each=True).unwrapped, SyncEnv)
    copter = make_vector_env("Pixelcopter-PLE-v0", 4, seed_each=True)
    assert isinstance(copter.unwrapped, PixelcopterVectorEnv)  # its twin seeds each sub-env
    with pytest.raises(EnvError, match="seeds all sub-envs of CartPole-v1 from one seed"):
        make_vector_env("CartPole-v1", 4, "vector_entry_point", seed_each=True)


def first_observations(agent):
    loop = agent.training_loop()
    seeds = loop.reset_seeds(loop.fast.num_envs, loop.fast.group_size)
    return loop.envs.reset(seed=vector_reset_seed(loop.envs, seeds))[0]


def assert_grouped(items, k):
    """Equal within each group of ``k`` consecutive items, and distinct across groups."""
    groups = [items[i : i + k] for i in range(0, len(items), k)]
    assert all(all(np.array_equal(x, g[0]) for x in g) for g in groups)
    firsts = {np.asarray(g[0]).tobytes() for g in groups}
    assert len(firsts) == len(groups)


def test_each_group_shares_its_start_on_cartpole():
    agent = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", num_envs=12, group_size=4)
    assert_grouped(list(first_observations(agent)), 4)


def test_each_group_shares_its_level_on_pixelcopter():
    agent = reinforcelab.Reinforce(
        "Pixelcopter-PLE-v0",
        preset="fast-pixelcopter",
        num_envs=6,
        group_size=3,
        env_kwargs={"render_mode": "rgb_array"},
    )
    loop = agent.training_loop()
    seeds = vector_reset_seed(loop.envs, loop.reset_seeds(6, 3))
    assert_grouped(levels(loop.envs, seeds), 3)


@pytest.mark.skipif(not envpool_installed(), reason="EnvPool is not installed")
def test_each_group_shares_its_start_in_envpool():
    agent = reinforcelab.Reinforce(
        "LunarLander-v3",
        preset="fast-lunarlander",
        num_envs=8,
        group_size=4,
        baseline="leave-one-out",
        truncation="terminal",
        segment_steps=None,
        vectorization="envpool",
    )
    assert_grouped(list(first_observations(agent)), 4)


# ------------------------------------------------------------------------------- advantages
def test_leave_one_out_subtracts_the_others_mean_at_each_step():
    # two groups of three episodes; an episode that has ended has return-to-go 0 after its end
    returns = np.array(
        [
            [3.0, 2.0, 1.0, 5.0, 5.0, 2.0],
            [2.0, 1.0, 0.0, 4.0, 4.0, 1.0],
            [1.0, 0.0, 0.0, 3.0, 3.0, 0.0],
        ]
    )
    expected = np.empty_like(returns)
    for t in range(3):
        for i in range(6):
            group = range(3 * (i // 3), 3 * (i // 3) + 3)
            expected[t, i] = returns[t, i] - np.mean([returns[t, j] for j in group if j != i])
    np.testing.assert_allclose(leave_one_out(returns, 3), expected)
    # ... which is K / (K - 1) times the distance to the group's mean
    means = returns.reshape(3, 2, 3).mean(axis=2).repeat(3, axis=1)
    np.testing.assert_allclose(leave_one_out(returns, 3), 1.5 * (returns - means))


def test_group_normalisation_is_grpos_and_the_same_after_leave_one_out():
    rng = np.random.default_rng(0)
    returns = rng.normal(size=(5, 8))
    groups = returns.reshape(5, 2, 4)
    grpo = (groups - groups.mean(2, keepdims=True)) / (groups.std(2, ddof=1, keepdims=True) + 1e-7)
    np.testing.assert_allclose(group_standardize(returns, 4), grpo.reshape(5, 8), rtol=1e-5)
    np.testing.assert_allclose(
        group_standardize(leave_one_out(returns, 4), 4), grpo.reshape(5, 8), rtol=1e-5
    )
    assert not group_standardize(np.ones((2, 4)), 4).any()  # a group that agrees gets 0


def test_leave_one_out_is_exact_and_the_std_division_is_biased_on_a_bandit():
    # three contexts (a group shares one), two arms: rarely, often and half the time rewarded
    p = np.array([[0.0, 0.1], [0.45, 0.55], [0.9, 1.0]])
    pi = np.full((3, 2), 0.5)
    grads = bandit_expected_gradients(p, pi, k=8)
    np.testing.assert_allclose(grads["leave-one-out"], grads["exact"], atol=1e-12)
    np.testing.assert_allclose(grads["none"], grads["exact"], atol=1e-12)
    ratio = grads["group (GRPO)"][:, 1] / grads["exact"][:, 1]
    # GRPO pushes the nearly always failed or solved contexts a third harder than the open one
    np.testing.assert_allclose(ratio, [2.313, 1.736, 2.313], atol=1e-3)


# --------------------------------------------------------------- bias and variance on CartPole
def test_leave_one_out_leaves_the_expected_gradient_unchanged_on_cartpole():
    agent = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", seed=0)
    names = ["none", "leave-one-out", "self-inclusive mean (biased)"]
    samples = gradient_samples(agent, 300, names, num_envs=32, group_size=4)
    # per parameter (114), the mean difference over the same 300 batches is within a 99.994%
    # interval of zero (z < 4: Bonferroni over 114 parameters at a 1% family-wise level)
    z = paired_z(samples["leave-one-out"], samples["none"])
    assert np.abs(z).max() < 4 and np.mean(z**2) < 2  # measured: 1.8 and 0.6
    # the same test sees a baseline that includes the episode itself (3/4 of the gradient)
    biased = paired_z(samples["self-inclusive mean (biased)"], samples["none"])
    assert np.abs(biased).max() > 8 and np.mean(biased**2) > 10  # measured: 16.6 and 69


def test_leave_one_out_lowers_the_gradient_variance_on_cartpole():
    agent = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", seed=0)
    agent.learn(total_env_steps=30_000)  # episodes of about 90 steps
    samples = gradient_samples(agent, 60, ["none", "leave-one-out"], num_envs=64, group_size=8)
    var_none, var_loo = (samples[k].var(axis=0, ddof=1) for k in ("none", "leave-one-out"))
    live = var_none > 0  # parameters of dead ReLU units get no gradient
    assert (var_loo[live] < var_none[live]).mean() > 0.75  # measured: 0.85
    # the total variance, with a bootstrap interval over batches
    rng = np.random.default_rng(0)
    picks = rng.integers(0, 60, size=(1000, 60))
    ratios = [
        samples["leave-one-out"][i].var(axis=0, ddof=1).sum()
        / samples["none"][i].var(axis=0, ddof=1).sum()
        for i in picks
    ]
    assert np.percentile(ratios, 97.5) < 0.7  # measured: 0.34 [0.23, 0.49]


# ----------------------------------------------------------------------------- training
def test_the_issue_command_trains_and_records_the_groups(tmp_path):
    out = tmp_path / "run"
    result = invoke(
        "train", "CartPole-v1", "--preset", "fast-cartpole", "--set", "group_size=8",
        "--set", "baseline=leave-one-out", "--total-steps", 20_000, "--seed", 0, "--out", out,
        "--no-progress", "--eval-episodes", 2,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["group_size"], config["baseline"]) == (8, "leave-one-out")


@pytest.mark.parametrize(
    ("preset_name", "sets", "message"),
    [
        ("fast-cartpole", ["group_size=3"], "group_size must divide num_envs (128 sub-envs"),
        ("course-cartpole", ["group_size=8"], "group_size applies to fast mode only"),
        ("fast-cartpole", ["return_norm=group"], "set group_size >= 2"),
        ("fast-cartpole", ["group_size=8", "segment_steps=64"], "leave segment_steps unset"),
        ("fast-cartpole", ["group_size=8", "rollout_steps=300"], "leave rollout_steps unset"),
    ],
)
def test_wrong_group_options_are_one_line_on_the_command_line(tmp_path, preset_name, sets, message):
    options = [word for name in sets for word in ("--set", name)]
    refused = invoke(
        "train", "CartPole-v1", "--preset", preset_name, *options, "--out", tmp_path / "run"
    )
    assert message in one_line_error(refused)
    assert not (tmp_path / "run").exists()


def test_group_training_is_reproducible():
    def weights():
        agent = reinforcelab.Reinforce(
            "CartPole-v1",
            preset="fast-cartpole",
            seed=3,
            num_envs=16,
            group_size=4,
            return_norm="group",
        )
        agent.learn(total_env_steps=3_000)
        return agent.training_loop().parts.weights()

    first, again = weights(), weights()
    assert all(np.array_equal(first[k], again[k]) for k in first)


@pytest.mark.slow
@pytest.mark.parametrize("changes", [LOO, {"group_size": 8, "return_norm": "group"}])
def test_group_baselines_solve_cartpole(changes):
    agent = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", seed=0, **changes)
    agent.learn(total_env_steps=1_000_000)
    assert agent.evaluate(100, seed=1).mean_reward > 450
