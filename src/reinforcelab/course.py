"""The helper functions of the Hugging Face Deep RL course's Unit 4, on Gymnasium 1.x.

The course's notebook defines ``reinforce``, ``evaluate_agent``, ``record_video`` and
``push_to_hub`` around a global ``env`` and the pre-0.26 gym API, so it no longer runs. These are
the same functions with the same signatures (plus a few keyword arguments), for any policy with the
course's method ``act(state) -> (action, log_prob)``, where ``log_prob`` is a torch tensor with
the autograd graph of log pi(action | state). Use them to follow the course with your own
``Policy`` class; use :class:`reinforcelab.Reinforce` for the fast, batched version.

What changed, and why:

- ``reinforce`` takes the training ``env`` as an argument instead of reading a global, and reads
  Gymnasium's ``terminated`` / ``truncated`` flags where old gym had ``done``.
- An episode of a single step makes no update: its standardised return is undefined (the course
  divides by a NaN standard deviation and the NaN ends up in the weights).
- ``record_video`` stops after ``max_steps`` steps: a good Pixelcopter agent can fly for ever.
- ``push_to_hub`` saves the weights as ``model.safetensors`` (never a pickle: unpickling can run
  arbitrary code), writes the model card with the std the course's leaderboard needs, and has a
  dry run that writes the folder and contacts nothing. ``reinforcelab.load`` reads what it writes.

torch is imported here (the course's policies are torch modules), so import this module only when
you use it; ``import reinforcelab`` does not.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections import deque
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from .returns import reward_to_go, standardize
from .rollout import collect_episode

__all__ = ["CoursePolicy", "evaluate_agent", "push_to_hub", "record_video", "reinforce"]


class CoursePolicy(Protocol):
    """What the course's ``Policy`` offers: one observation in, a sampled action and its log-prob
    out."""

    def act(self, state: np.ndarray) -> tuple[int, torch.Tensor]: ...


def _check_policy(policy: Any) -> None:
    if not callable(getattr(policy, "act", None)):
        raise TypeError(
            "policy must have a method act(state) -> (action, log_prob), like the course's "
            f"Policy; got {type(policy).__name__}"
        )


def _check_at_least_one(**values: int) -> None:
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a whole number of at least 1; got {value!r}")


def reinforce(
    policy: CoursePolicy,
    optimizer: torch.optim.Optimizer,
    n_training_episodes: int,
    max_t: int,
    gamma: float,
    print_every: int,
    env: gym.Env,
    seed: int | None = None,
) -> list[float]:
    """Train ``policy`` with the course's REINFORCE: one episode, then one optimizer step.

    For each episode: play at most ``max_t`` steps, sampling actions with ``policy.act`` (which
    keeps the graph of each log pi(a_t|s_t)); compute the reward-to-go G_t = r_t + gamma * G_{t+1};
    standardise it within the episode, (G - mean) / (std + eps) with the unbiased std and eps =
    float32 machine epsilon; minimise sum_t -log pi(a_t|s_t) * G_t with one ``optimizer`` step.
    Every ``print_every`` episodes, print the mean score of the last 100 episodes, as the course
    does.

    Args:
        policy: any object with ``act(state) -> (action, log_prob)``, e.g. the course's Policy.
        optimizer: optimises the policy's parameters (the course uses ``optim.Adam``).
        n_training_episodes: number of episodes, hence of updates.
        max_t: step cap per episode.
        gamma: discount factor in [0, 1].
        print_every: print the running average every this many episodes.
        env: the training environment (the course read a global ``env``).
        seed: seeds the first ``env.reset`` (later resets continue the env's random stream). The
            action sampling draws from torch's global generator: call ``torch.manual_seed`` too for
            a reproducible run.

    Returns:
        The score (sum of rewards) of every episode, in order.
    """
    _check_policy(policy)
    _check_at_least_one(
        n_training_episodes=n_training_episodes, max_t=max_t, print_every=print_every
    )
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1]; got {gamma}")
    scores: list[float] = []
    recent: deque[float] = deque(maxlen=100)
    for episode in range(1, n_training_episodes + 1):
        log_probs, rewards = [], []
        state, _ = env.reset(seed=seed if episode == 1 else None)
        for _ in range(max_t):
            action, log_prob = policy.act(state)
            log_probs.append(log_prob.reshape(-1))
            state, reward, terminated, truncated, _ = env.step(action)
            rewards.append(float(reward))
            if terminated or truncated:
                break
        scores.append(sum(rewards))
        recent.append(sum(rewards))

        if len(rewards) > 1:  # one step: no spread to standardise against, so nothing to learn
            # float32 like the course's torch.tensor(returns), so both loops compute the same
            # numbers
            returns = standardize(torch.tensor(reward_to_go(rewards, gamma), dtype=torch.float32))
            loss = (-torch.cat(log_probs) * returns).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        if episode % print_every == 0:
            print(f"Episode {episode}\tAverage Score: {np.mean(recent):.2f}")
    return scores


def _episode_returns(
    env: gym.Env,
    policy: CoursePolicy,
    max_steps: int,
    n_episodes: int,
    seed: int | None,
    states: list[np.ndarray] | None = None,
) -> list[float]:
    """Play ``n_episodes`` with the policy's sampled actions, the first reset seeded (and the
    states seen kept in ``states``, when given)."""
    returns = []
    with torch.no_grad():  # acting needs no graph: faster, same actions
        for episode in range(n_episodes):
            played = collect_episode(
                env,
                lambda state: policy.act(state)[0],
                max_steps,
                seed=seed if episode == 0 else None,
            )
            if states is not None:
                states.extend(played.obs)
            returns.append(played.total_reward)
    return returns


def evaluate_agent(
    env: gym.Env,
    max_steps: int,
    n_eval_episodes: int,
    policy: CoursePolicy,
    seed: int | None = None,
) -> tuple[float, float]:
    """The course's evaluation: ``n_eval_episodes`` episodes with actions *sampled* by
    ``policy.act``, each capped at ``max_steps`` steps.

    Sampled, not argmax, because that is the policy REINFORCE trained and the one the course's
    leaderboard scores. ``seed`` seeds the first reset (the sampling uses torch's generator).

    Returns:
        (mean, population standard deviation) of the episode returns; the course's score is
        ``mean - std``.
    """
    _check_policy(policy)
    _check_at_least_one(max_steps=max_steps, n_eval_episodes=n_eval_episodes)
    returns = _episode_returns(env, policy, max_steps, n_eval_episodes, seed)
    return float(np.mean(returns)), float(np.std(returns))


def _render_env(env: gym.Env) -> tuple[gym.Env, bool]:
    """``env`` if it renders RGB frames, else a new copy of it that does (and True: close it after).

    In old gym any env rendered with ``render(mode="rgb_array")``; in Gymnasium the render mode is
    fixed when the env is made, so the course's ``record_video(env, ...)`` needs a copy."""
    if getattr(env, "render_mode", None) == "rgb_array":
        return env, False
    if env.spec is None:
        raise ValueError(
            "the env does not render RGB frames and has no spec to make a copy that does; "
            'create it with gymnasium.make(env_id, render_mode="rgb_array")'
        )
    # pygame renders off-screen on a headless machine
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    return gym.make(env.spec, render_mode="rgb_array"), True


def record_video(
    env: gym.Env,
    policy: CoursePolicy,
    out_directory: str | Path,
    fps: int = 30,
    max_steps: int = 1000,
    seed: int | None = None,
) -> dict[str, Any]:
    """Play one episode with ``policy.act`` (sampled actions) and write it as a video.

    Args:
        env: the environment. If it was not made with ``render_mode="rgb_array"``, a copy that
            renders is made from its spec (and closed afterwards).
        policy: any object with ``act(state) -> (action, log_prob)``.
        out_directory: the video file to write (the course's name for it), ``.mp4`` or ``.gif``.
        fps: frames per second.
        max_steps: step cap, so that an agent that never fails still gives a finite video.
        seed: seeds the reset.

    Returns:
        What :func:`reinforcelab.artifacts.video.record_video` reports: path, frames, steps,
        episode returns, size.
    """
    from .artifacts.video import record_video as write_video

    _check_policy(policy)
    _check_at_least_one(max_steps=max_steps)
    render_env, made_here = _render_env(env)
    try:
        with torch.no_grad():
            return write_video(
                lambda state: policy.act(state)[0],
                render_env,
                out_directory,
                episodes=1,
                max_steps=max_steps,
                fps=fps,
                seed=seed,
            )
    finally:
        if made_here:
            render_env.close()


# ----------------------------------------------------------------------------- the Hub
def _mlp_layers(model: torch.nn.Module) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The (weight, bias) arrays of a model made only of chained ``nn.Linear`` layers, else None."""
    from .artifacts.course_pickle import linear_weights

    try:
        layers = [
            (
                w.detach().cpu().numpy().astype(np.float32),
                b.detach().cpu().numpy().astype(np.float32),
            )
            for w, b in linear_weights(model)
        ]
    except KeyError:  # a Linear layer without bias
        return None
    chained = all(w.shape[1] == prev.shape[0] for (prev, _), (w, _) in pairwise(layers))
    n_parameters = sum(p.numel() for p in model.parameters())
    if len(layers) < 2 or not chained or n_parameters != sum(w.size + b.size for w, b in layers):
        return None
    return layers


def _same_log_probs(agent, model: CoursePolicy, states: list[np.ndarray]) -> bool:
    """Whether the built-in MLP gives the log-probabilities ``model.act`` gives, on real states.

    The weights alone cannot tell a Linear-ReLU-...-Linear-softmax model from one with another
    activation or a skipped layer; its actions can."""
    actor = agent.actor()
    with torch.no_grad():
        for state in states[:: max(1, len(states) // 50)]:
            action, log_prob = model.act(state)
            logits = actor.logits(np.asarray(state, dtype=np.float32)[None])[:, 0].astype(
                np.float64
            )
            ours = logits[action] - logits.max() - np.log(np.exp(logits - logits.max()).sum())
            if not np.isclose(ours, float(log_prob.reshape(-1)[0]), atol=1e-4):
                return False
    return True


def _agent_for(
    model: torch.nn.Module,
    hyperparameters: dict[str, Any],
    seed: int | None,
    states: list[np.ndarray],
):
    """A reinforcelab agent holding ``model``'s weights, to save as safetensors.

    A course-style MLP (Linear layers with ReLUs between them, a softmax on top) becomes the
    built-in MLP: its Hub folder then loads anywhere, with ``reinforcelab.load`` or
    ``reinforcelab enjoy``, without the notebook's class. Any other module is saved as its own
    ``state_dict`` through the policy plug point; loading it needs its class
    (``reinforcelab.load(folder, policy=...)``)."""
    from . import Reinforce
    from .config import CourseMode, TrainConfig
    from .policies.mlp import MLP

    missing = [k for k in ("env_id", "max_t", "n_evaluation_episodes") if k not in hyperparameters]
    if missing:
        raise ValueError(
            f"hyperparameters is missing {', '.join(missing)}; pass the course's dict "
            "(env_id, h_size, n_training_episodes, n_evaluation_episodes, max_t, gamma, lr, ...)"
        )
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"model must be a torch nn.Module (the course's Policy); got {type(model).__name__}"
        )
    layers = _mlp_layers(model)
    h_size = int(hyperparameters.get("h_size", 16))
    config = TrainConfig(
        env_id=hyperparameters["env_id"],
        hidden_sizes=tuple(w.shape[0] for w, _ in layers[:-1]) if layers else (h_size,),
        lr=float(hyperparameters.get("lr", 1e-2)),
        gamma=float(hyperparameters.get("gamma", 1.0)),
        max_t=int(hyperparameters["max_t"]),
        eval_episodes=int(hyperparameters["n_evaluation_episodes"]),
        seed=seed,
        mode=CourseMode(
            n_episodes=int(hyperparameters.get("n_training_episodes", 1)),
            print_every=int(hyperparameters.get("print_every", 100)),
        ),
    )
    if layers is not None:
        agent = Reinforce(config=config, device="cpu")
        if [w.shape for w, _ in agent.policy.layers] == [w.shape for w, _ in layers]:
            agent.policy.load_state_dict(MLP(layers).state_dict())
            if _same_log_probs(agent, model, states):
                return agent
    return Reinforce(config=config, device="cpu", policy=model)


def push_to_hub(
    repo_id: str,
    model: torch.nn.Module,
    hyperparameters: dict[str, Any],
    eval_env: gym.Env,
    video_fps: int = 30,
    *,
    dry_run: str | Path | None = None,
    token: str | None = None,
    endpoint: str | None = None,
    private: bool = False,
    seed: int | None = None,
    video_max_steps: int = 1000,
) -> str | Path:
    """Evaluate ``model``, record a replay, write the Hub folder and upload it (or only write it).

    The folder is the one ``reinforcelab push`` writes: ``model.safetensors`` (the weights only,
    never a pickle), ``config.json``, ``hyperparameters.json`` (the course's keys), ``results.json``
    (with the std), ``replay.mp4`` and a ``README.md`` model card whose metadata the course's
    leaderboard reads. ``reinforcelab.load`` reads it back (with ``policy=`` for a module that is
    not a plain MLP).

    Args:
        repo_id: ``USER/NAME``; the repo is created if it does not exist.
        model: the course's Policy, or any ``nn.Module`` whose forward gives action logits or
            probabilities and whose ``act`` samples from them. A Linear-ReLU MLP like the course's
            is saved as reinforcelab's built-in MLP (checked against ``act`` on real states), so
            its folder loads without the class; any other module as its own ``state_dict``.
        hyperparameters: the course's dict; ``env_id``, ``max_t`` and ``n_evaluation_episodes``
            are required, ``lr``, ``gamma``, ``n_training_episodes`` are recorded.
        eval_env: the evaluation environment; the replay is recorded from it (or from an
            ``rgb_array`` copy of it).
        video_fps: frame rate of ``replay.mp4``.
        dry_run: a folder: write the Hub folder there, and ``<folder>-manifest.json`` beside it
            listing what an upload would send, and contact nothing.
        token: a Hub token with write access (default: the saved login or ``$HF_TOKEN``).
        endpoint: the Hub URL (default: ``$HF_ENDPOINT`` or https://huggingface.co).
        private: create the repo as private.
        seed: seeds the evaluation's and the replay's first reset.
        video_max_steps: step cap of the replay.

    Returns:
        The repo's URL after an upload; the folder written by a dry run.

    Raises:
        HubUploadError: the upload failed; the folder it was sending is kept and the message says
            where, and how to retry.
    """
    from .artifacts.hub import check_repo_id, upload, write_hub_folder, write_manifest

    check_repo_id(repo_id)
    _check_at_least_one(video_max_steps=video_max_steps)
    states: list[np.ndarray] = []
    # a few real states to check the weights on
    _episode_returns(eval_env, model, 50, 1, seed, states)
    agent = _agent_for(model, hyperparameters, seed, states)
    mean_reward, std_reward = evaluate_agent(
        eval_env, agent.config.max_t, agent.config.eval_episodes, model, seed
    )
    results = {
        "env_id": agent.config.env_id,
        "mean_reward": mean_reward,
        "std_reward": std_reward,
        "n_evaluation_episodes": agent.config.eval_episodes,
        "eval_datetime": dt.datetime.now(dt.timezone.utc).isoformat(),
        "deterministic": False,
        "seed": seed,
    }
    folder = (
        Path(dry_run)
        if dry_run is not None
        else Path(tempfile.mkdtemp(prefix="reinforcelab-hub-")) / "hub"
    )
    with tempfile.TemporaryDirectory() as tmp:
        run = agent.save(Path(tmp) / "run")
        video = record_video(
            eval_env, model, Path(tmp) / "replay.mp4", video_fps, video_max_steps, seed
        )["path"]
        write_hub_folder(
            run, folder, results, repo_id, video=video, overwrite=True, endpoint=endpoint
        )
    print(
        f"Evaluation: {mean_reward:.2f} +/- {std_reward:.2f} "
        f"over {agent.config.eval_episodes} episodes"
    )
    if dry_run is not None:
        manifest = folder.parent / f"{folder.name}-manifest.json"
        write_manifest(folder, manifest, repo_id, endpoint=endpoint, private=private)
        print(
            f"Dry run: the Hub folder is {folder}; nothing was uploaded (what would be: {manifest})"
        )
        return folder
    url = upload(folder, repo_id, token=token, endpoint=endpoint, private=private)
    # kept above when the upload fails, for its retry command
    shutil.rmtree(folder.parent, ignore_errors=True)
    print(f"Your model is pushed to the Hub: {url}")
    return url
