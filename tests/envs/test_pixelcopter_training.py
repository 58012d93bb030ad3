"""Pixelcopter through the agent: course and fast presets run, videos are scaled up."""

import imageio.v3 as iio
import numpy as np

import reinforcelab
from reinforcelab.config import preset
from reinforcelab.envs.make import make_vector_env
from reinforcelab.playback import record_replay
from reinforcelab.rollout import collect_batch
from reinforcelab.run import train_run


def test_course_pixelcopter_preset_runs_the_course_loop(tmp_path):
    config = preset("course-pixelcopter").replace(seed=0, n_episodes=30)
    result = train_run(config, tmp_path / "pc", progress=False)
    assert result.summary["train_episodes"] == 30
    assert [w.shape for w, _ in result.agent.policy.layers] == [(64, 7), (128, 64), (2, 128)]
    # Returns are whole multiples of the game's rewards (-5 on death, +1 per column or block).
    assert all(float(r).is_integer() for r in result.evaluation.returns)


def test_fast_pixelcopter_preset_improves_on_random(tmp_path):
    agent = reinforcelab.Reinforce(
        "Pixelcopter-PLE-v0",
        preset="fast-pixelcopter",
        seed=0,
        device="cpu",
        total_env_steps=60_000,
    )
    agent.learn()
    assert agent.obs_norm is not None and agent.obs_norm.count > 0
    # A uniform-random policy averages about -4.8.
    assert agent.evaluate(20, seed=0).mean_reward > -3


def test_pixelcopter_replay_is_scaled_up(tmp_path):
    agent = reinforcelab.Reinforce("Pixelcopter-PLE-v0", preset="course-pixelcopter", seed=0)
    info = record_replay(agent, tmp_path / "pc.mp4", max_steps=20, seed=0)
    frames = np.stack(list(iio.imiter(tmp_path / "pc.mp4")))
    assert frames.shape[1:] == (288, 288, 3)  # 48x48 scaled by 6, nearest neighbour
    assert len(frames) == info["steps"] + 1


def test_sync_vector_fallback_for_envs_without_a_batched_twin():
    envs = make_vector_env("Acrobot-v1", 3, allow_envpool=False)  # auto: EnvPool when installed
    assert type(envs).__name__ == "SyncVectorEnv"
    rng = np.random.default_rng(0)
    batch = collect_batch(envs, lambda obs: rng.integers(0, 3, len(obs)), 50, 2, seed=0)
    # Random play never swings Acrobot up in 50 steps: each sub-env's first episode is cut by the
    # cap, which ends that sub-env's share of the batch.
    assert batch.episode_lengths == [50, 50, 50]
    assert batch.truncated.sum() == 3 and batch.env_steps == 150
    agent = reinforcelab.Reinforce(
        "Acrobot-v1",
        mode="fast",
        num_envs=3,
        total_env_steps=600,
        seed=0,
        hidden_sizes=(8,),
        max_t=100,
        device="cpu",
    )
    agent.learn()
    assert agent.loop.env_steps >= 600 and agent.loop.updates >= 2
