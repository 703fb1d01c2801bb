"""Every derived copy of the contract agrees with the models: the flat columns, the Arrow and
Spark schemas, the published JSON Schemas and dbt docs, and the quality inputs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

from watershed.contract import (
    EVENT_MODELS,
    EVENT_TYPES,
    PII_PATTERNS,
    AdPlatformDailyRow,
    arrow_schema,
    event_columns,
    quality_inputs,
    spark_schema,
    validate_event,
)
from watershed.contract.columns import ContractError, columns_of
from watershed.contract.export import artifacts, event_json_schema, stale_artifacts


def test_every_model_field_is_one_column() -> None:
    columns = {c.name: c for c in event_columns()}
    for model in EVENT_MODELS.values():
        for name, info in model.model_fields.items():
            assert name in columns
            assert columns[name].description == info.description
    assert len(columns) == len({n for m in EVENT_MODELS.values() for n in m.model_fields})
    assert columns["event_type"].choices == EVENT_TYPES


def test_one_name_cannot_have_two_types() -> None:
    class A(BaseModel):
        amount: int = Field(description="x")

    class B(BaseModel):
        amount: str = Field(description="x")

    with pytest.raises(ContractError, match="'amount' of B differs"):
        columns_of([A, B])


@pytest.mark.parametrize("table", ["events", "ad_platform_daily"])
def test_arrow_and_spark_schemas_follow_the_columns(table: str) -> None:
    from pyspark.sql import types as T

    def spark_of(arrow_type: Any) -> Any:
        import pyarrow as pa

        if pa.types.is_struct(arrow_type):
            return T.StructType([T.StructField(f.name, spark_of(f.type), True) for f in arrow_type])
        if pa.types.is_list(arrow_type):
            return T.ArrayType(spark_of(arrow_type.value_type), True)
        if pa.types.is_decimal(arrow_type):
            return T.DecimalType(arrow_type.precision, arrow_type.scale)
        simple = {"string": T.StringType(), "int64": T.LongType(), "double": T.DoubleType()}
        simple["date32[day]"] = T.DateType()
        return T.TimestampType() if pa.types.is_timestamp(arrow_type) else simple[str(arrow_type)]

    arrow = arrow_schema(table)  # type: ignore[arg-type]
    spark = spark_schema(table)  # type: ignore[arg-type]
    assert [f.name for f in spark.fields] == arrow.names
    assert [f.dataType for f in spark.fields] == [spark_of(f.type) for f in arrow]


def test_event_tables_use_exact_types() -> None:
    schema = arrow_schema("events")
    assert str(schema.field("occurred_at").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("revenue").type) == "decimal128(18, 2)"
    assert str(schema.field("cost").type) == "decimal128(18, 6)"
    assert str(schema.field("properties").type) == "string"


def test_published_copies_are_up_to_date() -> None:
    """docs/schemas/ and dbt/models/staging/_sources.yml are regenerated from the models; run
    `watershed contract export` when this fails."""
    assert stale_artifacts(Path(__file__).resolve().parents[2]) == []


def test_dbt_docs_list_every_column() -> None:
    sources = artifacts()[next(p for p in artifacts() if p.name == "_sources.yml")]
    for column in event_columns():
        assert f"- name: {column.name}\n" in sources


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_json_schema_agrees_with_the_models(examples: dict[str, dict[str, Any]], event_type: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(event_json_schema(event_type))
    good = examples[event_type]
    broken = [
        {**good, "unknown_field": 1},
        {**good, "source": "web_analytics" if good["source"] == "ad_platform" else "ad_platform"},
        {k: v for k, v in good.items() if k not in ("user_id", "anonymous_id")},
        {k: v for k, v in good.items() if k != "occurred_at"},
        {**good, "schema_version": "one"},
    ]
    assert validator.is_valid(good) and validate_event(good).ok
    for payload in broken:
        assert not validator.is_valid(payload)
        assert not validate_event(payload).ok


def test_quality_inputs_come_from_the_models() -> None:
    checks = quality_inputs()
    events, ads = checks["events"], checks["ad_platform_daily"]
    names = {c.name for c in event_columns()}
    assert events.required_columns == ("event_id", "event_type", "schema_version", "source", "occurred_at",
                                       "received_at")  # fmt: skip
    assert set(events.required_columns) <= names
    assert events.required_by_event_type["purchase"] == ("order_id", "revenue", "currency", "items")
    assert events.accepted_values["event_type"] == EVENT_TYPES
    assert events.accepted_values["device"] == ("desktop", "mobile", "tablet")
    assert events.numeric_ranges["quantity"][0] == 1
    assert events.numeric_ranges["items.price"][0] == 0
    assert events.personal_columns == ("ip", "email", "phone")
    assert ads.required_columns == tuple(AdPlatformDailyRow.model_fields)
    assert ads.unique_key == ("date", "platform", "account_id", "campaign_id")
    assert checks["events"].as_dict()["numeric_ranges"]["price"] == ["0", "1000000000"]


@pytest.mark.parametrize(
    ("pattern", "raw", "not_raw"),
    [
        ("email", "emma.smith42@gmail.com", "hmac:k1:3f2a9c"),
        ("phone", "+1 415 555 0123", "hmac:k1:0123456789abcdef0123456789abcdef"),
        ("phone", "+447700900123", "42"),
        ("ipv4", "203.0.113.9", "203.0.113"),
        ("ipv6", "2001:db8::1", "hmac:k1:2001db8"),
    ],
)
def test_pii_patterns(pattern: str, raw: str, not_raw: str) -> None:
    assert re.fullmatch(PII_PATTERNS[pattern].strip("^$"), raw)
    assert not re.search(PII_PATTERNS[pattern], not_raw)
