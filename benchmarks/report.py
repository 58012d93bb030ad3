"""What a benchmark script reports: markdown lines printed as they come and, with ``--write PATH``,
saved into a docs page under a heading that says when, how and where they were measured.

A page collects its measurements newest first: a new run goes in above the earlier ones (the page's
title and introduction stay on top), so the figures of earlier days keep their dates and commands.

    report = Report("CartPole-v1 speed", args.write)
    report.header("method", "solved")
    report.row("fast mode", "10/10")
    report.save()
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path


def add_write_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--write",
        metavar="PATH",
        type=markdown_page,
        help="also save the tables in this markdown page (e.g. docs/benchmarks/NAME.md), above "
        "its earlier measurements, with the command, the machine and the date",
    )


def markdown_page(text: str) -> Path:
    """``--write``'s value, checked before a long run rather than after it."""
    path = Path(text)
    if path.suffix != ".md" or path.is_dir():
        raise argparse.ArgumentTypeError(f"expected a markdown file (NAME.md); got {text!r}")
    return path


class Report:
    """The lines of one benchmark run: each is printed at once and kept for ``save``."""

    def __init__(self, title: str, write: str | Path | None = None) -> None:
        self.title = title
        self.path = Path(write) if write else None
        self.lines: list[str] = []

    def line(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.extend(text.split("\n"))

    def header(self, *columns: str) -> None:
        """A table's header row and its separator."""
        self.row(*columns)
        self.line("|" + "---|" * len(columns))

    def row(self, *cells: object) -> None:
        self.line("| " + " | ".join(str(c) for c in cells) + " |")

    def save(self) -> Path | None:
        """Put this run's section into the page at ``write``, above earlier sections (the page is
        created if missing); nothing without a path."""
        if self.path is None:
            return None
        section = [*measurement_heading(), "", *trimmed(self.lines), ""]
        old = self.path.read_text(encoding="utf-8").splitlines() if self.path.exists() else []
        if not old:
            old = [f"# {self.title}", ""]
        first = first_section(old)
        intro = old[:first]
        if intro and intro[-1].strip():
            intro.append("")
        page = [*intro, *section, *old[first:]]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("\n".join(page).rstrip("\n") + "\n", encoding="utf-8")
        print(f"written: {self.path}", file=sys.stderr)
        return self.path


def first_section(lines: list[str]) -> int:
    """Index of the page's first "## " heading outside code blocks (where earlier runs start; the
    title and introduction above it stay on top), or the end of the page."""
    in_code = False
    for i, text in enumerate(lines):
        if text.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and text.startswith("## "):
            return i
    return len(lines)


def trimmed(lines: list[str]) -> list[str]:
    """The lines without blank lines at either end."""
    start = next((i for i, text in enumerate(lines) if text.strip()), len(lines))
    end = len(lines)
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def measurement_heading() -> list[str]:
    """The section heading of one run: date, then command, machine, code and load as a list."""
    now = datetime.datetime.now(datetime.timezone.utc)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"## Measured {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{command()}`",
        f"- machine: {machine()}",
        f"- code: {code_version()}",
        f"- load average (1, 5, 15 min) when written: {load}",
    ]


def command() -> str:
    """The command line that ran this script, as typed from the repository root."""
    return shlex.join(["python", *sys.argv])


def machine() -> str:
    """CPU model and cores, OS, and the versions of Python, torch and numpy (torch's version comes
    from its package metadata: importing torch just for this would cost seconds)."""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {package_version('torch')}, "
        f"numpy {package_version('numpy')}"
    )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for text in f:
                if text.startswith("model name"):
                    return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def code_version() -> str:
    """reinforcelab's version and the git commit of the checkout (marked when it has changes)."""
    from reinforcelab import __version__

    text = f"reinforcelab {__version__}"
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return text
    return f"{text}, git {commit}" + (" with uncommitted changes" if dirty else "")
