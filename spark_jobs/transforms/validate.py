"""Validation: every bronze row gets a quarantine reason or none. Rows with a reason go to
``quarantine/`` with it; nothing is dropped silently.

Reasons are fixed strings, the first that applies wins, in this order:

1. the parse error landing recorded: ``unparseable_json`` (not a JSON object) or
   ``malformed_field:<name>`` (a field that does not have the contract's JSON type; plain
   ``malformed_field`` if no single field can be blamed);
2. ``missing_required_field:event_type``, then ``unknown_event_type``;
3. ``missing_required_field:<name>``: the contract's required fields (of every event, then of the
   row's type; an empty ``items`` list counts as missing), and
   ``missing_required_field:user_id_or_anonymous_id``;
4. ``malformed_field:<name>``: a value that breaks the contract's pattern (event_id is a
   canonical UUID, currency and country codes) or ``properties`` that is not a JSON object;
5. ``oversize_properties``: more keys or bytes (as compact JSON) than the contract allows;
6. ``future_timestamp``: occurred_at more than max_clock_skew after the time received;
7. ``outside_retention``: occurred_at more than max_event_age before the time received, or before
   the earliest believable instant.

"The time received" is received_at (set by the collector), else the Kafka timestamp. Enumerations
and numeric bounds are left to the quality gates (the collector enforces them before Kafka).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.rules import TimeRules
from spark_jobs.transforms._time import instant, micros, span
from spark_jobs.transforms.bronze import reference_time
from watershed.contract.events import EVENT_TYPES
from watershed.contract.fields import MAX_PROPERTIES_BYTES, MAX_PROPERTIES_KEYS
from watershed.contract.quality import quality_inputs

MISSING = "missing_required_field:"
MALFORMED = "malformed_field"
OVERSIZE_PROPERTIES = "oversize_properties"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
FUTURE_TIMESTAMP = "future_timestamp"
OUTSIDE_RETENTION = "outside_retention"

QUARANTINE_COLUMNS = (
    "quarantine_reason",
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_timestamp",
    "kafka_key",
    "kafka_value",
    "ingested_at",
    "event_id",
    "event_type",
    "occurred_at",
    "received_at",
    "dt",
    "hour",
)


def _missing(name: str) -> Column:
    column = F.col(name)
    if name == "items":
        return column.isNull() | (F.size(column) == 0)
    return column.isNull()


def reason(rules: TimeRules) -> Column:
    """The first quarantine reason that applies to a bronze row, or null (it reads the column
    ``_property_keys``, the keys of ``properties``, which with_quarantine_reason adds)."""
    checks = quality_inputs()["events"]
    cases: list[tuple[Column, Column | str]] = [
        (F.col("parse_error").isNotNull(), F.col("parse_error")),
        (F.col("event_type").isNull(), MISSING + "event_type"),
        (~F.col("event_type").isin(list(EVENT_TYPES)), UNKNOWN_EVENT_TYPE),
    ]
    cases += [(_missing(name), MISSING + name) for name in checks.required_columns if name != "event_type"]
    for group in checks.at_least_one_of:
        cases.append((F.coalesce(*[F.col(n) for n in group]).isNull(), MISSING + "_or_".join(group)))
    for event_type, names in checks.required_by_event_type.items():
        cases += [((F.col("event_type") == event_type) & _missing(name), MISSING + name) for name in names]
    cases += [(~F.col(name).rlike(pattern), f"{MALFORMED}:{name}") for name, pattern in checks.patterns.items()]
    keys = F.col("_property_keys")  # computed once per row by with_quarantine_reason
    cases += [
        (F.col("properties").isNotNull() & keys.isNull(), f"{MALFORMED}:properties"),
        (
            (F.size(keys) > MAX_PROPERTIES_KEYS) | (F.octet_length("properties") > MAX_PROPERTIES_BYTES),
            OVERSIZE_PROPERTIES,
        ),
    ]
    occurred, ref = micros("occurred_at"), micros(reference_time())
    cases += [
        (occurred > ref + F.lit(span(rules.max_clock_skew)), FUTURE_TIMESTAMP),
        (
            (occurred < ref - F.lit(span(rules.max_event_age))) | (occurred < F.lit(instant(rules.earliest))),
            OUTSIDE_RETENTION,
        ),
    ]
    result = None
    for condition, label in cases:
        value = F.lit(label) if isinstance(label, str) else label
        result = F.when(condition, value) if result is None else result.when(condition, value)
    assert result is not None
    return result.otherwise(F.lit(None).cast("string"))


def with_quarantine_reason(bronze: DataFrame, rules: TimeRules) -> DataFrame:
    """Bronze rows plus ``quarantine_reason`` (null for a valid row)."""
    with_keys = bronze.withColumn("_property_keys", F.json_object_keys("properties"))
    return with_keys.withColumn("quarantine_reason", reason(rules)).drop("_property_keys")


def valid_events(checked: DataFrame) -> DataFrame:
    """The rows without a reason, without the bookkeeping columns of bronze."""
    return checked.where(F.col("quarantine_reason").isNull()).drop(
        "quarantine_reason", "kafka_value", "parse_error", "kafka_key"
    )


def quarantined(checked: DataFrame) -> DataFrame:
    """The rows with a reason: the reason, lineage, raw value and the few fields that parsed."""
    return checked.where(F.col("quarantine_reason").isNotNull()).select(*QUARANTINE_COLUMNS)
