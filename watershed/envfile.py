"""Env files: ``NAME="value"`` lines, each value written as a JSON string.

`watershed fake-ad-api --env-file` writes one; `watershed demo` and the tests read it with
:func:`read_env_file`, and `load_ad_settings` hands the stack's to pydantic-settings, whose dotenv
reader undoes the same escapes (tests/test_envfile.py holds the three to one another).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Whole or absent: a reader polling for the file never sees half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(f"{name}={json.dumps(value)}\n" for name, value in values.items()))
    partial.replace(path)


def read_env_file(path: Path) -> dict[str, str]:
    lines = (line.partition("=") for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {name: json.loads(value) for name, _, value in lines}
