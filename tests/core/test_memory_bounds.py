"""Memory is bounded by the batch, not by the count asked for: evaluation plays its episodes in
rounds of at most EVAL_BATCH sub-envs (same results as one vector env up to that many), and a size
whose estimate cannot fit in this machine's memory (evaluation results, a training batch, an
episode's steps, a GIF's frames) is refused before anything is allocated, in one line."""

from __future__ import annotations

import resource
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import invoke, one_line_error

import reinforcelab
from reinforcelab import memory, playback
from reinforcelab.callbacks import StopOnEvaluation
from reinforcelab.envs.make import make_vector_env
from reinforcelab.memory import TooBigError, available_bytes, check_fits
from reinforcelab.rollout import RolloutStorage, batch_nbytes, batch_rows, collect_batch

GB = 10**9


@pytest.fixture
def machine_of_24gb(monkeypatch):
    """As on the machine of the issue: 24 GB of which 20 available."""
    monkeypatch.setattr(memory, "available_bytes", lambda: 20 * GB)


def run_cli(*args: object, memory_limit: int = 6 * GB) -> subprocess.CompletedProcess:
    """The command line in a child process that may not map more than ``memory_limit`` bytes: a
    request that is not refused up front fails with a MemoryError traceback instead of taking
    this machine down."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.run(
        [sys.executable, "-m", "reinforcelab.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit,
    )


def refused(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs about" in lines[0], result.stderr[-2000:]
    assert "GB available" in lines[0]
    return lines[0]


def test_the_available_memory_is_read_from_the_machine():
    available = available_bytes()
    assert available is not None and 0 < available < 2**50  # this test runs on Linux


def test_check_fits_says_what_needs_how_much_and_what_to_do(machine_of_24gb):
    check_fits(19 * GB, "a thing", "use less")
    with pytest.raises(TooBigError) as caught:
        check_fits(25e9, "evaluating 10 episodes", "ask for fewer episodes")
    assert str(caught.value) == (
        "evaluating 10 episodes needs about 25 GB; this machine has 20 GB available (ask for "
        "fewer episodes)"
    )


def test_nothing_is_refused_where_the_memory_cannot_be_told(monkeypatch):
    monkeypatch.setattr(memory, "_meminfo_available", lambda: None)
    monkeypatch.setattr(memory.os, "sysconf", lambda name: (_ for _ in ()).throw(ValueError()))
    assert available_bytes() is None
    check_fits(1e30, "anything", "nothing")


# ----------------------------------------------------------------------------- evaluation
def test_the_issue_evaluation_of_a_billion_episodes_is_refused(cartpole_run, machine_of_24gb):
    line = one_line_error(invoke("evaluate", cartpole_run, "--episodes", 1_000_000_000))
    assert line == (
        "error: evaluating 1000000000 episodes (a return, a length and a reset seed each) needs "
        "about 112 GB; this machine has 20 GB available (ask for fewer episodes)"
    )


def test_a_huge_evaluation_is_refused_at_once_in_a_child_process(cartpole_run):
    # Any machine: 10**11 episodes' results are 11 TB. The code this replaced built a vector env
    # with a sub-env per episode (MemoryError under the child's limit; killed at 24 GB without).
    refused(run_cli("evaluate", cartpole_run, "--episodes", 10**11))


@pytest.mark.parametrize("env_id", ["Pixelcopter-PLE-v0", "Acrobot-v1"])
def test_evaluation_in_rounds_gives_each_episode_its_own_reset_seed(env_id, monkeypatch):
    # Greedy actions: an episode then depends on its reset seed alone, so rounds of 8 sub-envs
    # must give what one vector env with a sub-env per episode gives. (Both envs seed each
    # sub-env; CartPole's numpy-batched env takes one seed per round.)
    agent = reinforcelab.Reinforce(env_id, preset="fast-cartpole", seed=3)
    sizes: list[int] = []
    real = playback.evaluation_envs

    def spy(config, n):
        envs = real(config, n)
        sizes.append(envs.num_envs)
        return envs

    monkeypatch.setattr(playback, "evaluation_envs", spy)
    whole = agent.evaluate(20, deterministic=True, seed=11, max_t=60)
    monkeypatch.setattr(playback, "EVAL_BATCH", 8)
    rounds = agent.evaluate(20, deterministic=True, seed=11, max_t=60)
    assert sizes == [20, 8]
    assert len(rounds.returns) == 20
    assert (rounds.returns, rounds.lengths) == (whole.returns, whole.lengths)


def test_a_round_sums_rewards_exactly_as_a_batch_does():
    """play_round (running totals) against collect_batch (the stored batch it replaced for
    evaluation): same seeds and action stream, the same returns and lengths to the last bit."""
    agent = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", seed=0, gamma=0.9)
    actor = agent.actor()
    results = []
    for play in ("batch", "round"):
        envs = make_vector_env("CartPole-v1", 50)
        rng = np.random.default_rng(5)
        seeds = playback.evaluation_seeds(5, 50)
        act = lambda obs, rng=rng: actor.act_batch(obs, rng)  # noqa: E731
        if play == "batch":
            batch = collect_batch(envs, act, 200, seed=seeds[0])
            results.append((batch.episode_returns, batch.episode_lengths))
        else:
            results.append(playback.play_round(envs, act, 200, seeds))
        envs.close()
    assert results[0] == results[1]
    assert len(set(results[0][1])) > 5  # episodes of many lengths, some cut at 200


def test_the_early_stopping_evaluation_plays_in_rounds_too(monkeypatch):
    monkeypatch.setattr(playback, "EVAL_BATCH", 16)
    agent = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", seed=0, num_envs=8)
    evaluations = []
    real = playback.evaluate_policy

    def spy(*args, **kwargs):
        evaluations.append(real(*args, **kwargs))
        return evaluations[-1]

    monkeypatch.setattr(playback, "evaluate_policy", spy)
    stop = StopOnEvaluation(1e9, n_episodes=40, seed=0, precheck=0.0)
    agent.learn([stop], total_env_steps=100)
    assert stop.envs.num_envs == 16
    assert len(evaluations[0].returns) == 40


def test_the_early_stopping_evaluation_is_refused_before_training(machine_of_24gb):
    loop = reinforcelab.Reinforce("CartPole-v1", preset="fast-cartpole", seed=0).training_loop()
    with pytest.raises(TooBigError, match="evaluating 1000000000 episodes"):
        loop.stop_criterion(475.0, 1_000_000_000)


def test_the_run_evaluation_count_is_refused_before_training(machine_of_24gb):
    with pytest.raises(TooBigError, match="evaluating 1000000000 episodes"):
        reinforcelab.Reinforce("CartPole-v1", eval_episodes=1_000_000_000)


# ----------------------------------------------------------------------------- training
def test_the_batch_estimate_bounds_what_a_batch_really_takes():
    # Pendulum's episodes all last its time limit, 200 steps: the estimate's worst case.
    envs = make_vector_env("Pendulum-v1", 16)
    agent = reinforcelab.Reinforce("Pendulum-v1", preset="fast-lunarlander-continuous", seed=0)
    storage, actor, rng = RolloutStorage(), agent.actor(), np.random.default_rng(0)
    for episodes_per_env in (1, 3):
        batch = collect_batch(
            envs, lambda o: actor.act_batch(o, rng), 1000, episodes_per_env, 0, storage
        )
        assert set(batch.episode_lengths) == {200}
        stored = sum(a.nbytes for a in storage.arrays.values())
        update = batch.counted_obs.nbytes * 2  # its counted observations, normalised
        estimate = batch_nbytes(agent.parts.spaces, 16, 1000, episodes_per_env, 200)
        assert stored + update <= estimate <= 3 * (stored + update)
    envs.close()


@pytest.mark.parametrize(
    "args, fix",
    [
        # 10**8 sub-envs of CartPole
        (["CartPole-v1", "--preset", "fast-cartpole", "--set", "num_envs=100000000"], "num_envs"),
        # 10**5 sub-envs of 300-step episodes of (2, 48, 48) frames
        (
            ["Pixelcopter-PLE-v0", "--preset", "fast-pixelcopter-pixels"]
            + ["--set", "num_envs=100000"],
            "num_envs",
        ),
        # as many episodes per sub-env
        (
            ["CartPole-v1", "--preset", "fast-cartpole", "--set", "episodes_per_env=1000000"],
            "episodes_per_env",
        ),
        # course mode: one episode of up to 10**10 steps (Pixelcopter has no time limit)
        (["Pixelcopter-PLE-v0", "--max-t", "10000000000"], "lower max_t"),
        # fixed-length segments of 10**9 steps
        (
            ["Pendulum-v1", "--preset", "fast-pendulum", "--set", "segment_steps=1000000000"],
            "segment_steps",
        ),
        # sub-envs that play on until 10**10 steps
        (
            ["CartPole-v1", "--preset", "fast-cartpole", "--set", "rollout_steps=10000000000"],
            "rollout_steps",
        ),
    ],
)
def test_a_training_batch_that_cannot_fit_is_refused_up_front(args, fix, tmp_path):
    line = refused(run_cli("train", *args, "--out", tmp_path / "run", "--no-progress"))
    assert fix in line and line.startswith("error: training on ")
    assert not (tmp_path / "run" / "metrics.csv").exists()


@pytest.mark.parametrize("rollout_steps", [None, 300])
def test_the_storage_grows_to_the_longest_batch_and_no_further(rollout_steps):
    # Random CartPole episodes last some 20 steps, never 100 (seeded): with rollout_steps a sub-env
    # plays about 15 of them back to back, more rows than one episode of max_t steps needs.
    envs = make_vector_env("CartPole-v1", 4)
    storage, rng = RolloutStorage(), np.random.default_rng(0)
    act = lambda obs: rng.integers(0, 2, len(obs))  # noqa: E731
    batch = collect_batch(envs, act, 100, 1, 0, storage, rollout_steps=rollout_steps)
    envs.close()
    rows = len(storage.arrays["obs"])
    assert len(batch.obs) <= rows <= batch_rows(100, 1, rollout_steps)
    if rollout_steps:
        assert sum(batch.episode_lengths) >= 4 * 300 and len(batch.obs) > batch_rows(100, 1)


def test_a_time_limit_bounds_the_estimate(tmp_path):
    # CartPole ends at 500 steps whatever max_t says: a huge max_t trains as usual.
    result = invoke(
        "train", "CartPole-v1", "--max-t", 10**12, "--episodes", 3, "--out", tmp_path / "r"
    )
    assert result.exit_code == 0, result.output


# ----------------------------------------------------------------------------- playing back
@pytest.mark.parametrize(
    "args, what",
    [
        (["--episodes", 10**11, "--out", "x.mp4"], "playing 100000000000 episodes"),
        (["--episodes", 100_000, "--out", "x.gif"], "into a GIF"),
        (["--episodes", 20, "--max-steps", 10**9, "--out", "x.gif"], "Pixelcopter"),
    ],
)
def test_recording_that_cannot_fit_is_refused(cartpole_run, args, what, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if what == "Pixelcopter":  # no time limit: 20 GIF episodes of up to 10**9 frames
        run = tmp_path / "copter"
        reinforcelab.Reinforce("Pixelcopter-PLE-v0", preset="fast-pixelcopter").save(run)
        what = "playing 20 episodes of up to 1000000000 steps into a GIF"
    else:
        run = cartpole_run
    line = refused(run_cli("record", run, *args))
    assert what in line
    if args[-1].endswith(".gif"):
        assert line.endswith("(fewer episodes or a lower step cap; an mp4 is written as it plays)")
    assert not list(tmp_path.glob("x.*"))


def test_recording_within_a_time_limit_is_not_refused(cartpole_run, tmp_path):
    # CartPole ends at 500 steps: any step cap records
    result = invoke("record", cartpole_run, "--max-steps", 10**12, "--out", tmp_path / "x.mp4")
    assert result.exit_code == 0, result.output
