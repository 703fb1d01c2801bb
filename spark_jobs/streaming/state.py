"""The real-time job's small JSON files and its timestamps (pure Python, no Spark).

`heartbeat.json` and `anomaly_state.json` are replaced atomically, so a reader (`watershed stream
status`, the supervision DAG, the next micro-batch) never sees half a file; a missing or torn file
reads as ``{}``. :func:`now` is the UTC timestamp the job writes everywhere (records'
``emitted_at``, the counters' ``updated_at``, the heartbeat's ``updated_at``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def now() -> str:
    """The current UTC time as ISO 8601 with milliseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    """The file's JSON object; ``{}`` when it does not exist (yet) or is not JSON."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
