"""The user's path through the CLI's artefact commands, end to end on tiny budgets: train --record,
record, plot, push (dry run, loopback Hub, failure), enjoy from the Hub, course pickles, missing
repos.

One trained run folder is shared by the whole module; the push tests work on their own copy of it.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import HfApi, metadata_load
from torch import nn
from typer.testing import CliRunner

import reinforcelab
from reinforcelab.artifacts.hub import PickleDownloadWarning
from reinforcelab.cli import app
from reinforcelab.playback import record_replay

iio = pytest.importorskip("imageio.v3")

runner = CliRunner()
REPO = "user/cartpole"
HUB_FOLDER_FILES = {
    "model.safetensors",
    "config.json",
    "hyperparameters.json",
    "results.json",
    "README.md",
    "replay.mp4",
}
AGENT_FILES = {"model.safetensors", "config.json", "hyperparameters.json", "results.json"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def user_error(result) -> str:
    """A user error: exit code 2, one ``error:`` message, no traceback."""
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    return result.output


def mp4_frames(path) -> np.ndarray:
    return iio.imread(path, plugin="FFMPEG")


def copy_run(run, tmp_path):
    return shutil.copytree(run, tmp_path / "run")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two seeds of CartPole-v1 on tiny budgets; seed 0 with --record (and the default
    curve.png)."""
    root = tmp_path_factory.mktemp("runs")
    ok(
        invoke(
            "train",
            "CartPole-v1",
            "--seed",
            0,
            "--episodes",
            20,
            "--out",
            root / "s0",
            "--no-progress",
            "--record",
        )
    )
    ok(
        invoke(
            "train",
            "CartPole-v1",
            "--seed",
            1,
            "--episodes",
            10,
            "--out",
            root / "s1",
            "--no-progress",
            "--no-plot",
        )
    )
    return root / "s0", root / "s1"


@pytest.fixture
def run(runs):
    return runs[0]


@pytest.fixture(autouse=True)
def private_hub_cache(tmp_path, monkeypatch):
    """Each test downloads into its own cache: no snapshot of one loopback server leaks into
    another."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return tmp_path / "hf-cache"


# ----------------------------------------------------------------------------- train --record
def test_train_record_writes_replay_and_curve(run, tmp_path):
    frames = mp4_frames(run / "replay.mp4")
    # The replay is seeded by the run's seed: recording the saved agent again plays the same
    # episode.
    again = record_replay(reinforcelab.load(run), tmp_path / "again.mp4", seed=0)
    (steps,) = again["episode_steps"]
    assert 1 <= steps <= 500
    assert len(frames) == steps + 1 == again["frames"]
    assert frames.shape[1:] == (400, 600, 3)  # H x W: CartPole's 600x400 render, not rescaled
    assert tuple(again["size"]) == (600, 400)
    np.testing.assert_array_equal(frames[0], mp4_frames(tmp_path / "again.mp4")[0])

    assert (run / "curve.png").read_bytes()[:8] == PNG_SIGNATURE
    image = iio.imread(run / "curve.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0  # not a blank canvas


# ----------------------------------------------------------------------------- record
def test_record_step_cap_gives_steps_plus_one_frames(run, tmp_path):
    out = tmp_path / "x.mp4"
    output = ok(invoke("record", run, "--out", out, "--max-steps", 7, "--seed", 0))
    frames = mp4_frames(out)
    assert len(frames) == 8 and frames.shape[1:] == (400, 600, 3)
    assert "8 frames" in output and "600x400" in output
    assert [p.name for p in tmp_path.iterdir()] == ["x.mp4"]  # no partial file left behind


def test_record_gif(run, tmp_path):
    out = tmp_path / "x.gif"
    output = ok(invoke("record", run, "--out", out, "--max-steps", 7, "--seed", 0))
    assert out.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    frames = iio.imread(out, index=None)
    # Pillow may merge identical consecutive frames; the recording itself has 8.
    assert 2 <= len(frames) <= 8 and frames.shape[1:3] == (400, 600)
    assert "8 frames" in output


def test_record_unsupported_extension_is_one_clear_line(run, tmp_path):
    output = user_error(invoke("record", run, "--out", tmp_path / "x.avi"))
    assert "x.avi" in output and ".mp4" in output and ".gif" in output
    assert len(output.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_record_without_ffmpeg_gives_the_install_hint(run, tmp_path, monkeypatch):
    import imageio_ffmpeg

    def no_ffmpeg():
        raise RuntimeError("No ffmpeg exe could be found.")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_ffmpeg)
    output = user_error(invoke("record", run, "--out", tmp_path / "x.mp4", "--max-steps", 3))
    assert "pip install imageio imageio-ffmpeg" in output and "ffmpeg" in output
    assert not list(tmp_path.iterdir())  # neither the video nor a partial file


# ----------------------------------------------------------------------------- enjoy --record
def test_enjoy_record_films_the_printed_episodes(cartpole_run, tmp_path):
    video = tmp_path / "enjoy.mp4"
    result = invoke("enjoy", cartpole_run, "--episodes", 3, "--seed", 1, "--record", video)
    assert result.exit_code == 0, result.output
    lengths = [
        int(line.split(" in ")[1].split()[0])
        for line in result.output.splitlines()
        if line.startswith("episode ")
    ]
    frames = int(result.output.split("(")[-1].split()[0])
    assert len(lengths) == 3 and frames == sum(n + 1 for n in lengths)
    assert len(mp4_frames(video)) == frames


# ----------------------------------------------------------------------------- plot
def test_plot_two_seeds(runs, tmp_path):
    out = tmp_path / "c.png"
    output = ok(invoke("plot", *runs, "--out", out))
    assert "c.png" in output
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert iio.imread(out).ndim == 3


def test_plot_folder_without_metrics_is_a_clean_error(run, tmp_path):
    empty = tmp_path / "not-a-run"
    empty.mkdir()
    output = user_error(invoke("plot", run, empty, "--out", tmp_path / "c.png"))
    assert "metrics.csv" in output and "not-a-run" in output
    assert not (tmp_path / "c.png").exists()


# ----------------------------------------------------------------------------- push --dry-run
def test_push_dry_run_writes_the_hub_folder_and_a_manifest(run, tmp_path):
    run = copy_run(run, tmp_path)
    folder = tmp_path / "upload"
    output = ok(
        invoke(
            "push", run, "--repo-id", REPO, "--dry-run", folder, "--eval-episodes", 3, "--seed", 0
        )
    )
    assert "nothing uploaded" in output
    assert {p.name for p in folder.iterdir()} == HUB_FOLDER_FILES

    manifest_path = tmp_path / "upload-manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["dry_run"] is True and manifest["repo_id"] == REPO
    assert sorted(f["path"] for f in manifest["files"]) == sorted(HUB_FOLDER_FILES)
    assert not list(folder.rglob("*manifest*"))

    results = json.loads((folder / "results.json").read_text())
    assert results["env_id"] == "CartPole-v1" and results["n_evaluation_episodes"] == 3
    meta = metadata_load(folder / "README.md")
    assert meta is not None
    for tag in ("CartPole-v1", "reinforce", "deep-rl-class"):
        assert tag in meta["tags"]
    (metric,) = meta["model-index"][0]["results"][0]["metrics"]
    assert metric["value"] == f"{results['mean_reward']:.2f} +/- {results['std_reward']:.2f}"
    assert (folder / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()
    # The autouse network guard fails this test had anything tried to leave the machine.


def test_fast_run_hyperparameters_say_how_many_episodes_it_trained(cartpole_run, tmp_path):
    result = invoke(
        "push",
        cartpole_run,
        "--repo-id",
        "me/cp",
        "--dry-run",
        tmp_path / "hub",
        "--no-video",
        "--eval-episodes",
        3,
    )
    assert result.exit_code == 0, result.output
    trained = json.loads((cartpole_run / "results.json").read_text())["training"]["train_episodes"]
    hyperparameters = json.loads((tmp_path / "hub" / "hyperparameters.json").read_text())
    assert trained > 100 and hyperparameters["n_training_episodes"] == trained


# ------------------------------------------------------------------------- push to the loopback Hub
def test_push_then_load_and_enjoy_from_the_hub(
    run, tmp_path, hub_server, in_tmp, private_hub_cache
):
    local_run = copy_run(run, tmp_path)
    output = ok(
        invoke(
            "push",
            local_run,
            "--repo-id",
            REPO,
            "--endpoint",
            hub_server.endpoint,
            "--token",
            "good",
            "--eval-episodes",
            3,
            "--seed",
            0,
        )
    )
    assert f"{hub_server.endpoint}/{REPO}" in output
    assert set(hub_server.files(REPO)) >= HUB_FOLDER_FILES

    hub_server.requests.clear()
    remote = reinforcelab.load(REPO, endpoint=hub_server.endpoint)
    local = reinforcelab.load(run)
    assert remote.weights().keys() == local.weights().keys()
    for name, tensor in local.weights().items():
        assert np.array_equal(remote.weights()[name], tensor), name
    obs = np.random.default_rng(0).normal(scale=0.5, size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(
        remote.predict(obs, deterministic=True), local.predict(obs, deterministic=True)
    )

    fetched = {
        path.rsplit("/", 1)[1] for method, path in hub_server.requests if "/resolve/" in path
    }
    assert fetched == AGENT_FILES  # only json and safetensors: no replay.mp4, no README.md
    cached = {p.name for p in private_hub_cache.rglob("*") if p.parent.parent.name == "snapshots"}
    assert cached == AGENT_FILES

    output = ok(
        invoke("enjoy", REPO, "--endpoint", hub_server.endpoint, "--episodes", 2, "--seed", 0)
    )
    assert "episode 1:" in output and "episode 2:" in output and "episode 3:" not in output
    assert "CartPole-v1:" in output


@pytest.mark.parametrize("failure", ["bad-token", "commit-rejected"])
def test_failed_upload_keeps_the_local_folder_and_says_how_to_retry(
    run, tmp_path, hub_server, failure, monkeypatch
):
    run = copy_run(run, tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the staged upload folder lands here
    token = "bad" if failure == "bad-token" else "hf_write_token_for_tests"
    if failure == "commit-rejected":
        hub_server.fail_on["commit"] = 422
    output = user_error(
        invoke(
            "push",
            run,
            "--repo-id",
            REPO,
            "--endpoint",
            hub_server.endpoint,
            "--token",
            token,
            "--eval-episodes",
            2,
            "--seed",
            0,
        )
    )
    assert not (run / "hub").exists()  # a failed push leaves the run folder as it was
    hub = Path(re.search(r"The local folder is complete at (\S+);", output).group(1))
    assert tmp_path in hub.parents
    assert "Retry with:" in output and f"hf upload {REPO} {hub}" in output
    assert f"reinforcelab push {run} --repo-id {REPO} --endpoint {hub_server.endpoint}" in output
    assert ("HTTP 401" if failure == "bad-token" else "HTTP 422") in output
    assert "hf_write_token_for_tests" not in output  # the token is never echoed
    assert {p.name for p in hub.iterdir()} == HUB_FOLDER_FILES
    assert metadata_load(hub / "README.md")["tags"][0] == "CartPole-v1"
    repo = hub_server.repo(REPO)
    assert repo is None or "model.safetensors" not in hub_server.files(REPO)


# ----------------------------------------------------------------------------- course pickles
COURSE_HYPERPARAMETERS = {
    "env_id": "CartPole-v1",
    "h_size": 16,
    "n_training_episodes": 1000,
    "n_evaluation_episodes": 10,
    "max_t": 1000,
    "gamma": 1.0,
    "lr": 0.01,
    "state_space": 4,
    "action_space": 2,
}


class Policy(nn.Module):
    """The course notebook's policy, pickled as ``__main__.Policy`` like the notebook does."""

    def __init__(self, s_size: int = 4, a_size: int = 2, h_size: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(s_size, h_size)
        self.fc2 = nn.Linear(h_size, a_size)

    def forward(self, x):
        return torch.softmax(self.fc2(torch.relu(self.fc1(x))), dim=1)


Policy.__module__ = "__main__"
Policy.__qualname__ = "Policy"


@pytest.fixture
def course_repo(hub_server, tmp_path, monkeypatch):
    """A Hub repo as the course notebook pushes it: model.pt (a whole pickled module) and its
    dicts."""
    torch.manual_seed(0)
    policy = Policy()
    folder = tmp_path / "course-upload"
    folder.mkdir()
    buffer = io.BytesIO()
    with monkeypatch.context() as m:
        m.setattr(sys.modules["__main__"], "Policy", Policy, raising=False)
        torch.save(policy, buffer)
    (folder / "model.pt").write_bytes(buffer.getvalue())
    (folder / "hyperparameters.json").write_text(json.dumps(COURSE_HYPERPARAMETERS))
    (folder / "results.json").write_text(
        json.dumps({"env_id": "CartPole-v1", "mean_reward": 500.0, "std_reward": 0.0})
    )
    repo_id = "user/Reinforce-CartPole-v1-course"
    api = HfApi(endpoint=hub_server.endpoint, token="good")
    api.create_repo(repo_id)
    api.upload_folder(folder_path=str(folder), repo_id=repo_id)
    hub_server.requests.clear()
    return repo_id, policy


def test_course_pickle_needs_allow_pickle(course_repo, hub_server, in_tmp):
    repo_id, _ = course_repo
    output = user_error(
        invoke("enjoy", repo_id, "--endpoint", hub_server.endpoint, "--episodes", 1)
    )
    assert "--allow-pickle" in output and repo_id in output and "model.pt" in output
    assert not any(
        path.endswith("model.pt") for _, path in hub_server.requests if "/resolve/" in path
    )


def test_course_pickle_loads_with_allow_pickle(course_repo, hub_server, in_tmp):
    repo_id, policy = course_repo
    with pytest.warns(UserWarning) as caught:
        output = ok(
            invoke(
                "enjoy",
                repo_id,
                "--endpoint",
                hub_server.endpoint,
                "--episodes",
                2,
                "--seed",
                0,
                "--allow-pickle",
            )
        )
    assert "episode 2:" in output and "CartPole-v1:" in output
    assert any(isinstance(w.message, PickleDownloadWarning) for w in caught)  # the download ...
    assert any("unpickling model.pt" in str(w.message) for w in caught)  # ... and the unpickling
    assert {path.rsplit("/", 1)[1] for _, path in hub_server.requests if "/resolve/" in path} == {
        "model.pt",
        "hyperparameters.json",
        "results.json",
    }

    with pytest.warns(UserWarning, match="arbitrary code"):
        agent = reinforcelab.load(repo_id, endpoint=hub_server.endpoint, allow_pickle=True)
    assert agent.config.env_id == "CartPole-v1" and tuple(agent.config.hidden_sizes) == (16,)
    assert agent.config.max_t == 1000 and agent.config.lr == 0.01
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = policy.fc2(torch.relu(policy.fc1(x)))
    np.testing.assert_allclose(
        agent.actor().logits(x.numpy()), expected.numpy().T, rtol=1e-6, atol=1e-6
    )


# ----------------------------------------------------------------------------- missing repos
def test_enjoy_a_missing_repo_names_it(hub_server, in_tmp):
    output = user_error(invoke("enjoy", "user/no-such-agent", "--endpoint", hub_server.endpoint))
    assert "'user/no-such-agent'" in output and hub_server.endpoint in output


def test_record_a_missing_repo_names_it(hub_server, in_tmp, monkeypatch):
    # record has no --endpoint: HF_ENDPOINT points it at the Hub, as it does huggingface_hub.
    monkeypatch.setenv("HF_ENDPOINT", hub_server.endpoint)
    output = user_error(invoke("record", "user/no-such-agent", "--out", "r.mp4"))
    assert "'user/no-such-agent'" in output and hub_server.endpoint in output
    assert not (in_tmp / "r.mp4").exists()


def test_evaluate_a_missing_repo_names_it(hub_server, in_tmp, monkeypatch):
    # evaluate reads run folders only (it does not resolve Hub ids today); either way it must fail
    # cleanly and name what it was given.
    monkeypatch.setenv("HF_ENDPOINT", hub_server.endpoint)
    output = user_error(invoke("evaluate", "user/no-such-agent"))
    assert "user/no-such-agent" in output


@pytest.mark.parametrize("name", ["[exp]", "[/x]", "[bold]b"])
def test_error_messages_print_user_text_verbatim(name, in_tmp):
    # Paths are not rich markup: runs/[exp] must not turn into "runs/", and [/x] must not crash.
    output = user_error(invoke("evaluate", f"runs/{name}"))
    assert f"no such run folder: runs/{name}" in output
