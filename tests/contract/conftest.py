"""Fixtures: one minimal valid payload per event type, as a client would send it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

EVENT_ID = "1B4E28BA-2FA1-41D2-883F-0016D3CCA427"
_BASE = {"event_id": EVENT_ID, "schema_version": 1, "occurred_at": "2025-01-06T10:00:00+01:00"}
_WEB = {**_BASE, "source": "web_analytics", "anonymous_id": "a-1", "page_url": "https://shop.example.com/"}
_ITEMS = [{"product_id": "SKU-1", "quantity": 2, "price": 9.99}]
_AD = {**_BASE, "source": "ad_platform", "anonymous_id": "a-1", "campaign_id": "c-1", "platform": "google_ads"}

EXAMPLES: dict[str, dict[str, Any]] = {
    "page_view": {**_WEB, "event_type": "page_view"},
    "product_view": {**_WEB, "event_type": "product_view", "product_id": "SKU-1", "price": 9.99, "currency": "USD"},
    "search": {**_WEB, "event_type": "search", "query": "shoes"},
    "add_to_cart": {
        **_WEB,
        "event_type": "add_to_cart",
        "product_id": "SKU-1",
        "quantity": 1,
        "price": "9.99",
        "currency": "USD",
    },
    "remove_from_cart": {
        **_WEB,
        "event_type": "remove_from_cart",
        "product_id": "SKU-1",
        "quantity": 1,
        "price": 9.99,
        "currency": "USD",
    },
    "begin_checkout": {**_WEB, "event_type": "begin_checkout", "items": _ITEMS, "currency": "USD"},
    "signup": {**_BASE, "source": "user_events", "event_type": "signup", "user_id": "u-1", "email": "a@b.co"},
    "login": {**_BASE, "source": "user_events", "event_type": "login", "user_id": "u-1"},
    "logout": {**_BASE, "source": "user_events", "event_type": "logout", "user_id": "u-1"},
    "purchase": {
        **_BASE,
        "source": "transaction_data",
        "event_type": "purchase",
        "user_id": "u-1",
        "order_id": "ORD-1",
        "revenue": 19.98,
        "currency": "USD",
        "items": _ITEMS,
    },
    "refund": {
        **_BASE,
        "source": "transaction_data",
        "event_type": "refund",
        "user_id": "u-1",
        "order_id": "ORD-1",
        "revenue": 19.98,
        "currency": "USD",
    },
    "impression": {**_AD, "event_type": "impression", "ad_id": "ad-1", "cost": 0.0065, "currency": "USD"},
    "click": {**_AD, "event_type": "click", "ad_id": "ad-1", "cost": 0.85, "currency": "USD"},
    "conversion": {**_AD, "event_type": "conversion", "order_id": "ORD-1", "value": 19.98, "currency": "USD"},
}

AD_PLATFORM_ROW: dict[str, Any] = {
    "date": "2025-01-06",
    "platform": "facebook_ads",
    "account_id": "1234567890123456",
    "account_name": "Watershed Shop - Meta",
    "campaign_id": "23851234567890123",
    "campaign_name": "Retargeting - Cart",
    "impressions": 12000,
    "clicks": 240,
    "cost": "118.42",
    "conversions": 7.5,
    "conversion_value": "640.00",
    "currency": "EUR",
    "time_zone": "Europe/Berlin",
}


@pytest.fixture
def examples() -> dict[str, dict[str, Any]]:
    """A fresh copy of EXAMPLES per test, so tests may mutate payloads."""
    return copy.deepcopy(EXAMPLES)


@pytest.fixture
def ad_platform_row() -> dict[str, Any]:
    return dict(AD_PLATFORM_ROW)
