"""Writing the generator's output to files: events (Parquet or NDJSON), the ad platforms' daily
rows and the ground truth.

Parquet writer options are pinned (format version, page version, codec, level, row groups,
statistics), so a seed gives byte-identical files with a given pyarrow; the only embedded
metadata is the schema and pyarrow's ``created_by`` string, which holds no time.

Layout under the output directory::

    events/part-00000.parquet ...        arrival order, ``rows_per_file`` rows each
    ad_platform/<platform>/date=YYYY-MM-DD/rows.parquet
    truth/sessions.parquet, funnel_daily.parquet, revenue_daily.parquet,
          campaign_totals.parquet, faults.parquet, summary.json
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from simulator.assemble import EventStream
from simulator.truth import Truth
from simulator.wire import dumps, ndjson_lines

Format = Literal["parquet", "ndjson"]
EVENTS_DIR, AD_PLATFORM_DIR, TRUTH_DIR = "events", "ad_platform", "truth"
ROWS_PER_FILE = 1_000_000
ROW_GROUP_ROWS = 250_000
# Unique-per-row columns are not dictionary-encoded (no gain, and the hashing costs time);
# min/max statistics are kept for the columns readers filter on (they cost a fifth of the
# write time on every string column).
UNIQUE_COLUMNS = ("event_id", "occurred_at", "received_at")
STATISTICS_COLUMNS = ("event_type", "source", "occurred_at", "received_at", "date", "platform", "campaign_id")
PARQUET_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "data_page_version": "1.0",
    "compression": "zstd",
    "compression_level": 1,
    "row_group_size": ROW_GROUP_ROWS,
    # No Arrow schema in the footer: the in-memory dictionary encoding of string columns is an
    # implementation detail, and every reader should see the plain contract types.
    "store_schema": False,
}


def write_parquet(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = table.column_names
    pq.write_table(
        table,
        path,
        use_dictionary=[n for n in names if n not in UNIQUE_COLUMNS],
        write_statistics=[n for n in names if n in STATISTICS_COLUMNS],
        **PARQUET_OPTIONS,
    )


def write_events(events: EventStream, out: Path, fmt: Format, rows_per_file: int = ROWS_PER_FILE) -> list[Path]:
    """Events in arrival order, `rows_per_file` rows per file. Each file is written on a
    background thread while the next block is built (at most two blocks in memory); files are
    independent, so their bytes do not depend on the scheduling."""
    directory = out / EVENTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"part-{i:05d}.{fmt}" for i in range(-(-events.rows // rows_per_file))]

    def write(path: Path, part: pa.Table) -> None:
        if fmt == "parquet":
            write_parquet(part, path)
        else:
            with path.open("wb") as handle:
                for block in ndjson_lines(part, received_at=True):
                    handle.write(block)

    blocks = events.batches(rows_per_file)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future[None] | None = None
        for path, (part, _) in zip(paths, blocks, strict=True):
            written = pool.submit(write, path, part)
            if pending is not None:
                pending.result()
            pending = written
        if pending is not None:
            pending.result()
    return [p.relative_to(out) for p in paths]


def write_ad_platform(rows: pa.Table, out: Path, fmt: Format) -> list[Path]:
    """One file per platform and day, as an extractor would land the API's answer."""
    paths = []
    for platform in sorted(set(rows["platform"].to_pylist())):
        of_platform = rows.filter(pa.compute.equal(rows["platform"], platform))
        for day in sorted(set(of_platform["date"].to_pylist())):
            part = of_platform.filter(pa.compute.equal(of_platform["date"], pa.scalar(day, pa.date32())))
            path = out / AD_PLATFORM_DIR / platform / f"date={day.isoformat()}" / f"rows.{fmt}"
            if fmt == "parquet":
                write_parquet(part, path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"".join(dumps(row) + b"\n" for row in part.to_pylist()))
            paths.append(path.relative_to(out))
    return paths


def write_truth(truth: Truth, out: Path) -> list[Path]:
    paths = []
    for name in ("sessions", "funnel_daily", "revenue_daily", "campaign_totals", "faults"):
        path = out / TRUTH_DIR / f"{name}.parquet"
        write_parquet(getattr(truth, name), path)
        paths.append(path.relative_to(out))
    return paths


def write_summary(summary: dict[str, Any], out: Path) -> Path:
    path = out / TRUTH_DIR / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    return path.relative_to(out)


def read_summary(out: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((out / TRUTH_DIR / "summary.json").read_text())
    return result
