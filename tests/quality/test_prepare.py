"""The derived columns the suites read, on small frames built inline (no GX involved)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from quality import prepare

T0 = pd.Timestamp("2025-01-06 10:00:00")


def row(**given: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_id": "00000000-0000-4000-8000-000000000000",
        "event_type": "page_view",
        "source": "web_analytics",
        "user_id": "u1",
        "anonymous_id": None,
        "occurred_at": T0,
        "received_at": T0 + pd.Timedelta(seconds=1),
        "user_agent": "Mozilla/5.0",
        "properties": '{"a":1}',
        "items": None,
        "geo": {"country": "DE", "region": "Berlin", "city": "Berlin"},
        "revenue": None,
    }
    return base | given


def test_naive_timestamps_are_read_as_utc_and_lag_is_received_minus_occurred() -> None:
    """Spark writes INT96 timestamps, which read back without a zone; the platform is UTC."""
    frame = prepare.events(pd.DataFrame([row(received_at=T0 + pd.Timedelta(minutes=10))]))
    assert str(frame["occurred_at"].dt.tz) == "UTC"
    assert frame["arrival_lag_seconds"].tolist() == [600.0]


def test_the_kafka_timestamp_stands_in_for_a_missing_received_at() -> None:
    frame = pd.DataFrame([row(received_at=None)])
    frame["kafka_timestamp"] = T0 + pd.Timedelta(seconds=30)
    assert prepare.events(frame)["arrival_lag_seconds"].tolist() == [30.0]


def test_nested_fields_and_properties_are_flattened_and_measured() -> None:
    items = [{"product_id": "p", "quantity": 2, "price": Decimal("9.99")}, {"product_id": "q", "quantity": 0,
             "price": Decimal("1.00")}]  # fmt: skip
    frame = prepare.events(
        pd.DataFrame(
            [
                row(items=items, revenue=Decimal("20.98")),
                row(items=[], properties='["x"]'),
                row(properties='{"k":"' + "x" * 100 + '"}'),
            ]
        )
    )
    assert frame["geo.country"].tolist() == ["DE", "DE", "DE"]
    assert frame["items"].isna().tolist() == [False, True, True]  # an empty list counts as missing
    assert frame["items.quantity.min"].tolist()[0] == 0 and frame["items.price.max"].tolist()[0] == 9.99
    assert frame["revenue"].tolist()[0] == 20.98
    assert frame["properties_is_object"].tolist() == [True, False, True]
    assert frame["properties_keys"].fillna(-1).tolist() == [1, -1, 1]
    assert frame["properties_bytes"].tolist() == [7, 5, 108]


def test_retries_order_and_bots() -> None:
    second = pd.Timedelta(seconds=1)
    frame = prepare.events(
        pd.DataFrame(
            [
                row(event_id="a", occurred_at=T0, received_at=T0 + 40 * second),  # after b arrived: out of order
                row(event_id="b", occurred_at=T0 + 5 * second, received_at=T0 + 6 * second),
                row(event_id="a", occurred_at=T0, received_at=T0 + 90 * second),  # a retry of a
                row(event_id="c", occurred_at=T0 + 6 * second, received_at=T0 + 7 * second, user_agent="Googlebot/2.1"),
                row(event_id="d", user_id="u2", occurred_at=T0, received_at=T0 + 3600 * second),  # late, alone
                row(event_id="e", user_id="u2", occurred_at=T0 + second, received_at=T0 + 2 * second),
            ]
        ),
        late_after_seconds=300,
    )
    assert frame["is_retry"].tolist() == [False, False, True, False, False, False]
    # the retry is not judged; d arrived after e but is late, and reported as late only
    flags = [None if pd.isna(v) else v for v in frame["arrived_out_of_order"]]
    assert flags == [True, False, None, False, None, False]
    assert frame["is_bot"].tolist() == [False, False, False, True, False, False]


def test_ad_rows_ctr_is_null_without_impressions() -> None:
    frame = prepare.ad_rows(pd.DataFrame({"impressions": [100, 0], "clicks": [5, 0]}))
    assert frame["ctr"].fillna(-1).tolist() == [0.05, -1]


def test_settings_fall_back_to_the_platform_webhook(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from quality.settings import load_quality_settings
    from watershed.errors import ConfigError

    monkeypatch.delenv("WATERSHED_QUALITY_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("WATERSHED_ALERT_WEBHOOK_URL", "http://127.0.0.1:1/platform")
    assert load_quality_settings().webhook_url == "http://127.0.0.1:1/platform"
    monkeypatch.setenv("WATERSHED_QUALITY_WEBHOOK_URL", "http://127.0.0.1:1/quality")
    assert load_quality_settings().webhook_url == "http://127.0.0.1:1/quality"
    monkeypatch.setenv("WATERSHED_QUALITY_MAX_BOT_SHARE", "1.5")
    with pytest.raises(ConfigError, match="WATERSHED_QUALITY_MAX_BOT_SHARE"):
        load_quality_settings()
