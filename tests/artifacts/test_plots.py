"""Learning-curve plots from synthetic run folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.image as mpimg

from reinforcelab.artifacts.plots import (
    PlotError,
    learning_curve_figure,
    plot_learning_curves,
    read_run_metrics,
    reward_threshold,
    rolling_mean,
)

HEADER = "episode,return,length,env_steps,wall_seconds\n"
PNG_SIZE = (600, 1080)  # 9 x 5 inches at 120 dpi, as (height, width)


def make_run(
    folder: Path, n: int = 150, seed: int = 0, mode: str = "course", env_id: str = "CartPole-v1"
) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lengths = np.clip(np.linspace(10, 400, n) + rng.normal(0, 30, n), 1, 500).astype(int)
    steps = np.cumsum(lengths)
    rows = [
        f"{i + 1},{length},{length},{s},{0.01 * i:.4f}\n"
        for i, (length, s) in enumerate(zip(lengths, steps))
    ]
    (folder / "metrics.csv").write_text(HEADER + "".join(rows))
    config = {"env_id": env_id, "mode": mode, "seed": seed, "max_t": 1000}
    (folder / "config.json").write_text(
        json.dumps(
            {"format": "reinforcelab-run", "format_version": 1, "env_id": env_id, "config": config}
        )
    )
    return folder


def assert_png(path: Path) -> None:
    assert path.is_file()
    image = mpimg.imread(path)
    assert image.shape[:2] == PNG_SIZE
    assert image.std() > 0.05  # something was drawn
    assert [
        p.name for p in path.parent.iterdir() if p.name.startswith(".")
    ] == []  # no temp file left


def test_rolling_mean_by_hand():
    values = [1, 2, 3, 4, 10]
    np.testing.assert_allclose(rolling_mean(values, 3), [1, 1.5, 2, 3, 17 / 3])
    np.testing.assert_allclose(rolling_mean(values, 1), values)
    np.testing.assert_allclose(rolling_mean(values, 100), [1, 1.5, 2, 2.5, 4])
    assert rolling_mean([], 5).shape == (0,)
    with pytest.raises(PlotError):
        rolling_mean(values, 0)


def test_read_run_metrics(tmp_path):
    run = read_run_metrics(make_run(tmp_path / "r", n=20, seed=4))
    assert run.env_id == "CartPole-v1" and run.mode == "course" and run.seed == 4
    assert run.episodes.tolist() == list(range(1, 21))
    assert run.env_steps[-1] == run.lengths.sum()


def test_one_run(tmp_path):
    out = plot_learning_curves(make_run(tmp_path / "r"), tmp_path / "plots" / "curve.png")
    assert out == tmp_path / "plots" / "curve.png"
    assert_png(out)


def test_several_runs_unequal_lengths_and_env_steps(tmp_path):
    runs = [make_run(tmp_path / f"r{s}", n=120 + 10 * s, seed=s) for s in range(3)]
    assert_png(plot_learning_curves(runs, tmp_path / "many.png", window=10))
    assert_png(plot_learning_curves(runs, tmp_path / "steps.png", x="env_steps", title="custom"))


def test_modes_are_separate_curves(tmp_path):
    runs = [
        make_run(tmp_path / "c0", seed=0),
        make_run(tmp_path / "c1", seed=1),
        make_run(tmp_path / "f0", n=400, seed=0, mode="fast"),
    ]
    assert_png(plot_learning_curves(runs, tmp_path / "mixed.png", x="env_steps"))


def test_reward_threshold():
    assert reward_threshold("CartPole-v1") == 475.0
    assert reward_threshold("NoSuchEnv-v0") is None
    assert reward_threshold(None) is None


def test_missing_folder_or_metrics(tmp_path):
    with pytest.raises(PlotError, match="not a folder"):
        plot_learning_curves([tmp_path / "nope"], tmp_path / "x.png")
    (tmp_path / "bare").mkdir()
    with pytest.raises(PlotError, match=r"no metrics\.csv"):
        plot_learning_curves([tmp_path / "bare"], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("content", ["", HEADER])
def test_empty_metrics(tmp_path, content):
    run = make_run(tmp_path / "r")
    (run / "metrics.csv").write_text(content)
    with pytest.raises(PlotError, match=r"empty|no episodes"):
        plot_learning_curves([run], tmp_path / "x.png")


def test_bad_arguments(tmp_path):
    run = make_run(tmp_path / "r")
    with pytest.raises(PlotError, match="no run folders"):
        plot_learning_curves([], tmp_path / "x.png")
    with pytest.raises(PlotError, match="x must be"):
        plot_learning_curves([run], tmp_path / "x.png", x="time")
    other = make_run(tmp_path / "o", env_id="Acrobot-v1")
    with pytest.raises(PlotError, match="different envs"):
        plot_learning_curves([run, other], tmp_path / "x.png")
    with pytest.raises(PlotError, match=r"\.png"):
        plot_learning_curves([run], tmp_path / "x.docx")


def test_long_runs_are_binned_and_thinned(tmp_path, monkeypatch):
    from reinforcelab.artifacts import plots

    monkeypatch.setattr(plots, "MAX_POINTS", 50)  # as if the run had 100k episodes
    runs = [make_run(tmp_path / f"r{s}", n=300, seed=s) for s in range(2)]
    assert_png(plot_learning_curves(runs[0], tmp_path / "one.png", x="env_steps"))
    assert_png(plot_learning_curves(runs, tmp_path / "two.png"))
    x, low, high = plots._binned_spread(np.arange(1, 8), np.arange(7.0), per_bin=3)
    assert (
        x.tolist() == [3, 6, 7]
        and low.tolist() == [0.2, 3.2, 6.0]
        and high.tolist() == [1.8, 4.8, 6.0]
    )


def write_metrics(folder: Path, env_steps: list[int], returns: list[float]) -> Path:
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"env_id": "CartPole-v1", "config": {"mode": "fast", "seed": 0}})
    )
    rows = ["episode,return,length,env_steps,wall_seconds"]
    rows += [f"{i + 1},{r},{int(r)},{s},0" for i, (s, r) in enumerate(zip(env_steps, returns))]
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_plot_of_several_runs_shows_each_run_to_its_end(tmp_path):
    short = write_metrics(tmp_path / "a", list(range(100, 10_100, 100)), [400.0] * 100)
    long = write_metrics(tmp_path / "b", list(range(100, 30_100, 100)), [500.0] * 300)
    fig = learning_curve_figure([short, long], window=10, x="env_steps")
    ends = {float(line.get_xdata()[-1]) for line in fig.axes[0].get_lines()}
    assert {10_000.0, 30_000.0} <= ends
    last_points = {
        float(line.get_xdata()[-1]): float(line.get_ydata()[-1]) for line in fig.axes[0].get_lines()
    }
    assert last_points[30_000.0] == 500.0
