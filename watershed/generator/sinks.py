"""Where generated events go. Every sink takes the events in arrival order and, per row, the
intended event type (used for routing even when a malformation removed event_type)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from watershed.contract import EVENT_TYPES, topic_for
from watershed.generator.files import ROWS_PER_FILE, Format, write_events
from watershed.generator.frame import SOURCE_OF_TYPE

WINDOW_ROWS = 20_000  # rows converted to JSON at a time by the network sinks


class EventSink(Protocol):
    def send(self, events: pa.Table, event_types: np.ndarray) -> dict[str, Any]:
        """Deliver every row; return what happened (written into truth/summary.json)."""
        ...


@dataclass(frozen=True)
class FileSink:
    """Parquet or NDJSON files under ``<out>/events/``."""

    out: Path
    fmt: Format = "parquet"
    rows_per_file: int = ROWS_PER_FILE

    def send(self, events: pa.Table, event_types: np.ndarray) -> dict[str, Any]:
        paths = write_events(events, self.out, self.fmt, self.rows_per_file)
        return {"sink": "files", "format": self.fmt, "files": [str(p) for p in paths]}


def topics(event_types: np.ndarray) -> list[str]:
    """The Kafka topic of each row's intended type."""
    by_code = [topic_for(t) for t in EVENT_TYPES]
    return [by_code[c] for c in event_types.tolist()]


def sources(event_types: np.ndarray) -> list[str]:
    """The source (write key) of each row's intended type."""
    by_code = [SOURCE_OF_TYPE[t].value for t in EVENT_TYPES]
    return [by_code[c] for c in event_types.tolist()]
