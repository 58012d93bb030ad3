"""Seeding gives distinct episodes: every evaluation episode and every training batch plays a level
of its own, and adjacent seeds share none (checked on Pixelcopter, whose levels are its first
screen)."""

import numpy as np

import reinforcelab
from reinforcelab.envs.make import make_vector_env
from reinforcelab.playback import evaluate_policy, evaluation_seeds
from reinforcelab.seeding import vector_reset_seed


def levels(envs, reset_seed):
    """Each sub-env's level: its first screen (12 cave columns and the block) after the reset."""
    envs.reset(seed=reset_seed)
    return [frame.tobytes() for frame in envs.render()]


def evaluation_levels(seed, n=10):
    envs = make_vector_env("Pixelcopter-PLE-v0", n, render_mode="rgb_array")
    try:
        return levels(envs, vector_reset_seed(envs, evaluation_seeds(seed, n)))
    finally:
        envs.close()


def test_unseeded_pixelcopter_evaluation_plays_distinct_levels():
    assert len(set(evaluation_levels(None))) == 10
    assert set(evaluation_levels(None)).isdisjoint(evaluation_levels(None))


def test_adjacent_evaluation_seeds_share_no_episode():
    assert evaluation_levels(0) == evaluation_levels(0)
    assert set(evaluation_levels(0)).isdisjoint(evaluation_levels(1))


def test_fixed_random_policy_unseeded_evaluation_returns_are_not_all_equal():
    agent = reinforcelab.Reinforce("Pixelcopter-PLE-v0", preset="fast-pixelcopter", seed=0)
    # Thrust one step in six, whatever the observation: the episodes differ only by their level.
    steps = {"t": 0}

    def act(obs):
        steps["t"] += 1
        return np.full(len(obs), 0 if steps["t"] % 6 == 0 else 1)

    envs = make_vector_env("Pixelcopter-PLE-v0", 10)
    result = evaluate_policy(act, envs, "Pixelcopter-PLE-v0", max_t=2000)
    assert len(set(zip(result.returns, result.lengths))) > 1
    first, again = agent.evaluate(10, seed=5), agent.evaluate(10, seed=5)
    assert (first.returns, first.lengths) == (again.returns, again.lengths)


def test_training_batches_and_early_stop_use_fresh_levels():
    def trainer_for(**options):
        agent = reinforcelab.Reinforce(
            "Pixelcopter-PLE-v0", preset="fast-pixelcopter", num_envs=8, **options
        )
        return agent.training_loop()

    trainer = trainer_for(env_kwargs={"render_mode": "rgb_array"})
    batch0 = levels(trainer.envs, vector_reset_seed(trainer.envs, trainer.reset_seeds(8)))
    trainer.updates = 1
    batch1 = levels(trainer.envs, vector_reset_seed(trainer.envs, trainer.reset_seeds(8)))
    assert len(set(batch0)) == 8 and set(batch0).isdisjoint(batch1)
    seed0, seed1 = (trainer_for(seed=s, env_kwargs={"render_mode": "rgb_array"}) for s in (0, 1))
    assert set(levels(seed0.envs, seed0.reset_seeds(8))).isdisjoint(
        levels(seed1.envs, seed1.reset_seeds(8))
    )
