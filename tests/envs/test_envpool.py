"""EnvPool as a vector backend: the guarantees of the other backends (whole episodes, the same
episodes from the same seeds, distinct evaluation episodes, exact resume)."""

import numpy as np
import pytest

import reinforcelab
from reinforcelab.envs.envpool_env import EnvPoolVectorEnv
from reinforcelab.envs.make import EnvError, make_vector_env
from reinforcelab.rollout import collect_batch
from reinforcelab.run import resume_run, train_run

pytest.importorskip("envpool")  # in the test extra; skipped only where it cannot install


def test_reset_seeds_each_sub_env_and_repeats_its_episodes():
    envs = make_vector_env("Pendulum-v1", 3, vectorization="envpool")
    assert isinstance(envs.unwrapped, EnvPoolVectorEnv)
    first = envs.reset(seed=[1, 2, 3])[0]
    again = envs.reset(seed=[1, 2, 3])[0]
    other = envs.reset(seed=[1, 2, 4])[0]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first[:2], other[:2])
    assert not np.array_equal(first[2], other[2])


def test_batches_hold_whole_episodes_and_repeat_with_the_seed():
    envs = make_vector_env("Pendulum-v1", 4, vectorization="envpool")
    rng = np.random.default_rng(0)
    actions = rng.uniform(-2, 2, (400, 4, 1)).astype(np.float32)

    def scripted():
        step = iter(actions)
        return lambda obs: next(step)

    a = collect_batch(envs, scripted(), 1000, seed=[5, 6, 7, 8])
    b = collect_batch(envs, scripted(), 1000, seed=[5, 6, 7, 8])
    assert a.episode_lengths == [200] * 4  # Pendulum's time limit, each episode whole
    assert a.truncated.sum() == 4 and a.episode_returns == b.episode_returns


def test_training_is_reproducible_and_resumes_exactly(tmp_path):
    config = reinforcelab.preset("fast-lunarlander").replace(
        seed=3,
        num_envs=8,
        total_env_steps=6000,
        segment_steps=None,  # whole episodes: a resumed run continues them exactly
        rollout_max_t=100,
        vectorization="envpool",
    )
    whole = train_run(config, tmp_path / "whole", progress=False)
    train_run(config.replace(total_env_steps=3000), tmp_path / "part", progress=False)
    resumed = resume_run(tmp_path / "part", progress=False, total_env_steps=6000)
    for name, array in whole.agent.weights().items():
        np.testing.assert_array_equal(array, resumed.agent.weights()[name], err_msg=name)
    again = train_run(config, tmp_path / "again", progress=False)
    assert again.evaluation.returns == whole.evaluation.returns


def test_evaluation_episodes_are_distinct_levels():
    agent = reinforcelab.Reinforce("LunarLander-v3", preset="fast-lunarlander", seed=0)
    result = agent.evaluate(8, seed=1, max_t=30)
    assert len(set(np.round(result.returns, 6))) == 8


def test_what_envpool_cannot_do_is_one_line():
    with pytest.raises(EnvError, match="EnvPool has no port of Pixelcopter-PLE-v0"):
        make_vector_env("Pixelcopter-PLE-v0", 2, vectorization="envpool")
    with pytest.raises(EnvError, match="does not take"):
        make_vector_env("LunarLander-v3", 2, vectorization="envpool", gravity=-5.0)
