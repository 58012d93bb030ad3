"""Hub artefacts: export (card, files, manifest), push and download against the loopback server,
pickle refusal, failure messages, and the network guard."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard, metadata_load
from safetensors.numpy import save_file

from reinforcelab.artifacts.hub import (
    HUB_FILES,
    HubDownloadError,
    HubExportError,
    HubUploadError,
    PickleDownloadWarning,
    PickleRefusedError,
    course_hyperparameters,
    download_agent,
    find_pickles,
    is_hub_repo_id,
    upload,
    write_hub_folder,
    write_manifest,
)
from reinforcelab.config import PRESETS, TrainConfig
from reinforcelab.publish import publish_run

REPO = "learner/Reinforce-CartPole-v1"
AGENT_FILES = {"config.json", "hyperparameters.json", "results.json", "model.safetensors"}
PICKLE = (
    b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s."  # pickle of {"a": 1}
)


def make_run(
    root: Path, config: TrainConfig | None = None, obs_dim: int = 4, n_actions: int = 2
) -> Path:
    """A run folder per the contract: config.json, model.safetensors, metrics.csv, results.json."""
    config = config or PRESETS["course-cartpole"].replace(seed=0)
    run = root / "run"
    run.mkdir(parents=True)
    config_json = {
        "format": "reinforcelab-run",
        "format_version": 1,
        "library_version": "0.1.0",
        "env_id": config.env_id,
        "observation_shape": [obs_dim],
        "n_actions": n_actions,
        "config": config.to_dict(),
    }
    (run / "config.json").write_text(json.dumps(config_json, indent=2) + "\n")
    rng = np.random.default_rng(0)
    save_file(
        {
            "policy.net.0.weight": rng.standard_normal((config.hidden_sizes[0], obs_dim)).astype(
                np.float32
            ),
            "policy.net.0.bias": np.zeros(config.hidden_sizes[0], np.float32),
        },
        str(run / "model.safetensors"),
        metadata={"format": "reinforcelab", "format_version": "1"},
    )
    (run / "metrics.csv").write_text("episode,return\n1,10.0\n")
    (run / "results.json").write_text(json.dumps(results_for(config.env_id)))
    return run


def results_for(env_id: str = "CartPole-v1", deterministic: bool = False) -> dict:
    returns = [500.0, 487.0, 474.69, 500.0, 475.7766]
    return {
        "env_id": env_id,
        "mean_reward": float(np.mean(returns)),
        "std_reward": float(np.std(returns)),
        "n_evaluation_episodes": len(returns),
        "returns": returns,
        "lengths": [500] * 5,
        "deterministic": deterministic,
        "seed": 0,
        "eval_datetime": "2025-01-02T03:04:05+00:00",
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run(tmp_path):
    return make_run(tmp_path)


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 160)  # ~40 KB, mp4-ish
    return path


@pytest.fixture
def hub_folder(run, tmp_path, video):
    out = tmp_path / "hub"
    write_hub_folder(run, out, results_for(), REPO, video=video)
    return out


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- export
def test_export_writes_exactly_the_hub_files(run, tmp_path):
    out = tmp_path / "hub"
    written = write_hub_folder(run, out, results_for(), REPO)
    assert written == sorted(out / n for n in AGENT_FILES | {"README.md"})
    assert {p.name for p in out.iterdir()} == AGENT_FILES | {"README.md"}
    assert (out / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()
    assert (out / "config.json").read_bytes() == (run / "config.json").read_bytes()
    results = json.loads((out / "results.json").read_text())
    assert results["mean_reward"] == results_for()["mean_reward"]
    assert results["std_reward"] == results_for()["std_reward"]
    assert not find_pickles(out)
    assert not [
        p for p in tmp_path.iterdir() if p.name.startswith(".hub")
    ]  # no staging left behind


def test_card_front_matter_follows_the_convention(hub_folder):
    meta = metadata_load(hub_folder / "README.md")
    results = results_for()
    assert meta["library_name"] == "reinforcelab"
    assert meta["tags"] == [
        "CartPole-v1",
        "reinforce",
        "reinforcement-learning",
        "deep-reinforcement-learning",
        "custom-implementation",
        "deep-rl-class",
    ]
    (entry,) = meta["model-index"]
    assert entry["name"] == "Reinforce-CartPole-v1"
    (result,) = entry["results"]
    assert result["task"] == {"type": "reinforcement-learning", "name": "reinforcement-learning"}
    assert result["dataset"] == {"name": "CartPole-v1", "type": "CartPole-v1"}
    (metric,) = result["metrics"]
    assert metric == {
        "type": "mean_reward",
        "name": "mean_reward",
        "verified": False,
        "value": f"{results['mean_reward']:.2f} +/- {results['std_reward']:.2f}",
    }
    assert metric["value"] == "487.49 +/- 11.08"


def test_front_matter_reads_back_as_exactly_the_convention(hub_folder):
    expected = {
        "library_name": "reinforcelab",
        "tags": [
            "CartPole-v1",
            "reinforce",
            "reinforcement-learning",
            "deep-reinforcement-learning",
            "custom-implementation",
            "deep-rl-class",
        ],
        "model-index": [
            {
                "name": "Reinforce-CartPole-v1",
                "results": [
                    {
                        "task": {
                            "type": "reinforcement-learning",
                            "name": "reinforcement-learning",
                        },
                        "dataset": {"name": "CartPole-v1", "type": "CartPole-v1"},
                        "metrics": [
                            {
                                "type": "mean_reward",
                                "value": "487.49 +/- 11.08",
                                "name": "mean_reward",
                                "verified": False,
                            }
                        ],
                    }
                ],
            }
        ],
    }
    assert metadata_load(hub_folder / "README.md") == expected
    card = ModelCard.load(hub_folder / "README.md")  # huggingface_hub parses it into its own types
    assert card.data.to_dict() == expected
    (result,) = card.data.eval_results
    assert (
        result.task_type,
        result.dataset_type,
        result.metric_type,
        result.metric_value,
        result.verified,
    ) == ("reinforcement-learning", "CartPole-v1", "mean_reward", "487.49 +/- 11.08", False)


def test_card_shows_a_custom_architecture_and_loading_snippet(run, hub_folder, tmp_path):
    default = (hub_folder / "README.md").read_text()
    assert "- Policy: MLP 4 -> 16 -> 2, ReLU after each hidden layer" in default
    assert "Policy architecture" not in default

    architecture = (
        "Policy(\n  (fc1): Linear(in_features=4, out_features=16, bias=True)\n"
        "  (fc2): Linear(in_features=16, out_features=2, bias=True)\n)"
    )
    snippet = (
        'import reinforcelab\n\nagent = reinforcelab.load("learner/x", policy=Policy(4, 2, 16))\n'
    )
    out = tmp_path / "custom"
    write_hub_folder(
        run, out, results_for(), REPO, architecture=architecture, loading_snippet=snippet
    )
    card = (out / "README.md").read_text()
    assert f"## Policy architecture\n\n```text\n{architecture}\n```" in card
    assert f"```python\n{snippet}```" in card and "MLP 4 -> 16" not in card
    assert "agent.predict(obs)" not in card  # the default snippet is replaced, not appended to
    assert metadata_load(out / "README.md") == metadata_load(hub_folder / "README.md")


def test_card_body_usage_protocol_hyperparameters_video(hub_folder, run, tmp_path):
    card = (hub_folder / "README.md").read_text()
    assert f'reinforcelab.load("{REPO}")' in card and "agent.predict(obs)" in card
    assert f"reinforcelab enjoy {REPO}" in card
    assert "5 episodes" in card and "**sampled**" in card and "max_t = 1000" in card
    assert "population standard deviation" in card
    assert "| h_size | 16 |" in card and "| lr | 0.01 |" in card and "| gamma | 1.0 |" in card
    assert f"https://huggingface.co/{REPO}/resolve/main/replay.mp4" in card
    assert (hub_folder / "replay.mp4").is_file()

    out = tmp_path / "greedy"
    write_hub_folder(run, out, results_for(deterministic=True), REPO)
    card = (out / "README.md").read_text()
    assert "**deterministic**" in card and "<video" not in card


def test_hyperparameters_are_the_course_dict_plus_ours(hub_folder, tmp_path):
    params = json.loads((hub_folder / "hyperparameters.json").read_text())
    course = [
        "h_size",
        "n_training_episodes",
        "n_evaluation_episodes",
        "max_t",
        "gamma",
        "lr",
        "env_id",
        "state_space",
        "action_space",
    ]
    assert list(params)[:9] == course
    assert [params[k] for k in course] == [16, 1000, 10, 1000, 1.0, 1e-2, "CartPole-v1", 4, 2]
    assert params["mode"] == "course" and params["hidden_sizes"] == [16] and params["seed"] == 0
    assert "num_envs" not in params

    copter = make_run(tmp_path / "copter", PRESETS["course-pixelcopter"], obs_dim=7)
    params = course_hyperparameters(json.loads((copter / "config.json").read_text()))
    assert (params["h_size"], params["hidden_sizes"], params["state_space"]) == (64, [64, 128], 7)
    assert (params["lr"], params["gamma"], params["max_t"], params["n_training_episodes"]) == (
        1e-4,
        0.99,
        10000,
        50000,
    )

    fast = make_run(tmp_path / "fast", TrainConfig.from_dict({"mode": "fast", "num_envs": 64}))
    params = course_hyperparameters(json.loads((fast / "config.json").read_text()))
    assert params["mode"] == "fast" and params["num_envs"] == 64 and "return_norm" in params


def test_export_never_clobbers_other_folders(run, tmp_path):
    out = tmp_path / "hub"
    write_hub_folder(run, out, results_for(), REPO)
    write_hub_folder(run, out, results_for(), REPO)  # identical contents: fine
    changed = {**results_for(), "mean_reward": 1.0}
    with pytest.raises(HubExportError, match="overwrite"):
        write_hub_folder(run, out, changed, REPO)
    write_hub_folder(run, out, changed, REPO, overwrite=True)
    assert json.loads((out / "results.json").read_text())["mean_reward"] == 1.0

    with pytest.raises(
        HubExportError, match="refusing"
    ):  # the run folder itself is not a Hub folder
        write_hub_folder(run, run, results_for(), REPO, overwrite=True)
    assert (run / "metrics.csv").is_file()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "todo.txt").write_text("keep me")
    with pytest.raises(HubExportError):
        write_hub_folder(run, other, results_for(), REPO, overwrite=True)
    assert (other / "todo.txt").read_text() == "keep me"


def test_export_rejects_bad_inputs(run, tmp_path):
    with pytest.raises(HubExportError, match="Pixelcopter"):
        write_hub_folder(run, tmp_path / "a", results_for("Pixelcopter-PLE-v0"), REPO)
    incomplete = {k: v for k, v in results_for().items() if k != "std_reward"}
    with pytest.raises(HubExportError, match="std_reward"):
        write_hub_folder(run, tmp_path / "b", incomplete, REPO)
    with pytest.raises(ValueError, match="USER/NAME"):
        write_hub_folder(run, tmp_path / "c", results_for(), "not a repo id")
    weights = (run / "model.safetensors").read_bytes()
    (run / "model.safetensors").write_bytes(
        weights[:-4]
    )  # truncated: the header promises more data
    with pytest.raises(HubExportError, match="not a safetensors file"):
        write_hub_folder(run, tmp_path / "d", results_for(), REPO)
    (run / "model.safetensors").write_bytes(PICKLE)  # a pickle wearing a safetensors name
    with pytest.raises(HubExportError, match="not a safetensors file"):
        write_hub_folder(run, tmp_path / "e", results_for(), REPO)
    assert not any((tmp_path / n).exists() for n in "abcde")


def test_manifest_lists_the_upload_and_lives_outside_it(hub_folder, tmp_path):
    manifest = write_manifest(
        hub_folder, tmp_path / "manifest.json", REPO, endpoint="http://127.0.0.1:9"
    )
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["repo_id"] == REPO and manifest["endpoint"] == "http://127.0.0.1:9"
    assert manifest["private"] is False and manifest["dry_run"] is True
    files = {p.name: p for p in hub_folder.iterdir()}
    assert [f["path"] for f in manifest["files"]] == sorted(files)
    for f in manifest["files"]:
        assert f["size"] == files[f["path"]].stat().st_size and f["sha256"] == sha256(
            files[f["path"]]
        )
    assert set(files) <= set(HUB_FILES)
    with pytest.raises(HubExportError, match="outside"):
        write_manifest(hub_folder, hub_folder / "manifest.json", REPO)
    assert not (hub_folder / "manifest.json").exists()


def test_is_hub_repo_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert is_hub_repo_id("learner/Reinforce-CartPole-v1")
    assert is_hub_repo_id("a_b/c.d-e")
    (tmp_path / "runs" / "cartpole").mkdir(parents=True)
    assert not is_hub_repo_id("runs/cartpole")  # an existing local path wins
    for s in (
        "runs/cartpole/",
        "./a/b",
        "../a",
        "a/b/c",
        "/abs/path",
        "name",
        "~/x",
        "a/-b",
        "a/b..c",
        "a//b",
        "",
    ):
        assert not is_hub_repo_id(s), s


# ----------------------------------------------------------------------------- push and download
@pytest.mark.parametrize("xet_pipeline", [True, False], ids=["upload-pipeline", "create-commit"])
def test_push_then_download_round_trip(hub_folder, hub_server, tmp_path, monkeypatch, xet_pipeline):
    import huggingface_hub.constants

    # upload_folder streams through hf_xet's pipeline when it is installed, else one create_commit
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", not xet_pipeline)
    url = upload(hub_folder, REPO, token="good", endpoint=hub_server.endpoint)
    assert url == f"{hub_server.endpoint}/{REPO}"
    remote = hub_server.files(REPO)
    local = {p.name: p.read_bytes() for p in hub_folder.iterdir()}
    assert {k: v for k, v in remote.items() if k != ".gitattributes"} == local

    commits = len(hub_server.repo(REPO).commits)
    upload(hub_folder, REPO, token="good", endpoint=hub_server.endpoint)  # unchanged: no new commit
    assert len(hub_server.repo(REPO).commits) == commits

    hub_server.add_files(REPO, {"model.pt": PICKLE, "extra/notes.txt": b"hi"})
    folder = download_agent(REPO, endpoint=hub_server.endpoint, cache_dir=tmp_path / "cache")
    assert {p.name for p in folder.iterdir()} == AGENT_FILES
    for name in AGENT_FILES:
        assert (folder / name).read_bytes() == local[name]
    downloaded = {path.rsplit("/", 1)[1] for _, path in hub_server.requests if "/resolve/" in path}
    assert downloaded == AGENT_FILES  # neither replay.mp4 nor model.pt was fetched


def test_downloaded_folder_loads_as_an_agent(tmp_path, hub_server):
    from reinforcelab import Reinforce

    agent = Reinforce(config=PRESETS["course-cartpole"].replace(seed=0))
    agent.save(tmp_path / "run")
    write_hub_folder(tmp_path / "run", tmp_path / "hub", results_for(), REPO)
    upload(tmp_path / "hub", REPO, token="good", endpoint=hub_server.endpoint)
    loaded = Reinforce.load(
        download_agent(REPO, endpoint=hub_server.endpoint, cache_dir=tmp_path / "cache")
    )
    obs = np.array([0.01, -0.02, 0.03, 0.04], np.float32)
    assert loaded.predict(obs, deterministic=True) == agent.predict(obs, deterministic=True)


def test_download_works_offline_from_the_cache(hub_folder, hub_server, tmp_path, monkeypatch):
    import huggingface_hub.constants

    upload(hub_folder, REPO, token="good", endpoint=hub_server.endpoint)
    first = download_agent(REPO, endpoint=hub_server.endpoint, cache_dir=tmp_path / "cache")
    endpoint = hub_server.endpoint
    hub_server.stop()  # the Hub is unreachable
    assert download_agent(REPO, endpoint=endpoint, cache_dir=tmp_path / "cache") == first
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # HF_HUB_OFFLINE=1
    assert download_agent(REPO, endpoint=endpoint, cache_dir=tmp_path / "cache") == first
    with pytest.raises(HubDownloadError) as err:  # nothing cached for another repo
        download_agent("learner/other", endpoint=endpoint, cache_dir=tmp_path / "cache")
    assert err.value.kind == "network"


def course_style_repo(hub_server) -> None:
    """What the course notebook pushes: a pickled model.pt next to json files, no safetensors."""
    hub_server.add_files(
        REPO,
        {
            "model.pt": PICKLE,
            "hyperparameters.json": b'{"h_size": 16}',
            "results.json": b'{"mean_reward": 500.0}',
            "replay.mp4": b"\x00" * 100,
        },
    )


def test_pickle_only_repo_is_refused(hub_server, tmp_path):
    course_style_repo(hub_server)
    with pytest.raises(PickleRefusedError) as err:
        download_agent(REPO, endpoint=hub_server.endpoint, cache_dir=tmp_path / "cache")
    message = str(err.value)
    for needle in (
        REPO,
        "model.pt",
        "pickle",
        "arbitrary code",
        "allow_pickle=True",
        "--allow-pickle",
    ):
        assert needle in message
    assert err.value.kind == "pickle_only"
    assert not any("/resolve/" in path for _, path in hub_server.requests)
    assert not list((tmp_path / "cache").rglob("model.pt"))


def test_pickle_opt_in_downloads_with_a_warning(hub_server, tmp_path):
    course_style_repo(hub_server)
    with pytest.warns(PickleDownloadWarning, match="arbitrary code"):
        folder = download_agent(
            REPO, endpoint=hub_server.endpoint, cache_dir=tmp_path / "cache", allow_pickle=True
        )
    assert {p.name for p in folder.iterdir()} == {
        "model.pt",
        "hyperparameters.json",
        "results.json",
    }
    assert find_pickles(folder) == [folder / "model.pt"]
    assert (folder / "model.pt").read_bytes() == PICKLE


def test_download_errors_name_repo_and_endpoint(hub_server, tmp_path):
    with pytest.raises(HubDownloadError) as err:
        download_agent(
            "learner/missing", endpoint=hub_server.endpoint, cache_dir=tmp_path / "cache"
        )
    assert err.value.kind == "not_found"
    assert "learner/missing" in str(err.value) and hub_server.endpoint in str(err.value)

    hub_server.add_files(REPO, {"notes.txt": b"no model here"})
    with pytest.raises(HubDownloadError, match="not a reinforcelab agent") as err:
        download_agent(REPO, endpoint=hub_server.endpoint, cache_dir=tmp_path / "cache")
    assert err.value.kind == "not_an_agent"

    dead = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(HubDownloadError) as err:
        download_agent(REPO, endpoint=dead, cache_dir=tmp_path / "cache")
    assert err.value.kind == "network" and dead in str(err.value) and REPO in str(err.value)


def test_private_repo_needs_a_token(hub_folder, hub_server, tmp_path):
    upload(hub_folder, REPO, token="good", endpoint=hub_server.endpoint, private=True)
    assert hub_server.repo(REPO).private
    with pytest.raises(HubDownloadError, match="private") as err:
        download_agent(REPO, endpoint=hub_server.endpoint, cache_dir=tmp_path / "cache")
    assert err.value.kind == "not_found"
    folder = download_agent(
        REPO, endpoint=hub_server.endpoint, token="good", cache_dir=tmp_path / "cache"
    )
    assert {p.name for p in folder.iterdir()} == AGENT_FILES


def test_upload_failure_keeps_the_folder_and_gives_the_retry_command(hub_folder, hub_server):
    before = {p.name: sha256(p) for p in hub_folder.iterdir()}
    hub_server.fail_on["commit"] = 422
    with pytest.raises(HubUploadError) as err:
        upload(hub_folder, REPO, token="good", endpoint=hub_server.endpoint)
    message = str(err.value)
    assert err.value.kind == "other" and "HTTP 422" in message
    assert f"The local folder is complete at {hub_folder.resolve()}" in message
    expected = (
        f"HF_ENDPOINT={hub_server.endpoint} hf upload {REPO} {hub_folder.resolve()} ."
        " --repo-type model"
    )
    assert expected in message and err.value.retry_command == expected
    assert {p.name: sha256(p) for p in hub_folder.iterdir()} == before

    custom = f"reinforcelab push {hub_folder} --repo-id {REPO}"
    with pytest.raises(HubUploadError, match="reinforcelab push"):
        upload(hub_folder, REPO, token="good", endpoint=hub_server.endpoint, retry_command=custom)

    del hub_server.fail_on["commit"]  # the retry goes through
    upload(hub_folder, REPO, token="good", endpoint=hub_server.endpoint)
    assert "model.safetensors" in hub_server.files(REPO)


@pytest.mark.parametrize("token,status", [("bad", 401), ("read-only", 403), (None, 401)])
def test_upload_auth_failure(hub_folder, hub_server, token, status):
    with pytest.raises(HubUploadError) as err:
        upload(hub_folder, REPO, token=token, endpoint=hub_server.endpoint, private=True)
    message = str(err.value)
    assert err.value.kind == "auth"
    assert f"HTTP {status}" in message and "token" in message and "hf auth login" in message
    assert str(hub_folder.resolve()) in message and message.rstrip().endswith("--private")
    assert hub_server.repo(REPO) is None


def test_upload_network_failure(hub_folder):
    dead = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(HubUploadError) as err:
        upload(hub_folder, REPO, token="good", endpoint=dead)
    assert err.value.kind == "network" and dead in str(err.value) and "hf upload" in str(err.value)


def test_upload_refuses_pickles(hub_folder, hub_server):
    (hub_folder / "model.pt").write_bytes(PICKLE)
    with pytest.raises(HubExportError, match="pickle"):
        upload(hub_folder, REPO, token="good", endpoint=hub_server.endpoint)
    assert hub_server.requests == []


# ----------------------------------------------------------------------------- publish_run (push)
@pytest.fixture
def agent_run(tmp_path):
    """A real (untrained) agent's run folder, which publish_run can load, evaluate and record."""
    from reinforcelab import Reinforce

    Reinforce(config=PRESETS["course-cartpole"].replace(seed=0)).save(tmp_path / "run")
    return tmp_path / "run"


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """Temporary folders go under the test's tmp_path, where a test can see what is left behind."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its bytes (None for folders)."""
    return {
        p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in folder.rglob("*")
    }


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_publish_dry_run_writes_folder_and_manifest_with_the_umask_modes(
    agent_run, tmp_path, own_tempdir, umask_022
):
    before = snapshot(agent_run)
    folder = tmp_path / "upload"
    result = publish_run(
        agent_run, REPO, eval_episodes=2, seed=0, dry_run=folder, endpoint="http://127.0.0.1:9"
    )
    assert result.dry_run and result.url is None
    assert result.folder == folder and result.manifest == tmp_path / "upload-manifest.json"
    assert (
        set(result.files)
        == {p.name for p in folder.iterdir()}
        == AGENT_FILES | {"README.md", "replay.mp4"}
    )
    manifest = json.loads(result.manifest.read_text())
    assert sorted(f["path"] for f in manifest["files"]) == sorted(result.files)
    results = json.loads((folder / "results.json").read_text())
    assert (
        results["n_evaluation_episodes"] == 2
        and results["mean_reward"] == result.evaluation.mean_reward
    )

    assert mode(folder) == 0o755  # not tempfile's 0700
    assert {p.name: mode(p) for p in folder.iterdir()} == {name: 0o644 for name in result.files}
    assert mode(result.manifest) == 0o644
    assert snapshot(agent_run) == before  # the run folder is only read
    assert list(own_tempdir.iterdir()) == []


def test_publish_uploads_and_leaves_nothing_behind(agent_run, hub_server, own_tempdir):
    before = snapshot(agent_run)
    result = publish_run(
        agent_run,
        REPO,
        token="good",
        endpoint=hub_server.endpoint,
        eval_episodes=2,
        seed=0,
        video=False,
    )
    assert result.url == f"{hub_server.endpoint}/{REPO}" and not result.dry_run
    assert result.folder is None and result.manifest is None
    remote = hub_server.files(REPO)
    assert set(remote) - {".gitattributes"} == set(result.files) == AGENT_FILES | {"README.md"}
    assert remote["model.safetensors"] == (agent_run / "model.safetensors").read_bytes()
    assert json.loads(remote["results.json"])["std_reward"] == result.evaluation.std_reward
    assert snapshot(agent_run) == before
    assert list(own_tempdir.iterdir()) == []  # the staged upload folder is gone


def test_failed_publish_stages_outside_the_run_and_its_retry_command_works(
    agent_run, hub_server, own_tempdir, tmp_path
):
    before = snapshot(agent_run)
    hub_server.fail_on["commit"] = 422
    with pytest.raises(HubUploadError) as err:
        publish_run(
            agent_run,
            REPO,
            token="good",
            endpoint=hub_server.endpoint,
            eval_episodes=2,
            seed=0,
            video=False,
        )
    assert snapshot(agent_run) == before  # no hub/ folder inside the run folder
    staged = err.value.folder
    assert own_tempdir in staged.parents
    assert {p.name for p in staged.iterdir()} == AGENT_FILES | {"README.md"}
    message = str(err.value)
    assert f"The local folder is complete at {staged}" in message and "temporary copy" in message
    assert f"Retry with:\n  {err.value.retry_command}\n" in message and "HTTP 422" in message
    assert "model.safetensors" not in (hub_server.files(REPO) if hub_server.repo(REPO) else {})

    del hub_server.fail_on["commit"]  # the Hub is fine again: run the retry command as printed
    bin_dir = Path(sys.executable).parent  # where the venv's `hf` lives
    env = {
        **os.environ,
        "HF_TOKEN": "good",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    done = subprocess.run(
        err.value.retry_command, shell=True, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    remote = {k: v for k, v in hub_server.files(REPO).items() if k != ".gitattributes"}
    assert remote == {p.name: p.read_bytes() for p in staged.iterdir()}


def test_publish_rejects_bad_arguments_before_doing_anything(agent_run, tmp_path, hub_server):
    with pytest.raises(ValueError, match="USER/NAME"):
        publish_run(agent_run, "no-slash", dry_run=tmp_path / "a")
    with pytest.raises(ValueError, match="eval_episodes"):
        publish_run(agent_run, REPO, eval_episodes=0, dry_run=tmp_path / "a")
    assert not (tmp_path / "a").exists() and hub_server.requests == []


# ----------------------------------------------------------------------------- network guard
def test_guard_blocks_non_loopback_before_sending(network_guard):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(ConnectionError, match="network guard"):
            s.connect(("10.255.255.1", 80))
        with pytest.raises(OSError):
            s.getpeername()  # never connected: nothing was sent
        with pytest.raises(ConnectionError, match="network guard"):
            s.connect_ex(("10.255.255.1", 80))
    with pytest.raises(ConnectionError, match="network guard"):
        socket.create_connection(("10.255.255.1", 80), timeout=1)
    with pytest.raises(ConnectionError, match="network guard"):
        socket.getaddrinfo("huggingface.co", 443)  # not even a DNS query
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(ConnectionError):
        s.sendto(b"x", ("10.255.255.1", 53))
    assert len(network_guard.take_attempts()) == 5


def test_guard_blocks_the_real_hub(network_guard, tmp_path):
    with pytest.raises(Exception) as err:
        HfApi().model_info("gpt2")  # default endpoint: https://huggingface.co
    assert "network guard" in repr(err.value) + repr(err.value.__cause__) + repr(
        err.value.__context__
    )
    assert any("huggingface.co" in a for a in network_guard.take_attempts())


def test_guard_allows_loopback(network_guard):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(("localhost", server.getsockname()[1]), timeout=1):
            pass
    assert network_guard.take_attempts() == []
