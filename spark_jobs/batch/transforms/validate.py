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

from spark_jobs.common.bronze import reference_time
from spark_jobs.common.lake_rules import TimeRules
from spark_jobs.common.time_columns import instant, micros, span
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


def _first_applying(cases: list[tuple[Column, Column | str]]) -> Column:
    """CASE WHEN c1 THEN r1 WHEN c2 THEN r2 ... ELSE NULL END."""
    result = None
    for condition, label in cases:
        value = F.lit(label) if isinstance(label, str) else label
        result = F.when(condition, value) if result is None else result.when(condition, value)
    assert result is not None
    return result.otherwise(F.lit(None).cast("string"))


def properties_reason() -> Column:
    """``malformed_field:properties`` when properties is not a JSON object, else
    ``oversize_properties`` when it has more keys or bytes than the contract allows, else null.

    The JSON is parsed once per row: the key count appears in exactly one place of the
    expression. (Written as two conditions over one keys column, the optimizer substitutes the
    parse into both when it pushes the validity filter down, and every row is parsed twice.)"""
    properties = F.col("properties")
    # -1: not a JSON object; MAX + 1: too many keys; anything else: a key count within the limit
    # (least() skips nulls, so the null of a non-object becomes -1 first)
    keys = F.least(F.coalesce(F.size(F.json_object_keys(properties)), F.lit(-1)), F.lit(MAX_PROPERTIES_KEYS + 1))
    verdict = F.create_map(
        F.lit(-1), F.lit(f"{MALFORMED}:properties"), F.lit(MAX_PROPERTIES_KEYS + 1), F.lit(OVERSIZE_PROPERTIES)
    )
    too_long = F.when(F.octet_length(properties) > MAX_PROPERTIES_BYTES, F.lit(OVERSIZE_PROPERTIES))
    return F.when(properties.isNotNull(), F.coalesce(F.try_element_at(verdict, keys), too_long))


def reason(rules: TimeRules) -> Column:
    """The first quarantine reason that applies to a bronze row, or null."""
    checks = quality_inputs()["events"]
    fields: list[tuple[Column, Column | str]] = [
        (F.col("parse_error").isNotNull(), F.col("parse_error")),
        (F.col("event_type").isNull(), MISSING + "event_type"),
        (~F.col("event_type").isin(list(EVENT_TYPES)), UNKNOWN_EVENT_TYPE),
    ]
    fields += [(_missing(name), MISSING + name) for name in checks.required_columns if name != "event_type"]
    for group in checks.at_least_one_of:
        fields.append((F.coalesce(*[F.col(n) for n in group]).isNull(), MISSING + "_or_".join(group)))
    for event_type, names in checks.required_by_event_type.items():
        fields += [((F.col("event_type") == event_type) & _missing(name), MISSING + name) for name in names]
    fields += [(~F.col(name).rlike(pattern), f"{MALFORMED}:{name}") for name, pattern in checks.patterns.items()]
    occurred, ref = micros("occurred_at"), micros(reference_time())
    times: list[tuple[Column, Column | str]] = [
        (occurred > ref + F.lit(span(rules.max_clock_skew)), FUTURE_TIMESTAMP),
        (
            (occurred < ref - F.lit(span(rules.max_event_age))) | (occurred < F.lit(instant(rules.earliest))),
            OUTSIDE_RETENTION,
        ),
    ]
    # coalesce evaluates left to right and stops at the first non-null: the order of the reasons
    return F.coalesce(_first_applying(fields), properties_reason(), _first_applying(times))


def with_quarantine_reason(bronze: DataFrame, rules: TimeRules) -> DataFrame:
    """Bronze rows plus ``quarantine_reason`` (null for a valid row)."""
    return bronze.withColumn("quarantine_reason", reason(rules))


def valid_events(checked: DataFrame) -> DataFrame:
    """The rows without a reason, without the bookkeeping columns of bronze."""
    return checked.where(F.col("quarantine_reason").isNull()).drop(
        "quarantine_reason", "kafka_value", "parse_error", "kafka_key"
    )


def quarantined(checked: DataFrame) -> DataFrame:
    """The rows with a reason: the reason, lineage, raw value and the few fields that parsed."""
    return checked.where(F.col("quarantine_reason").isNotNull()).select(*QUARANTINE_COLUMNS)
