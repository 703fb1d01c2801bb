"""Collecting the ledger's counts for one day from Kafka, the lake and the warehouse.

* ``kafka``: per topic partition, the offsets at each hour boundary of the day
  (``offsets_for_times``); the records between two boundaries arrived in that hour. Counting by
  offsets needs no consumption, and is exact because the collector's producer is idempotent and
  not transactional (offsets are contiguous). Needs the day to be within the topics' retention.
* ``bronze_landed``: bronze rows (of every partition that can hold an arrival of the day: event
  days D-8 to D+1) whose Kafka offset falls between the same boundaries, so both stages use the
  very same buckets.
* ``bronze``, ``quarantined`` (with reasons), ``duplicates``: bronze ``dt=D``, the quarantine of
  ``dt=D``, and the valid rows of ``dt=D`` that repeat an event_id, by partition hour.
* ``silver``: silver events of ``dt=D-1`` and ``dt=D`` (a session that starts the evening before
  keeps its events there) that occurred on D, by hour.
* ownership (:func:`ownership_inputs`): the event_ids of the valid rows of bronze ``dt=D`` and
  of the silver events of ``dt=D-1`` and ``dt=D`` that occurred on D, with their partition.
* ``marts``: events of the warehouse table (``marts.fct_user_events``: every valid event) by
  hour of ``occurred_at``, when the DuckDB file and the table exist.
* ``collector_accepted``: the collector only exports cumulative Prometheus counters, which cannot
  be split into exact hours, so the stage is not measured unless counts are given.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd

from watershed.contract import Family
from watershed.lake import arrow
from watershed.settings import Settings

TOPICS = tuple(f.value for f in Family)
LINEAGE = ["kafka_topic", "kafka_partition", "kafka_offset"]
# An event reaching Kafka on D is in bronze partitions D-8 (occurred up to 7 days before, in UTC
# hours) to D+1 (up to 10 minutes of clock skew); unbelievable times are placed by arrival.
ARRIVAL_PARTITION_DAYS = (-8, 1)
# An event of D is owned by silver dt=D, or dt=D-1 when its session started the day before
# (docs/lake.md: a session crosses at most one midnight)
SILVER_OWNER_DAYS = (-1, 0)


_QUIET = logging.getLogger("quality.ledger_io.librdkafka")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def _rows(stage: str, day: date, by_hour: pd.Series, reason: str | None = None) -> list[dict[str, Any]]:
    return [
        {"stage": stage, "date": day.isoformat(), "hour": int(hour), "count": int(n), "reason": reason}
        for hour, n in by_hour.items()
    ]


def _boundaries(day: date) -> list[int]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return [int((start + timedelta(hours=h)).timestamp() * 1000) for h in range(25)]


def kafka_offsets(settings: Settings, day: date, topics: tuple[str, ...] = TOPICS) -> dict[tuple[str, int], list[int]]:
    """(topic, partition) -> the 25 offsets at the hour boundaries of `day`."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "watershed-quality-ledger",
            "enable.auto.commit": False,
            "socket.timeout.ms": 10_000,
            # librdkafka logs every failed connection attempt; an unreachable broker is
            # reported once, as the stage's note
            "logger": _QUIET,
        }
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        partitions = [
            (topic, partition)
            for topic in topics
            if topic in metadata.topics
            for partition in sorted(metadata.topics[topic].partitions)
        ]
        if not partitions:
            return {}
        high = {(t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1] for t, p in partitions}
        result: dict[tuple[str, int], list[int]] = {key: [] for key in partitions}
        # one request per boundary: a request naming a partition twice is answered once
        for boundary in _boundaries(day):
            found = consumer.offsets_for_times([TopicPartition(t, p, boundary) for t, p in partitions], timeout=10)
            for tp in found:
                if tp.error is not None:
                    raise RuntimeError(f"offsets_for_times {tp.topic}[{tp.partition}]: {tp.error}")
                key = (tp.topic, tp.partition)
                result[key].append(tp.offset if tp.offset >= 0 else high[key])
        return result
    finally:
        consumer.close()


def arrival_counts(offsets: dict[tuple[str, int], list[int]], landed: pd.DataFrame, day: date) -> list[dict]:
    """``kafka`` and ``bronze_landed`` rows from the boundary offsets and the landed lineage."""
    kafka = np.zeros(24, dtype=np.int64)
    bronze = np.zeros(24, dtype=np.int64)
    groups = dict(tuple(landed.groupby(["kafka_topic", "kafka_partition"]))) if len(landed) else {}
    for (topic, partition), bounds in offsets.items():
        kafka += np.diff(np.asarray(bounds, dtype=np.int64)).astype(np.int64)
        rows = groups.get((topic, partition))
        if rows is None:
            continue
        offs = rows["kafka_offset"].to_numpy(dtype=np.int64)
        hour = np.searchsorted(np.asarray(bounds), offs, side="right") - 1
        inside = (hour >= 0) & (hour < 24) & (offs < bounds[-1])
        bronze += np.bincount(hour[inside], minlength=24)[:24]
    return _rows("kafka", day, pd.Series(kafka)) + _rows("bronze_landed", day, pd.Series(bronze))


def valid_rows(bronze: pd.DataFrame, quarantine: pd.DataFrame) -> pd.DataFrame:
    """The bronze rows the lake did not quarantine (matched by their Kafka record)."""
    keys = quarantine[LINEAGE].drop_duplicates()
    valid = bronze.merge(keys, on=LINEAGE, how="left", indicator=True)
    return valid[valid["_merge"] == "left_only"].drop(columns="_merge")


def event_counts(
    bronze: pd.DataFrame, quarantine: pd.DataFrame | None, silver: pd.DataFrame | None, day: date
) -> list[dict]:
    """``bronze``, ``quarantined`` (by reason), ``duplicates`` and ``silver`` rows of `day`.

    `bronze`: lineage, event_id and hour of bronze dt=day; `quarantine`: lineage, hour and
    quarantine_reason of quarantine dt=day; `silver`: occurred_at of silver events (any day)."""
    out: list[dict] = []
    hours = pd.Series(0, index=range(24))
    bronze_hours = bronze["hour"].astype(int).value_counts().reindex(range(24), fill_value=0)
    out += _rows("bronze", day, bronze_hours)
    valid = bronze
    if quarantine is not None:
        for reason, rows in quarantine.groupby("quarantine_reason"):
            by_hour = rows["hour"].astype(int).value_counts().reindex(range(24), fill_value=0)
            out += _rows("quarantined", day, by_hour[by_hour > 0], str(reason))
        if quarantine.empty:  # measured, and nothing was quarantined
            out += _rows("quarantined", day, hours)
        valid = valid_rows(bronze, quarantine)
    ids = valid[valid["event_id"].notna()]
    duplicates = ids.groupby(ids["hour"].astype(int))["event_id"].agg(lambda s: len(s) - s.nunique())
    out += _rows("duplicates", day, duplicates.reindex(range(24), fill_value=0))
    if silver is not None:
        occurred = pd.to_datetime(silver["occurred_at"], utc=True)
        on_day = occurred[occurred.dt.date == day]
        out += _rows("silver", day, on_day.dt.hour.value_counts().reindex(range(24), fill_value=0))
    return out


def mart_counts(settings: Settings, day: date, table: str, time_column: str, schema: str) -> list[dict] | None:
    """``marts`` rows per hour of `day` from the warehouse (DuckDB or Snowflake), or None when the
    warehouse or the table is missing."""
    from warehouse.reader import open_marts

    with open_marts(settings) as marts:
        if marts is None or not marts.has_table(schema, table):
            return None
        frame = marts.frame(
            f"select extract(hour from {time_column}) as hour, count(*) as n from {schema}.{table} "  # noqa: S608 - names come from settings
            f"where {time_column} >= ? and {time_column} < ? group by 1",
            [day, day + timedelta(days=1)],
        )
    by_hour = (
        frame.astype({"hour": int}).set_index("hour")["n"].reindex(range(24), fill_value=0)
        if len(frame)
        else pd.Series(0, index=range(24))
    )
    return _rows("marts", day, by_hour)


def collect(
    settings: Settings,
    day: date,
    *,
    kafka: bool = True,
    marts_table: str = "fct_user_events",
    marts_time_column: str = "occurred_at",
    marts_schema: str = "marts",
    collector: list[dict] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Every stage's counts for `day` and notes on what could not be measured."""
    from quality.ledger import counts_frame

    rows: list[dict] = list(collector or [])
    notes: list[str] = []
    if not collector:
        notes.append("collector_accepted: not measured (the collector exports cumulative counters only)")
    iso = day.isoformat()
    bronze = arrow.read_frame(settings, f"bronze/*/dt={iso}/hour=*", [*LINEAGE, "event_id", "hour"])
    if bronze is None:
        notes.append(f"bronze: no partition dt={iso}")
        bronze = pd.DataFrame({c: [] for c in [*LINEAGE, "event_id", "hour"]})
    quarantine = arrow.read_frame(settings, f"quarantine/events/dt={iso}", [*LINEAGE, "hour", "quarantine_reason"])
    silver_parts = [
        arrow.read_frame(settings, f"silver/events/dt={(day + timedelta(days=d)).isoformat()}", ["occurred_at"])
        for d in SILVER_OWNER_DAYS
    ]
    present = [p for p in silver_parts if p is not None]
    silver = pd.concat(present, ignore_index=True) if present else None
    if silver is None:
        notes.append(f"silver: no partition dt={iso}")
    if quarantine is None and silver is not None:
        quarantine = pd.DataFrame({c: [] for c in [*LINEAGE, "hour", "quarantine_reason"]})
    rows += event_counts(bronze, quarantine, silver, day)

    if kafka:
        try:
            offsets = kafka_offsets(settings, day)
        except Exception as error:  # an unreachable broker leaves the stage unmeasured
            notes.append(f"kafka: not measured ({error})")
        else:
            days = [day + timedelta(days=d) for d in range(ARRIVAL_PARTITION_DAYS[0], ARRIVAL_PARTITION_DAYS[1] + 1)]
            parts = [arrow.read_frame(settings, f"bronze/*/dt={d.isoformat()}/hour=*", LINEAGE) for d in days]
            landed = [p for p in parts if p is not None]
            lineage = pd.concat(landed, ignore_index=True) if landed else pd.DataFrame({c: [] for c in LINEAGE})
            rows += arrival_counts(offsets, lineage, day)
    marts = mart_counts(settings, day, marts_table, marts_time_column, marts_schema)
    if marts is None:
        notes.append(f"marts: not measured (no table {marts_schema}.{marts_table} in the warehouse)")
    else:
        rows += marts
    return counts_frame(rows), notes


def ownership_inputs(settings: Settings, day: date) -> tuple[pd.Series, pd.DataFrame] | None:
    """The valid event_ids of bronze dt=`day` and the silver events (event_id, dt) that occurred
    on `day`, for :func:`quality.ledger.ownership`; None when bronze or silver has no partition."""
    iso = day.isoformat()
    bronze = arrow.read_frame(settings, f"bronze/*/dt={iso}/hour=*", [*LINEAGE, "event_id"])
    parts = []
    for offset in SILVER_OWNER_DAYS:
        dt = day + timedelta(days=offset)
        part = arrow.read_frame(settings, f"silver/events/dt={dt.isoformat()}", ["event_id", "occurred_at"])
        if part is not None:
            parts.append(part.assign(dt=dt.isoformat()))
    if bronze is None or not parts:
        return None
    quarantine = arrow.read_frame(settings, f"quarantine/events/dt={iso}", LINEAGE)
    valid = bronze if quarantine is None else valid_rows(bronze, quarantine)
    silver = pd.concat(parts, ignore_index=True)
    on_day = pd.to_datetime(silver["occurred_at"], utc=True).dt.date == day
    return valid["event_id"], silver.loc[on_day, ["event_id", "dt"]]
