"""Write benchmark figures to BENCHMARKS.md, one section per benchmark, with the command used.

Each bench script prints its figures and calls :func:`record`, which replaces its own section
(between ``<!-- bench:NAME -->`` markers) and leaves the others untouched.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
_HEADER = (
    "# Benchmarks\n\n"
    "Figures measured on the machine named in each section, with the command that produced them.\n"
    "Regenerate one with its command; `make bench` runs them all.\n"
)


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def record(name: str, title: str, body: str, command: str | None = None) -> None:
    """Replace the section `name` of BENCHMARKS.md with `title`, the command and `body`."""
    command = command or "python " + " ".join(shlex.quote(a) for a in sys.argv)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{name} -->\n## {title}\n\n"
        f"Command: `{command}`  \nMachine: {machine()}; measured {stamp}.\n\n"
        f"{body.strip()}\n<!-- /bench:{name} -->\n"
    )
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else _HEADER
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text)
