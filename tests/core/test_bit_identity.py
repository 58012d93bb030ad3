"""The built-in MLP's results do not change with the code around it: for every preset (and the fast
options that touch the update), the weights after a short seeded training hash to the same digest.

The digests were recorded on this project's CPU machines (CI runs on the same kinds); any change to
them means results changed and must be explained. Another BLAS kernel or CPU legitimately differs in
the last bits of the products, so digests are kept per kind of machine (``machine()``): record a
new kind's with ``python tests/core/test_bit_identity.py`` on the code of the recorded rows.
"""

import hashlib
import sys

import numpy as np
import pytest

import reinforcelab

CASES = {
    "course-cartpole": dict(preset="course-cartpole", seed=0, n_episodes=60),
    "course-pixelcopter": dict(preset="course-pixelcopter", seed=1, n_episodes=30),
    "fast-cartpole": dict(preset="fast-cartpole", seed=2, total_env_steps=60_000),
    # the preset's settings before its re-tune (issue 13): a constant learning rate of 3e-3
    "fast-pixelcopter, constant lr": dict(
        preset="fast-pixelcopter",
        seed=3,
        num_envs=32,
        total_env_steps=40_000,
        lr=3e-3,
        lr_schedule="constant",
    ),
    "fast-pixelcopter": dict(
        preset="fast-pixelcopter", seed=3, num_envs=32, total_env_steps=40_000
    ),
    "fast, episode norm + entropy + clipping": dict(
        preset="fast-cartpole",
        seed=4,
        total_env_steps=40_000,
        return_norm="episode",
        entropy_coef=0.01,
        max_grad_norm=0.5,
        episodes_per_env=2,
        rollout_max_t=60,
    ),
    "fast, value baseline + bootstrap + obs norm": dict(
        preset="fast-cartpole",
        seed=5,
        total_env_steps=40_000,
        baseline="value",
        truncation="bootstrap",
        normalize_obs=True,
        rollout_max_t=100,
        hidden_sizes=(8, 8),
    ),
}

# The digests per kind of machine (see machine()). The last bits of a product depend on the BLAS
# kernel OpenBLAS picks for the CPU (fast mode's numpy engine) and on torch's CPU kernels (course
# mode), so each kind has its own. Both rows were recorded from reinforcelab 0.1.0 (094cba1).
# On the AMD machine, OPENBLAS_CORETYPE=SkylakeX reproduces the Intel row's fast-mode digests.
DIGESTS = {
    "openblas SkylakeX, torch AVX512, GenuineIntel": {
        "course-cartpole": "02ac3d9beac502b7",
        "course-pixelcopter": "01af503b878a6e7f",
        "fast-cartpole": "10c35e3d2cce9e54",
        "fast-pixelcopter, constant lr": "954bf68fbbb8015b",
        "fast-pixelcopter": "03d609e9812978f8",
        "fast, episode norm + entropy + clipping": "7d06c7d36494520b",
        "fast, value baseline + bootstrap + obs norm": "e117b97bf4dafdd9",
    },
    "openblas Haswell, torch AVX512, AuthenticAMD": {
        "course-cartpole": "2824dbac66a6a922",
        "course-pixelcopter": "c477db97ba2202e0",
        "fast-cartpole": "6d98224d069d1690",
        "fast-pixelcopter, constant lr": "3d56ea34eb792fb4",
        "fast-pixelcopter": "714392122ece7e44",
        "fast, episode norm + entropy + clipping": "b5d1cf817a5ef1f2",
        "fast, value baseline + bootstrap + obs norm": "5924663dd078bb7a",
    },
}


def machine() -> str:
    """The kind of machine, as far as the digests depend on it: OpenBLAS's kernel, torch's CPU
    capability and the CPU vendor."""
    import torch
    from threadpoolctl import threadpool_info

    blas = next(
        (i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"),
        None,
    )
    vendor = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            vendor = next(
                line.split(":")[1].strip() for line in cpuinfo if line.startswith("vendor_id")
            )
    except (OSError, StopIteration):
        pass
    return f"openblas {blas}, torch {torch.backends.cpu.get_cpu_capability()}, {vendor}"


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
    kind = machine()
    if kind not in DIGESTS:
        pytest.skip(
            f"no digests recorded for this kind of machine ({kind}); "
            "record them from reinforcelab 0.1.0"
        )
    assert weights_digest(CASES[name]) == DIGESTS[kind][name]


if __name__ == "__main__":  # print the digests of this machine
    print(machine())
    for name, options in CASES.items():
        print(f"{name}: {weights_digest(options)}", file=sys.stdout)
