#!/usr/bin/env python
"""Run the Unit 4 notebook top to bottom and write an HTML copy to read without Jupyter.

    .venv/bin/python scripts/render_notebook.py                  # full budgets (a few minutes)
    .venv/bin/python scripts/render_notebook.py --quick          # the test suite's tiny budgets
    .venv/bin/python scripts/render_notebook.py --out build/unit4.html --workdir build/unit4

Needs the ``notebook`` extra (``pip install -e ".[notebook]"``). The notebook runs in ``--workdir``
(videos, run and Hub folders land there), offline (``HF_HUB_OFFLINE=1``) unless ``PUSH_TO_HUB`` is
edited in the notebook itself. The videos are embedded in the HTML. The notebook in the repository
stays without outputs. The test suite imports ``execute`` from here, so both run it the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "unit4_reinforce.ipynb"
KERNEL_NAME = "reinforcelab-python"


def kernel_env(quick: bool) -> dict[str, str]:
    """Environment variables for the kernel: offline Hub, headless rendering, the budget switch."""
    return {
        "REINFORCELAB_NOTEBOOK_QUICK": "1" if quick else "0",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "SDL_VIDEODRIVER": "dummy",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }


def _write_kernelspec(folder: Path) -> None:
    # A kernel that runs this very interpreter: the ``python3`` spec that ipykernel installs starts
    # whatever ``python`` is first on PATH, which need not be the one with reinforcelab installed.
    spec = folder / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (reinforcelab)",
                "language": "python",
            }
        )
    )


def execute(workdir: str | Path, quick: bool, notebook: str | Path = NOTEBOOK, timeout: int = 900):
    """Run ``notebook`` in ``workdir`` and return the executed notebook (nbformat node).

    Raises nbclient's CellExecutionError, naming the cell, if any cell fails."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(str(notebook), as_version=4)
    saved = {name: os.environ.get(name) for name in [*kernel_env(quick), "JUPYTER_PATH"]}
    with tempfile.TemporaryDirectory(prefix="reinforcelab-kernel-") as jupyter_path:
        _write_kernelspec(Path(jupyter_path))
        os.environ.update(kernel_env(quick), JUPYTER_PATH=jupyter_path)  # the kernel inherits them
        try:
            NotebookClient(
                nb,
                timeout=timeout,
                kernel_name=KERNEL_NAME,
                resources={"metadata": {"path": str(workdir)}},
            ).execute()
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    return nb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny budgets (what the test suite runs)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "build" / "unit4_reinforce.html",
        help="HTML file to write",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=ROOT / "build" / "unit4_reinforce",
        help="where the notebook runs and leaves its videos, runs and Hub folders",
    )
    args = parser.parse_args()

    try:
        from nbconvert import HTMLExporter
    except ImportError:
        print(
            "error: rendering needs nbconvert, from the notebook extra: "
            'pip install -e ".[notebook]"',
            file=sys.stderr,
        )
        sys.exit(2)

    args.workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    nb = execute(args.workdir, args.quick)
    html, _ = HTMLExporter().from_notebook_node(nb)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(html, encoding="utf-8")
    print(
        f"ran {NOTEBOOK.name} in {time.perf_counter() - start:.0f} s; wrote {args.out} "
        f"({args.out.stat().st_size / 1e6:.1f} MB)"
    )


if __name__ == "__main__":
    main()
