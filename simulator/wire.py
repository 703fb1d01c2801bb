"""Events as JSON payloads: what the HTTP and Kafka sinks send and the NDJSON files hold.

A payload carries only the fields an event has (nulls are left out, so a "missing field"
malformation is really missing); timestamps are ISO 8601 in UTC with a ``Z``; amounts are JSON
numbers with their exact decimals; ``properties`` is the JSON object itself. A row with a
``raw_payload`` is sent as that text. Columns are converted to Python whole (Arrow formats the
timestamps and decimals), which is several times faster than converting row by row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from simulator.assemble import RAW_PAYLOAD

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # %S carries the fraction: 2025-01-06T10:00:05.123000Z


def payloads(table: pa.Table, *, received_at: bool) -> list[dict[str, Any]]:
    """One dict per row, ready for :func:`dumps`. `received_at` keeps the (simulated) server
    receive time: files and Kafka carry it, a client sending over HTTP does not."""
    names = [n for n in table.column_names if n != RAW_PAYLOAD and (received_at or n != "received_at")]
    columns = [_python_values(name, table[name]) for name in names]
    raws = table[RAW_PAYLOAD].to_pylist() if RAW_PAYLOAD in table.column_names else [None] * table.num_rows
    stamps = _python_values("received_at", table["received_at"]) if received_at else None
    out = []
    for i, raw in enumerate(raws):
        if raw is None:
            out.append({name: value[i] for name, value in zip(names, columns, strict=True) if value[i] is not None})
        else:
            payload = json.loads(raw)
            if stamps is not None:
                payload["received_at"] = stamps[i]
            out.append(payload)
    return out


def _python_values(name: str, column: pa.ChunkedArray) -> list[Any]:
    """A column as JSON-ready Python values; texts that already are JSON become Fragments."""
    if pa.types.is_timestamp(column.type):
        return pc.strftime(column, format=_TIME_FORMAT).to_pylist()
    if pa.types.is_decimal(column.type):
        column = pc.cast(column, pa.string())
    elif name != "properties":
        return column.to_pylist()
    return [None if v is None else orjson.Fragment(v) for v in column.to_pylist()]


def dumps(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload, default=_default)


def ndjson_lines(table: pa.Table, *, received_at: bool, batch_rows: int = 50_000) -> Iterator[bytes]:
    """The table as NDJSON, one block of lines per batch."""
    for start in range(0, table.num_rows, batch_rows):
        batch = payloads(table.slice(start, batch_rows), received_at=received_at)
        yield b"".join(dumps(p) + b"\n" for p in batch)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):  # inside items
        return orjson.Fragment(str(value))
    raise TypeError(f"cannot serialise {type(value).__name__}")
