"""The Unit 4 notebook runs top to bottom (tiny budgets, offline) and is committed without
outputs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "unit4_reinforce.ipynb"


def load_render_script():
    spec = importlib.util.spec_from_file_location(
        "render_notebook", ROOT / "scripts" / "render_notebook.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [c for c in code if c.outputs or c.execution_count is not None] == []
    parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(parameters) == 1 and "REINFORCELAB_NOTEBOOK_QUICK" in parameters[0].source
    assert "PUSH_TO_HUB = False" in parameters[0].source  # dry run unless the reader flips it


def outputs(nb, kind: str) -> list:
    return [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})
    ]


def test_notebook_runs_top_to_bottom(tmp_path):
    nb = load_render_script().execute(
        tmp_path, quick=True, timeout=300
    )  # a failing cell raises here

    assert len(outputs(nb, "image/png")) >= 7  # explanatory plots, learning curves, evaluations
    videos = [o for o in outputs(nb, "text/html") if "<video" in o["data"]["text/html"]]
    assert len(videos) == 2  # CartPole and Pixelcopter replays, embedded
    table = outputs(nb, "text/markdown")[-1]["data"]["text/markdown"]
    assert table.count("\n| ") == 4 and "fast-pixelcopter" in table  # one row per agent
    printed = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    for method in ("no baseline", "leave-one-out (RLOO)", "GRPO (group mean and std)"):
        assert f"{method} " in printed  # section 6 trained and evaluated each method

    for name in ("cartpole", "pixelcopter"):  # the dry-run Hub folders, with no pickle
        folder = tmp_path / "hub" / name
        assert {"model.safetensors", "README.md", "results.json", "replay.mp4"} <= {
            p.name for p in folder.iterdir()
        }
        assert not [p for p in folder.iterdir() if p.suffix in (".pt", ".pkl", ".pth", ".bin")]
        manifest = json.loads((tmp_path / "hub" / f"{name}-manifest.json").read_text())
        assert manifest["dry_run"] is True
    assert (tmp_path / "videos" / "cartpole-course.mp4").stat().st_size > 0
