"""Where generated events go. Every sink takes the events in arrival order and, per row, the
intended event type (used for routing even when a malformation removed event_type)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from simulator.assemble import EventStream
from simulator.files import ROWS_PER_FILE, Format, write_events
from simulator.frame import SOURCE_OF_TYPE
from watershed.contract import EVENT_TYPES, topic_for

BLOCK_ROWS = 200_000  # rows built as Arrow at a time by the network sinks
WINDOW_ROWS = 20_000  # rows converted to JSON at a time by the network sinks


class EventSink(Protocol):
    def send(self, events: EventStream) -> dict[str, Any]:
        """Deliver every row; return what happened (written into truth/summary.json)."""
        ...


@dataclass(frozen=True)
class FileSink:
    """Parquet or NDJSON files under ``<out>/events/``."""

    out: Path
    fmt: Format = "parquet"
    rows_per_file: int = ROWS_PER_FILE

    def send(self, events: EventStream) -> dict[str, Any]:
        paths = write_events(events, self.out, self.fmt, self.rows_per_file)
        return {"sink": "files", "format": self.fmt, "files": [str(p) for p in paths]}


def windows(events: EventStream) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """The events in windows of WINDOW_ROWS rows (built BLOCK_ROWS at a time), for JSON sinks."""
    for block, types in events.batches(BLOCK_ROWS):
        for start in range(0, block.num_rows, WINDOW_ROWS):
            yield block.slice(start, WINDOW_ROWS), types[start : start + WINDOW_ROWS]


def topics(event_types: np.ndarray) -> list[str]:
    """The Kafka topic of each row's intended type."""
    by_code = [topic_for(t) for t in EVENT_TYPES]
    return [by_code[c] for c in event_types.tolist()]


def sources(event_types: np.ndarray) -> list[str]:
    """The source (write key) of each row's intended type."""
    by_code = [SOURCE_OF_TYPE[t].value for t in EVENT_TYPES]
    return [by_code[c] for c in event_types.tolist()]
