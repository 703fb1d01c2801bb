"""The validation entry point: every type accepts its minimal event; each rule rejects with the
field to blame."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from watershed.contract import (
    EVENT_TYPES,
    MAX_PROPERTIES_BYTES,
    validate_ad_platform_row,
    validate_event,
    versioning,
)

RECEIVED = datetime(2025, 1, 6, 9, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_type_accepts_its_minimal_event(examples: dict[str, dict[str, Any]], event_type: str) -> None:
    result = validate_event(examples[event_type], received_at=RECEIVED)
    assert result.errors == ()
    assert result.event.event_type == event_type


def test_values_are_normalised(examples: dict[str, dict[str, Any]]) -> None:
    event = validate_event(examples["purchase"], received_at=RECEIVED).event
    assert event.event_id == "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    assert event.occurred_at == datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC
    assert event.revenue == Decimal("19.98")
    assert event.items[0].price == Decimal("9.99")


def test_the_server_receive_time_replaces_the_clients(examples: dict[str, dict[str, Any]]) -> None:
    payload = {**examples["page_view"], "received_at": "2030-01-01T00:00:00Z"}
    assert validate_event(payload, received_at=RECEIVED).event.received_at == RECEIVED


def _errors(payload: object, received_at: datetime | None = RECEIVED) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in validate_event(payload, received_at=received_at).errors]


@pytest.mark.parametrize(
    ("event_type", "change", "field", "message"),
    [
        ("page_view", {"event_type": "pageview"}, "event_type", "'pageview' is not an event type"),
        ("page_view", {"event_type": None}, "event_type", "is required"),
        ("page_view", {"colour": "red"}, "colour", "put free attributes in properties"),
        ("page_view", {"revenue": 10}, "revenue", "is not a field of this event type"),
        ("page_view", {"anonymous_id": None}, "user_id", "user_id or anonymous_id is required"),
        ("page_view", {"source": "transaction_data"}, "source", "may not send page_view events"),
        ("purchase", {"source": "web_analytics"}, "source", "may not send purchase events"),
        ("impression", {"currency": None}, "currency", "currency is required when the event carries an amount"),
        ("product_view", {"price": "9.999"}, "price", "no more than 2 decimal places"),
        ("add_to_cart", {"quantity": 0}, "quantity", "greater than or equal to 1"),
        ("add_to_cart", {"quantity": "two"}, "quantity", "valid integer"),
        ("purchase", {"items": []}, "items", "at least 1 item"),
        ("purchase", {"items": [{"product_id": "p", "quantity": 1, "price": "free"}]}, "items[0].price", "decimal"),
        ("purchase", {"currency": "usd"}, "currency", "should match pattern"),
        ("signup", {"user_id": None}, "user_id", "valid string"),
        ("page_view", {"event_id": "not-a-uuid"}, "event_id", "must be a UUID"),
        ("page_view", {"event_id": 12345}, "event_id", "valid string"),
        ("page_view", {"schema_version": 2}, "schema_version", "accepts 1 to 1"),
        ("page_view", {"schema_version": "one"}, "schema_version", "valid integer"),
        ("page_view", {"occurred_at": "2025-01-06T09:00:00"}, "occurred_at", "timezone"),
        ("page_view", {"occurred_at": "yesterday"}, "occurred_at", "datetime"),
        ("page_view", {"occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at", "before 2010-01-01"),
        ("page_view", {"occurred_at": "2025-01-06T09:10:06Z"}, "occurred_at", "clock ahead"),
        ("page_view", {"occurred_at": "2024-12-30T09:00:04Z"}, "occurred_at", "too old"),
        ("page_view", {"geo": "Berlin"}, "geo", "valid dictionary"),
        ("page_view", {"geo": {"country": "Germany"}}, "geo.country", "should match pattern"),
        ("page_view", {"properties": ["a"]}, "properties", "valid dictionary"),
        ("page_view", {"properties": {f"k{i}": i for i in range(51)}}, "properties", "51 keys; at most 50"),
        ("page_view", {"properties": {"blob": "x" * MAX_PROPERTIES_BYTES}}, "properties", "at most 8192 are allowed"),
    ],
)
def test_each_rule_names_the_field(
    examples: dict[str, dict[str, Any]], event_type: str, change: dict[str, Any], field: str, message: str
) -> None:
    errors = _errors({**examples[event_type], **change})
    assert any(f == field and message in m for f, m in errors), errors


def test_the_time_window_edges_are_inclusive(examples: dict[str, dict[str, Any]]) -> None:
    ahead = {**examples["page_view"], "occurred_at": (RECEIVED + timedelta(minutes=10)).isoformat()}
    old = {**examples["page_view"], "occurred_at": (RECEIVED - timedelta(days=7)).isoformat()}
    assert _errors(ahead) == []
    assert _errors(old) == []


def test_without_a_receive_time_only_the_absolute_floor_applies(examples: dict[str, dict[str, Any]]) -> None:
    assert _errors({**examples["page_view"], "occurred_at": "2012-01-01T00:00:00Z"}, received_at=None) == []


def test_a_missing_field_is_reported(examples: dict[str, dict[str, Any]]) -> None:
    payload = dict(examples["purchase"])
    del payload["order_id"]
    assert ("order_id", "Field required") in _errors(payload)


def test_non_objects_are_rejected() -> None:
    assert _errors(["not", "an", "event"]) == [("", "an event must be a JSON object")]


def test_older_versions_are_upgraded(monkeypatch: pytest.MonkeyPatch, examples: dict[str, dict[str, Any]]) -> None:
    """How a v2 contract would accept v1 clients: the registered step rewrites the payload."""
    monkeypatch.setattr(versioning, "CURRENT_SCHEMA_VERSION", 2)

    def rename_url(payload: dict[str, Any]) -> dict[str, Any]:
        payload = dict(payload)
        payload["page_url"] = payload.pop("url")
        return payload

    monkeypatch.setitem(versioning.UPGRADES, 1, rename_url)
    v1 = {**examples["page_view"], "url": "https://shop.example.com/old"}
    del v1["page_url"]
    upgraded = versioning.upgrade(v1)
    assert upgraded["schema_version"] == 2
    assert upgraded["page_url"] == "https://shop.example.com/old"
    assert "url" not in upgraded


def test_ad_platform_rows(ad_platform_row: dict[str, Any]) -> None:
    assert validate_ad_platform_row(ad_platform_row).ok
    bad = validate_ad_platform_row({**ad_platform_row, "clicks": -1, "platform": "tiktok_ads"})
    assert {e.field for e in bad.errors} == {"clicks", "platform"}
    zone = validate_ad_platform_row({**ad_platform_row, "time_zone": "Europe/Atlantis"})
    assert [(e.field, e.message) for e in zone.errors] == [
        ("time_zone", "unknown time zone 'Europe/Atlantis' (an IANA name such as Europe/Berlin)")
    ]
    missing = validate_ad_platform_row({k: v for k, v in ad_platform_row.items() if k != "time_zone"})
    assert [(e.field, e.message) for e in missing.errors] == [("time_zone", "Field required")]
