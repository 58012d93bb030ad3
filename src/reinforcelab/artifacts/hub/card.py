"""The model card (README.md of a Hub folder) and the course's hyperparameter dict it shows.

The YAML front matter is built with huggingface_hub's ``ModelCardData`` and ``EvalResult``, which
write the ``model-index`` layout the Hub reads for leaderboards; the body is our own text.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from ..checkpoint import CONFIG_FILE, MODEL_FILE
from .errors import HubExportError
from .layout import HYPERPARAMETERS_FILE, RESULTS_FILE
from .repo import resolve_endpoint

if TYPE_CHECKING:
    from huggingface_hub import ModelCardData

LIBRARY_NAME = "reinforcelab"
COURSE_URL = "https://huggingface.co/learn/deep-rl-course/unit4/introduction"
TASK = "reinforcement-learning"
METRIC = "mean_reward"
TAGS = (
    "reinforce",
    "reinforcement-learning",
    "deep-reinforcement-learning",
    "custom-implementation",
    "deep-rl-class",
)

REQUIRED_RESULTS = ("env_id", "mean_reward", "std_reward", "n_evaluation_episodes")


def json_default(obj: Any) -> Any:
    """``json.dumps`` fallback: numpy scalars and arrays (e.g. returns computed with numpy) become
    plain numbers and lists."""
    if callable(getattr(obj, "tolist", None)):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def check_results(results: dict[str, Any]) -> None:
    """Raise ``HubExportError`` unless ``results`` is an evaluation dict with numeric scores."""
    missing = [k for k in REQUIRED_RESULTS if k not in results]
    if missing:
        raise HubExportError(
            f"results are missing {', '.join(missing)}; expected an evaluation dict "
            f"with {', '.join(REQUIRED_RESULTS)}"
        )
    for key in ("mean_reward", "std_reward"):
        try:
            float(results[key])
        except (TypeError, ValueError) as exc:
            raise HubExportError(f"results[{key!r}] is not a number: {results[key]!r}") from exc


def course_hyperparameters(
    config_json: dict[str, Any], trained_episodes: int | None = None
) -> dict[str, Any]:
    """The course's hyperparameter dict for a run's ``config.json``, then our extra fields.

    Course keys: ``h_size`` (first hidden width), ``n_training_episodes``,
    ``n_evaluation_episodes``, ``max_t``, ``gamma``, ``lr``, ``env_id``, ``state_space``,
    ``action_space``. Extra keys: ``mode``, ``hidden_sizes``, ``seed``, ``library_version``, every
    field of the mode (all that changes training), and ``env_kwargs`` when set.

    ``n_training_episodes`` is ``trained_episodes`` when known (the run's results.json says how
    many episodes it trained); otherwise the budget of a mode that counts episodes, and None in
    fast mode, which trains for ``total_env_steps`` and finishes as many episodes as fit in them.
    """
    from ...config import TrainConfig

    try:
        config = TrainConfig.from_dict(config_json["config"])
        shape = list(config_json["observation_shape"])
        mode = config.mode
        budget = mode.budget if mode.progress_unit == "episodes" else None
        params: dict[str, Any] = {
            "h_size": int(config.hidden_sizes[0]),
            "n_training_episodes": budget if trained_episodes is None else int(trained_episodes),
            "n_evaluation_episodes": config.eval_episodes,
            "max_t": config.max_t,
            "gamma": config.gamma,
            "lr": config.lr,
            "env_id": config_json["env_id"],
            "state_space": shape[0] if len(shape) == 1 else shape,
            "action_space": int(config_json["n_actions"]),
            "mode": mode.name,
            "hidden_sizes": list(config.hidden_sizes),
            "seed": config.seed,
            "log_std_init": config.log_std_init,
            "cnn_channels": list(config.cnn_channels),
            "cnn_shared": config.cnn_shared,
            "cnn_downsample": config.cnn_downsample,
            "library_version": config_json.get("library_version"),
        }
    except (KeyError, TypeError, IndexError, ValueError) as exc:
        raise HubExportError(
            f"config.json is not a reinforcelab run config (missing or bad {exc})"
        ) from exc
    params.update(dataclasses.asdict(mode))
    if config.env_kwargs:
        params["env_kwargs"] = config.env_kwargs
    return params


def card_metadata(repo_id: str, env_id: str, mean: float, std: float) -> ModelCardData:
    """The card's front matter as a ``huggingface_hub.ModelCardData``: library, tags, and one
    ``model-index`` result (task ``reinforcement-learning``, dataset ``env_id``, metric
    ``mean_reward`` valued ``"<mean> +/- <std>"``, not verified), the convention RL publishers
    use."""
    # imported on use: it reads HF_* at import
    from huggingface_hub import EvalResult, ModelCardData

    # fmt: off
    result = EvalResult(  # the model-index gives task, dataset and metric a type and a name
        task_type=TASK, task_name=TASK,
        dataset_type=env_id, dataset_name=env_id,
        metric_type=METRIC, metric_name=METRIC,
        metric_value=f"{mean:.2f} +/- {std:.2f}",
        verified=False,
    )
    # fmt: on
    return ModelCardData(
        library_name=LIBRARY_NAME,
        tags=[env_id, *TAGS],
        model_name=repo_id.split("/")[-1],
        eval_results=[result],
    )


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=json_default)
    return text.replace("|", "\\|")


def torch_loading_snippet(repo_id: str, env_id: str, policy_spec: dict[str, Any]) -> str:
    """The card's usage code for an agent whose policy is the author's own torch module."""
    module, _, qualname = policy_spec["class"].partition(":")
    name = qualname.split(".")[0]
    if policy_spec.get("kwargs") is not None and module != "__main__":
        load = [
            f"from {module} import {name}  # the policy's class must be importable",
            f'agent = reinforcelab.load("{repo_id}")  '
            f"# rebuilds {qualname}(**{policy_spec['kwargs']})",
        ]
    else:
        load = [
            f"# define (or import) the policy class {qualname} as the author did, then:",
            f'agent = reinforcelab.load("{repo_id}", policy={name}(...))  '
            "# weights only, shapes checked",
        ]
    return _default_loading_snippet(repo_id, env_id, load)


def _default_loading_snippet(repo_id: str, env_id: str, load: list[str] | None = None) -> str:
    return "\n".join(
        [
            "import gymnasium as gym",
            "import reinforcelab  # also registers Pixelcopter-PLE-v0",
            "",
            *(
                load
                or [
                    f'agent = reinforcelab.load("{repo_id}")  '
                    f"# downloads the json files and {MODEL_FILE} only"
                ]
            ),
            f'env = gym.make("{env_id}", render_mode="human")',
            "obs, info = env.reset()",
            "done = False",
            "while not done:",
            "    action = agent.predict(obs)  "
            "# sampled; agent.predict(obs, deterministic=True) for the argmax",
            "    obs, reward, terminated, truncated, info = env.step(action)",
            "    done = terminated or truncated",
            "env.close()",
        ]
    )


def model_card(
    repo_id: str,
    config_json: dict[str, Any],
    results: dict[str, Any],
    video: str | None = None,
    endpoint: str | None = None,
    *,
    architecture: str | None = None,
    loading_snippet: str | None = None,
    trained_episodes: int | None = None,
) -> str:
    """The README.md of a Hub folder: YAML front matter, then a human-readable card.

    Args:
        repo_id: ``USER/NAME``; the model-index entry is named after ``NAME``.
        config_json: the run's config.json contents.
        results: the evaluation (``env_id``, ``mean_reward``, ``std_reward``,
            ``n_evaluation_episodes``, optionally ``deterministic``, ``seed``, ``eval_datetime``).
        video: file name of the replay inside the repo (e.g. ``replay.mp4``), or ``None``.
        endpoint: Hub URL used for the video link (default: ``resolve_endpoint()``).
        architecture: how a custom policy is built, shown verbatim (e.g. ``str(module)`` of a
            torch module). ``None`` describes the built-in MLP from the config.
        loading_snippet: Python code that loads and runs the agent, shown under *Usage*
            (default: ``reinforcelab.load`` and a Gymnasium loop).
    """
    check_results(results)
    env_id = config_json.get("env_id", results["env_id"])
    mean, std = float(results["mean_reward"]), float(results["std_reward"])
    params = course_hyperparameters(config_json, trained_episodes)
    n_eval = int(results["n_evaluation_episodes"])
    deterministic = bool(results.get("deterministic", False))
    shape = "x".join(str(d) for d in config_json["observation_shape"])
    widths = " -> ".join(str(h) for h in params["hidden_sizes"])
    if architecture is None and (config_json.get("policy") or {}).get("kind") == "gaussian":
        policy = (
            f"a Gaussian over the continuous actions: mean MLP {shape} -> {widths} -> "
            f"{params['action_space']} (Tanh), a learned log standard deviation per action "
            "dimension, both in units of the action range's half-width; samples are clipped to "
            "the bounds by the env."
        )
    elif architecture is None:
        policy = (
            f"MLP {shape} -> {widths} -> {params['action_space']}, ReLU after each hidden layer, "
            "a softmax over the discrete actions (a categorical distribution)."
        )
    else:
        policy = "a custom PyTorch module; its architecture is under *Policy architecture* below."
    from ...config import MODES

    mode_text = MODES[params["mode"]].summary
    front = card_metadata(repo_id, env_id, mean, std).to_yaml()
    actions = (
        "**deterministic** (the most probable action)"
        if deterministic
        else "**sampled** from the policy (not the argmax)"
    )
    when = f" Evaluated on {results['eval_datetime']}." if results.get("eval_datetime") else ""
    seed = results.get("seed")

    lines = [
        "---",
        front,
        "---",
        "",
        f"# REINFORCE agent playing {env_id}",
        "",
        f"A **REINFORCE** (Monte Carlo policy gradient) agent trained on **{env_id}** with "
        f"`{LIBRARY_NAME}`, following Unit 4 of the [Hugging Face Deep RL course]({COURSE_URL}).",
        "",
        f"- Policy: {policy}",
        f"- Training mode: {mode_text}.",
        f"- Files: `{MODEL_FILE}` (weights only, no pickle), `{CONFIG_FILE}` (architecture, "
        f"hyperparameters, seed), `{HYPERPARAMETERS_FILE}` (the course's dict), `{RESULTS_FILE}`.",
        "",
        "## Evaluation",
        "",
        "| metric | value |",
        "|---|---|",
        f"| mean reward | {mean:.2f} |",
        f"| std reward (population) | {std:.2f} |",
        f"| mean - std (the course's score) | {mean - std:.2f} |",
        f"| evaluation episodes | {n_eval} |",
        "",
        f"Protocol: {n_eval} episodes of `{env_id}` with actions {actions}, each episode capped at "
        f"max_t = {params['max_t']} steps; the score is the mean and the population standard "
        f"deviation (ddof=0) of the episode returns. Seed: {'none' if seed is None else seed}."
        f"{when}",
        "",
        "## Usage",
        "",
        "With reinforcelab installed, watch the agent play:",
        "",
        "```bash",
        f"reinforcelab enjoy {repo_id}",
        "```",
        "",
        "or use it from Python:",
        "",
        "```python",
        (loading_snippet or _default_loading_snippet(repo_id, env_id)).rstrip("\n"),
        "```",
        "",
    ]
    if architecture is not None:
        lines += ["## Policy architecture", "", "```text", architecture.rstrip("\n"), "```", ""]
    lines += [
        "## Hyperparameters",
        "",
        "| name | value |",
        "|---|---|",
        *(f"| {name} | {_cell(value)} |" for name, value in params.items()),
    ]
    if video:
        url = f"{resolve_endpoint(endpoint)}/{repo_id}/resolve/main/{video}"
        lines += ["", "## Replay", "", f'<video controls autoplay loop muted src="{url}"></video>']
    return "\n".join(lines) + "\n"
