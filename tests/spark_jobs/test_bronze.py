"""Kafka records -> bronze rows: parsing, lineage, event-time partitions, late and unparseable rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from spark_jobs.common.bronze import MALFORMED_FIELD, UNPARSEABLE_JSON, to_bronze
from spark_jobs.common.lake_rules import LandingRules

INGESTED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KAFKA = "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"


def record(value: str, offset: int, timestamp: datetime, key: str | None = "u1", topic: str = "user-events") -> tuple:
    return (key.encode() if key else None, value.encode(), topic, 1, offset, timestamp)


def event(event_id: str, occurred: str, received: str, **fields: object) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "event_type": "page_view",
            "user_id": "u1",
            "occurred_at": occurred,
            "received_at": received,
        }
        | fields
    )


def test_records_are_parsed_and_placed_by_event_time_with_lineage(spark):
    kafka_ts = datetime(2026, 11, 20, 10, 20, tzinfo=UTC)
    records = [
        # on time; a client offset (+02:00) is stored in UTC; decimals may come as strings
        record(
            event("e1", "2026-11-20T11:10:00+02:00", "2026-11-20T09:10:01Z", price="10.50", properties={"a": [1]}),
            0,
            kafka_ts,
        ),
        # received exactly 5 minutes after it occurred: not late (late is strictly more than LATE_AFTER)
        record(event("e2", "2026-11-20T09:59:00Z", "2026-11-20T10:04:00Z"), 1, kafka_ts),
        # received 5 minutes and a microsecond after it occurred: late, still in its event-time folder
        record(event("e3", "2026-11-20T09:59:00Z", "2026-11-20T10:04:00.000001Z"), 2, kafka_ts),
        # a broken clock (1970): placed by the time it was received instead, and not also counted late
        record(event("e4", "1970-01-01T00:00:00Z", "2026-11-20T10:19:00Z"), 3, kafka_ts),
        # no received_at: the Kafka timestamp is the time received
        record(json.dumps({"event_id": "e5", "occurred_at": "2026-11-20T08:30:00Z"}), 4, kafka_ts),
        # a field of the wrong type: kept, flagged, the rest parsed
        record(event("e6", "2026-11-20T10:00:00Z", "2026-11-20T10:00:01Z", quantity="three"), 5, kafka_ts),
        # not JSON at all: kept whole in kafka_value, placed by the Kafka timestamp
        record("{not json", 6, kafka_ts, key=None),
        record("[1, 2]", 7, kafka_ts, key=None),
    ]
    frame = spark.createDataFrame(records, KAFKA)
    result = to_bronze(frame, INGESTED, LandingRules())

    def row(event_id, occurred, error, late, dt_hour, offset, value_key="u1"):  # type: ignore[no-untyped-def]
        return Row(
            event_id=event_id,
            occurred_at=occurred,
            kafka_topic="user-events",
            kafka_partition=1,
            kafka_offset=offset,
            kafka_timestamp=kafka_ts,
            kafka_key=value_key,
            ingested_at=INGESTED,
            parse_error=error,
            is_late=late,
            dt=dt_hour[0],
            hour=dt_hour[1],
        )

    nov20 = date(2026, 11, 20)
    utc = UTC
    expected = [
        row("e1", datetime(2026, 11, 20, 9, 10, tzinfo=utc), None, False, (nov20, 9), 0),
        row("e2", datetime(2026, 11, 20, 9, 59, tzinfo=utc), None, False, (nov20, 9), 1),
        row("e3", datetime(2026, 11, 20, 9, 59, tzinfo=utc), None, True, (nov20, 9), 2),
        row("e4", datetime(1970, 1, 1, tzinfo=utc), None, False, (nov20, 10), 3),
        row("e5", datetime(2026, 11, 20, 8, 30, tzinfo=utc), None, True, (nov20, 8), 4),
        row("e6", datetime(2026, 11, 20, 10, 0, tzinfo=utc), MALFORMED_FIELD + ":quantity", False, (nov20, 10), 5),
        row(None, None, UNPARSEABLE_JSON, False, (nov20, 10), 6, None),
        row(None, None, UNPARSEABLE_JSON, False, (nov20, 10), 7, None),
    ]
    columns = list(expected[0].asDict())
    assertDataFrameEqual(result.select(columns), spark.createDataFrame(expected, result.select(columns).schema))

    # the raw value is kept byte for byte, typed fields are parsed from numbers and strings alike
    first = result.where("event_id = 'e1'").select("kafka_value", "price", "properties").first()
    assert first is not None
    assert first["kafka_value"] == records[0][1].decode()
    assert (first["price"], json.loads(first["properties"])) == (Decimal("10.50"), {"a": [1]})


def test_the_late_bound_is_configurable(spark):
    kafka_ts = datetime(2026, 11, 20, 10, 20, tzinfo=UTC)
    frame = spark.createDataFrame(
        [record(event("e1", "2026-11-20T09:59:00Z", "2026-11-20T10:01:00Z"), 0, kafka_ts)], KAFKA
    )
    default = to_bronze(frame, INGESTED, LandingRules())
    strict = to_bronze(frame, INGESTED, LandingRules(late_after=timedelta(minutes=1, microseconds=-1)))
    assertDataFrameEqual(default.select("event_id", "is_late"), [Row(event_id="e1", is_late=False)])
    assertDataFrameEqual(strict.select("event_id", "is_late"), [Row(event_id="e1", is_late=True)])
