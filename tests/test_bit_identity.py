"""The built-in MLP's results do not change with the code around it: for every preset (and the fast
options that touch the update), the weights after a short seeded training hash to the same digest.

The digests were recorded on this project's CPU machines (CI runs on the same kind) right before
the policy interface was introduced (the re-tuned ``fast-pixelcopter``'s when its preset changed;
its old settings keep their digest); any change to them means results changed and must be
explained. A different BLAS or CPU may legitimately differ in the last bits of Pixelcopter's wider
products: re-record them there with ``python tests/test_bit_identity.py``.
"""

import hashlib
import sys

import numpy as np
import pytest

import reinforcelab

CASES = {
    "course-cartpole": (dict(preset="course-cartpole", seed=0, n_episodes=60), "02ac3d9beac502b7"),
    "course-pixelcopter": (dict(preset="course-pixelcopter", seed=1, n_episodes=30), "01af503b878a6e7f"),
    "fast-cartpole": (dict(preset="fast-cartpole", seed=2, total_env_steps=60_000), "10c35e3d2cce9e54"),
    # the preset's settings before its re-tune (issue 13): a constant learning rate of 3e-3
    "fast-pixelcopter, constant lr": (
        dict(preset="fast-pixelcopter", seed=3, num_envs=32, total_env_steps=40_000, lr=3e-3,
             lr_schedule="constant"), "954bf68fbbb8015b"),
    "fast-pixelcopter": (dict(preset="fast-pixelcopter", seed=3, num_envs=32, total_env_steps=40_000),
                         "03d609e9812978f8"),
    "fast, episode norm + entropy + clipping": (
        dict(preset="fast-cartpole", seed=4, total_env_steps=40_000, return_norm="episode", entropy_coef=0.01,
             max_grad_norm=0.5, episodes_per_env=2, rollout_max_t=60), "7d06c7d36494520b"),
    "fast, value baseline + bootstrap + obs norm": (
        dict(preset="fast-cartpole", seed=5, total_env_steps=40_000, baseline="value", truncation="bootstrap",
             normalize_obs=True, rollout_max_t=100, hidden_sizes=(8, 8)), "e117b97bf4dafdd9"),
}


def weights_digest(options: dict) -> str:
    options = dict(options)
    agent = reinforcelab.Reinforce(preset=options.pop("preset"), device="cpu", **options)
    agent.learn()
    digest = hashlib.sha256()
    for name, array in sorted(agent.weights().items()):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("name", list(CASES))
def test_built_in_mlp_weights_are_bit_identical(name):
    options, expected = CASES[name]
    assert weights_digest(options) == expected


if __name__ == "__main__":  # print the digests of this machine
    for name, (options, _) in CASES.items():
        print(f"{name}: {weights_digest(options)}", file=sys.stdout)
