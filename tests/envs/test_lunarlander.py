"""LunarLander (Box2D): the fast presets train, checkpoint and evaluate; async vector envs are
seeded per sub-env and leave no worker process behind."""

import json
import multiprocessing

import numpy as np
import pytest

import reinforcelab
from reinforcelab.artifacts.files import CONFIG_FILE, MODEL_FILE, RESULTS_FILE, RESUME_FILE
from reinforcelab.config import ConfigError, TrainConfig, preset
from reinforcelab.envs.make import make_vector_env, vectorization_mode
from reinforcelab.run import resume_run, train_run
from reinforcelab.seeding import episode_seeds, vector_reset_seed

pytest.importorskip("Box2D", reason="LunarLander needs the box2d extra: pip install -e '.[box2d]'")

# A few thousand steps: enough for several updates, not for learning to land.
SHORT = {
    "seed": 0,
    "num_envs": 4,
    "total_env_steps": 3000,
    "rollout_max_t": 200,
    "max_t": 300,
    "eval_episodes": 3,
}


@pytest.mark.parametrize(
    "name, env_id",
    [
        ("fast-lunarlander", "LunarLander-v3"),
        ("fast-lunarlander-continuous", "LunarLanderContinuous-v3"),
    ],
)
def test_lunarlander_preset_trains_checkpoints_and_evaluates(tmp_path, name, env_id):
    config = preset(name).replace(**SHORT)
    assert config.env_id == env_id
    result = train_run(config, tmp_path / "run", progress=False, device="cpu")
    trainer = result.agent.loop
    assert trainer.env_steps >= 3000 and trainer.updates >= 2
    assert result.agent.continuous == (name == "fast-lunarlander-continuous")
    for file in (CONFIG_FILE, MODEL_FILE, RESULTS_FILE, RESUME_FILE):
        assert (tmp_path / "run" / file).is_file()
    results = json.loads((tmp_path / "run" / RESULTS_FILE).read_text())
    assert results["env_id"] == env_id and results["n_evaluation_episodes"] == 3
    assert np.isfinite(results["mean_reward"])
    # The saved agent acts like the trained one.
    loaded = reinforcelab.load(tmp_path / "run")
    obs = np.zeros((2, 8), np.float32)
    assert np.allclose(
        loaded.predict(obs, deterministic=True), result.agent.predict(obs, deterministic=True)
    )


def test_async_training_resumes_and_leaves_no_worker_processes(tmp_path):
    config = preset("fast-lunarlander").replace(**SHORT, vectorization="async")
    agent = train_run(config, tmp_path / "run", progress=False, device="cpu").agent
    assert multiprocessing.active_children() == []
    agent.learn(total_env_steps=4000)  # a second learn() opens the workers again, and closes them
    assert agent.loop.env_steps >= 4000
    assert multiprocessing.active_children() == []
    # The folder's run trained its budget: a resume raises it (the learn() above saved nothing).
    resumed = resume_run(tmp_path / "run", progress=False, device="cpu", total_env_steps=4000)
    assert resumed.agent.loop.env_steps >= 4000
    assert multiprocessing.active_children() == []


def test_async_vector_env_seeds_every_sub_env_and_adjacent_seeds_share_no_episode():
    envs = make_vector_env("LunarLander-v3", 4, vectorization="async")
    try:
        assert type(envs).__name__ == "AsyncVectorEnv"

        def first_obs(root: int) -> np.ndarray:
            return envs.reset(seed=vector_reset_seed(envs, episode_seeds(root, 4, 0, 0)))[0]

        seed0, seed1 = first_obs(0), first_obs(1)
        assert len({row.tobytes() for row in seed0}) == 4  # every sub-env starts differently
        assert not {row.tobytes() for row in seed0} & {row.tobytes() for row in seed1}
        assert np.array_equal(first_obs(0), seed0)  # and the same seeds give the same starts
    finally:
        envs.close()
    assert multiprocessing.active_children() == []


def test_vectorization_choice():
    # CartPole and Pixelcopter keep their numpy-batched twins; LunarLander steps in EnvPool when it
    # is installed, else in this process: both measured faster than worker processes
    # (benchmarks/vector_stepping.py); with env keyword arguments (EnvPool takes its own) in this
    # process too.
    assert vectorization_mode("CartPole-v1") == "vector_entry_point"
    assert vectorization_mode("Pixelcopter-PLE-v0") == "vector_entry_point"
    assert vectorization_mode("LunarLander-v3") == "envpool"
    assert vectorization_mode("LunarLander-v3", kwargs=True) == "sync"
    assert vectorization_mode("CartPole-v1", "async") == "async"
    with pytest.raises(
        ConfigError, match="vectorization must be one of auto, sync, async, envpool; got 'bogus'"
    ):
        TrainConfig.from_dict({"mode": "fast", "vectorization": "bogus"})
