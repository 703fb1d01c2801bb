"""`watershed sessionize --date D`: bronze -> silver/events, silver/sessions and quarantine for D.

Reads bronze of every topic for dt=D-2 (only the hours that can hold its last `gap`), dt=D-1
(whether a visit reaching D began before D-1's midnight, which starts a new session at D's first
event: the longest-session rule of watershed.contract.semantics), dt=D and dt=D+1 (where sessions
that start on D continue; they end before the midnight after D+1). Writes exactly the dt=D
partition of:

* ``quarantine/events``: invalid rows of bronze dt=D with their reason (rows of D-1 and D+1 are
  quarantined by the runs of those days);
* ``silver/events``: the valid, deduplicated events D owns (events of sessions starting on D,
  including their part after midnight, and sessionless events that occurred on D), with
  user_key, session_id and session_start;
* ``silver/sessions``: one row per session starting on D;

and ``_reports/sessionize/dt=D.json`` with the counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.batch.jobs.io import count_day, files_for, read_days, write_day
from spark_jobs.batch.transforms.dedup import deduplicate
from spark_jobs.batch.transforms.sessions import events_of_day, sessionize, sessions
from spark_jobs.batch.transforms.validate import quarantined, valid_events, with_quarantine_reason
from spark_jobs.common.bronze import bronze_schema
from spark_jobs.common.lake_rules import SessionRules, TimeRules
from spark_jobs.landing.job import TOPICS
from watershed import lake
from watershed.contract.tables import spark_schema
from watershed.lake.hadoop import LakeFS
from watershed.settings import Settings

SILVER_EVENT_COLUMNS = (
    *(f.name for f in spark_schema("events").fields),
    "is_bot",
    "user_key",
    "session_id",
    "session_start",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "ingested_at",
)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def history_start(day: date, gap: timedelta) -> datetime:
    """The earliest event time the run for `day` needs: `gap` before D-1's midnight."""
    return midnight(day - timedelta(days=1)) - gap


def extract_bronze(
    spark: SparkSession, settings: Settings, day: date, gap: timedelta, topics: Sequence[str] = TOPICS
) -> DataFrame:
    """Bronze rows of the days sessionizing `day` needs (the tail of D-2, D-1, D, D+1)."""
    tail_start = history_start(day, gap)
    frames = []
    for topic in topics:
        table = lake.path(settings, "bronze", topic)
        days = [day + timedelta(days=d) for d in (-2, -1, 0, 1)]
        frame = read_days(spark, table, days, bronze_schema())
        before = F.col("dt") < F.lit(day - timedelta(days=1))
        frames.append(frame.where(~before | (F.col("hour") >= F.lit(tail_start.hour))))
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def transform(
    bronze: DataFrame, day: date, rules: SessionRules, time_rules: TimeRules
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(silver events of `day`, quarantine rows of `day`, bronze rows of `day` with their
    quarantine_reason) from the bronze rows `extract_bronze` reads."""
    checked = with_quarantine_reason(bronze, time_rules)
    own = checked.where(F.col("dt") == F.lit(day))
    valid = valid_events(checked)
    # of D-2 only the last `gap` matters: whether a visit crossing D-1's midnight began before it
    tail_start = history_start(day, rules.gap)
    valid = valid.where((F.col("dt") >= F.lit(day - timedelta(days=1))) | (F.col("occurred_at") >= F.lit(tail_start)))
    events = events_of_day(sessionize(deduplicate(valid), rules), day)
    return events.select(*SILVER_EVENT_COLUMNS), quarantined(own), own


def run_sessionize(
    spark: SparkSession,
    settings: Settings,
    day: date,
    rules: SessionRules | None = None,
    time_rules: TimeRules | None = None,
) -> dict[str, Any]:
    rules, time_rules = rules or SessionRules(), time_rules or TimeRules()
    bronze = extract_bronze(spark, settings, day, rules.gap).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        events, quarantine, own = transform(bronze, day, rules, time_rules)
        # one pass over the day's bronze rows: quarantine reasons, valid rows and distinct ids
        tally = own.groupBy("quarantine_reason").agg(
            F.count(F.lit(1)).alias("rows"), F.count_distinct("event_id").alias("ids")
        )
        counts = {r["quarantine_reason"]: (r["rows"], r["ids"]) for r in tally.collect()}
        valid_rows, valid_ids = counts.pop(None, (0, 0))
        reasons = {reason: n for reason, (n, _) in sorted(counts.items())}
        tables = {name: lake.path(settings, *name.split("/")) for name in _TABLES}
        events = events.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            # file counts follow the day's bronze size (known now, the same on every run)
            files = files_for(valid_rows)
            write_day(events, tables["silver/events"], day, key="user_key", order=_EVENT_ORDER, files=files)
            write_day(sessions(events), tables["silver/sessions"], day, key="user_key", order=_SESSION_ORDER,
                      files=files)  # fmt: skip
        finally:
            events.unpersist()
        write_day(quarantine, tables["quarantine/events"], day, key="kafka_topic", order=_LINEAGE,
                  files=files_for(sum(reasons.values())))  # fmt: skip
    finally:
        bronze.unpersist()
    report = {
        "date": day.isoformat(),
        "session_gap_seconds": rules.gap.total_seconds(),
        "silver_events": count_day(spark, tables["silver/events"], day),
        "silver_sessions": count_day(spark, tables["silver/sessions"], day),
        "quarantined": sum(reasons.values()),
        "quarantine_reasons": reasons,
        "valid_bronze_rows": valid_rows,
        "duplicates_removed": valid_rows - valid_ids,
    }
    LakeFS(spark).write_text(
        lake.path(settings, "_reports", "sessionize", f"dt={day.isoformat()}.json"),
        json.dumps(report, indent=2, sort_keys=True),
    )
    return report


_TABLES = ("silver/events", "silver/sessions", "quarantine/events")
_EVENT_ORDER = ("user_key", "occurred_at", "event_id")
_SESSION_ORDER = ("user_key", "session_start", "session_id")
_LINEAGE = ("kafka_topic", "kafka_partition", "kafka_offset")
