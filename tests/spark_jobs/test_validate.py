"""Validation: every invalid row gets its fixed reason, valid rows pass untouched, nothing vanishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_jobs.batch.transforms.dedup import deduplicate
from spark_jobs.batch.transforms.validate import quarantined, valid_events, with_quarantine_reason
from spark_jobs.common.lake_rules import TimeRules

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def uid(name: str) -> str:
    """A canonical UUID spelling a short name (the contract requires UUID event ids)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def test_each_invalid_row_gets_its_reason(spark, bronze):
    rows = bronze(
        {"event_id": uid("ok")},
        {"event_id": uid("bad-json"), "parse_error": "unparseable_json", "event_type": None, "occurred_at": None},
        {"event_id": uid("bad-field"), "parse_error": "malformed_field"},
        {"event_id": uid("bad-qty"), "parse_error": "malformed_field:quantity"},
        {"event_id": "12345"},  # event_id must be a canonical UUID
        {
            "event_id": uid("usd"),
            "event_type": "add_to_cart",
            "product_id": "p",
            "quantity": 1,
            "price": Decimal(1),
            "currency": "usd",
        },
        {"event_id": uid("props-list"), "properties": '["not", "an", "object"]'},
        {"event_id": uid("props-big"), "properties": "{" + ",".join(f'"k{i}":{i}' for i in range(51)) + "}"},
        {"event_id": uid("props-ok"), "properties": "{" + ",".join(f'"k{i}":{i}' for i in range(50)) + "}"},
        # 8,192 bytes is the limit, whatever the key count; a broken object is malformed, however long
        {"event_id": uid("props-8192"), "properties": '{"k":"' + "x" * (8192 - 8) + '"}'},
        {"event_id": uid("props-8193"), "properties": '{"k":"' + "x" * (8192 - 7) + '"}'},
        {"event_id": uid("props-long-broken"), "properties": '{"k":"' + "x" * 9000},
        {"event_id": uid("props-ahead"), "properties": "{}", "occurred_at": T0 + timedelta(hours=1), "received_at": T0},
        {"event_id": uid("no-type"), "event_type": None},
        {"event_id": uid("odd-type"), "event_type": "teleport"},
        {"event_id": None},
        {"event_id": uid("no-received"), "received_at": None},
        {"event_id": uid("nobody"), "user_id": None, "anonymous_id": None},
        {"event_id": uid("no-page"), "page_url": None},  # page_url is required of page_view
        {
            "event_id": uid("empty-order"),
            "event_type": "purchase",
            "order_id": "o",
            "revenue": Decimal(1),
            "currency": "USD",
            "items": [],
        },
        # 10 minutes ahead of the server is the limit; one microsecond more is the future
        {"event_id": uid("ahead-ok"), "occurred_at": T0 + timedelta(minutes=10), "received_at": T0},
        {"event_id": uid("ahead"), "occurred_at": T0 + timedelta(minutes=10, microseconds=1), "received_at": T0},
        # 7 days late is the limit; one microsecond more is outside retention
        {"event_id": uid("old-ok"), "occurred_at": T0 - timedelta(days=7), "received_at": T0},
        {"event_id": uid("old"), "occurred_at": T0 - timedelta(days=7, microseconds=1), "received_at": T0},
        # a clock in 1970 is broken even when the server agrees with it
        {
            "event_id": uid("1970"),
            "occurred_at": datetime(1970, 1, 1, tzinfo=UTC),
            "received_at": datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
        },
    )
    checked = with_quarantine_reason(rows, TimeRules())
    assertDataFrameEqual(
        checked.select("event_id", "quarantine_reason"),
        [
            Row(event_id=uid("ok"), quarantine_reason=None),
            Row(event_id=uid("bad-json"), quarantine_reason="unparseable_json"),
            Row(event_id=uid("bad-field"), quarantine_reason="malformed_field"),
            Row(event_id=uid("bad-qty"), quarantine_reason="malformed_field:quantity"),
            Row(event_id="12345", quarantine_reason="malformed_field:event_id"),
            Row(event_id=uid("usd"), quarantine_reason="malformed_field:currency"),
            Row(event_id=uid("props-list"), quarantine_reason="malformed_field:properties"),
            Row(event_id=uid("props-big"), quarantine_reason="oversize_properties"),
            Row(event_id=uid("props-ok"), quarantine_reason=None),
            Row(event_id=uid("props-8192"), quarantine_reason=None),
            Row(event_id=uid("props-8193"), quarantine_reason="oversize_properties"),
            Row(event_id=uid("props-long-broken"), quarantine_reason="malformed_field:properties"),
            Row(event_id=uid("props-ahead"), quarantine_reason="future_timestamp"),
            Row(event_id=uid("no-type"), quarantine_reason="missing_required_field:event_type"),
            Row(event_id=uid("odd-type"), quarantine_reason="unknown_event_type"),
            Row(event_id=None, quarantine_reason="missing_required_field:event_id"),
            Row(event_id=uid("no-received"), quarantine_reason="missing_required_field:received_at"),
            Row(event_id=uid("nobody"), quarantine_reason="missing_required_field:user_id_or_anonymous_id"),
            Row(event_id=uid("no-page"), quarantine_reason="missing_required_field:page_url"),
            Row(event_id=uid("empty-order"), quarantine_reason="missing_required_field:items"),
            Row(event_id=uid("ahead-ok"), quarantine_reason=None),
            Row(event_id=uid("ahead"), quarantine_reason="future_timestamp"),
            Row(event_id=uid("old-ok"), quarantine_reason=None),
            Row(event_id=uid("old"), quarantine_reason="outside_retention"),
            Row(event_id=uid("1970"), quarantine_reason="outside_retention"),
        ],
    )
    # every row is either valid or quarantined with its raw value and lineage
    assertDataFrameEqual(
        valid_events(checked).select("event_id"),
        [Row(event_id=uid(e)) for e in ("ok", "props-ok", "props-8192", "ahead-ok", "old-ok")],
    )
    quarantine = quarantined(checked)
    assert quarantine.count() + valid_events(checked).count() == rows.count()
    assertDataFrameEqual(
        quarantine.where(F.col("event_id") == uid("ahead")).select(
            "quarantine_reason", "kafka_topic", "kafka_value", "dt", "hour"
        ),
        [
            Row(
                quarantine_reason="future_timestamp",
                kafka_topic="user-events",
                kafka_value="{}",
                dt=(T0 + timedelta(minutes=10)).date(),
                hour=9,
            )
        ],
    )


def test_deduplicate_keeps_the_first_received_copy(spark, bronze):
    rows = bronze(
        {"event_id": uid("e1"), "page_url": "first", "received_at": T0 + timedelta(seconds=5), "kafka_offset": 10},
        {"event_id": uid("e1"), "page_url": "retry", "received_at": T0 + timedelta(seconds=9), "kafka_offset": 3},
        # same received_at: Kafka timestamp, topic, partition, offset break the tie
        {
            "event_id": uid("e2"),
            "page_url": "later-offset",
            "received_at": T0,
            "kafka_timestamp": T0,
            "kafka_offset": 21,
        },
        {
            "event_id": uid("e2"),
            "page_url": "earlier-offset",
            "received_at": T0,
            "kafka_timestamp": T0,
            "kafka_offset": 20,
        },
        {"event_id": uid("e3"), "page_url": "only"},
    )
    result = deduplicate(valid_events(with_quarantine_reason(rows, TimeRules())))
    assertDataFrameEqual(
        result.select("event_id", "page_url"),
        [
            Row(event_id=uid("e1"), page_url="first"),
            Row(event_id=uid("e2"), page_url="earlier-offset"),
            Row(event_id=uid("e3"), page_url="only"),
        ],
    )
