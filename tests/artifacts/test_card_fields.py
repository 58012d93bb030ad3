"""Every config field that changes training is published, with its value, in hyperparameters.json
and in the model card's table: the common fields and every field of the run's mode (a new field
cannot be left out)."""

import json
import re

import pytest

from reinforcelab.artifacts.hub.card import course_hyperparameters, model_card
from reinforcelab.config import PRESETS, TrainConfig

#: fields the course's dict names its own way
COURSE_NAMES = {"eval_episodes": "n_evaluation_episodes"}

CONFIGS = {
    **PRESETS,
    # every fast-mode option away from its default
    "fast, all changed": TrainConfig.from_dict(
        {
            "mode": "fast",
            "env_id": "CartPole-v1",
            "hidden_sizes": [32, 8],
            "lr": 0.05,
            "gamma": 0.9,
            "max_t": 400,
            "eval_episodes": 7,
            "seed": 3,
            "env_kwargs": {"sutton_barto_reward": True},
            "num_envs": 16,
            "episodes_per_env": 2,
            "total_env_steps": 12_345,
            "return_norm": "episode",
            "baseline": "value",
            "value_lr": 0.02,
            "entropy_coef": 0.01,
            "max_grad_norm": 0.5,
            "normalize_obs": True,
            "truncation": "bootstrap",
            "rollout_max_t": 123,
            "lr_schedule": "linear",
            "vectorization": "sync",
        }
    ),
}


def card_table(card: str) -> dict[str, str]:
    """The card's Hyperparameters table, name -> cell text."""
    section = card.split("## Hyperparameters", 1)[1]
    rows = re.findall(r"^\| (.+?) \| (.*) \|$", section, re.M)
    return {name: value.replace("\\|", "|") for name, value in rows[1:] if name != "---"}


@pytest.mark.parametrize("name", CONFIGS)
def test_every_training_field_is_in_hyperparameters_json_and_the_card(name):
    config = CONFIGS[name]
    config_json = {
        "env_id": config.env_id,
        "observation_shape": [4],
        "n_actions": 2,
        "library_version": "0.1.0",
        "config": config.to_dict(),
    }
    results = {"env_id": config.env_id, "mean_reward": 1.0, "std_reward": 0.5}
    params = json.loads(json.dumps(course_hyperparameters(config_json)))  # as written to the file
    table = card_table(model_card("me/agent", config_json, {**results, "n_evaluation_episodes": 3}))
    for field, value in config.to_dict().items():
        if field == "env_kwargs" and not value:
            assert field not in params and field not in table  # nothing to publish
            continue
        key = COURSE_NAMES.get(field, field)
        assert key in params, f"{field} is not in hyperparameters.json"
        assert params[key] == value, field
        assert key in table, f"{field} is not in the card's table"
        assert table[key] == (value if isinstance(value, str) else json.dumps(value)), field
    for key in ("rollout_max_t", "lr_schedule", "vectorization"):  # the ones the issue names
        assert (key in table) == (config.mode.name == "fast")
