"""Realistic, valid events for the collector benchmarks (web_analytics source: page views,
product views, searches and cart changes of a few thousand visitors)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

_PAGES = ["/", "/c/shoes", "/c/shirts", "/p/sku-{n}", "/search", "/cart", "/account"]
_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1",
]


def make_events(n: int, *, seed: int = 7, users: int = 5000) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    events = []
    for _ in range(n):
        user = rng.randrange(users)
        sku = f"SKU-{rng.randrange(2000):05d}"
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "schema_version": 1,
            "source": "web_analytics",
            "anonymous_id": f"anon-{user:07d}",
            "occurred_at": now,
            "page_url": "https://shop.example.com" + rng.choice(_PAGES).format(n=rng.randrange(2000)),
            "referrer": "https://www.google.com/",
            "device": rng.choice(["desktop", "mobile", "tablet"]),
            "geo": {"country": "DE", "city": "Berlin"},
            "user_agent": rng.choice(_AGENTS),
            "ip": f"203.0.113.{rng.randrange(256)}",
        }
        if user % 3 == 0:
            event["user_id"] = f"user-{user:07d}"
        kind = rng.random()
        if kind < 0.5:
            event["event_type"] = "page_view"
        elif kind < 0.8:
            event.update(event_type="product_view", product_id=sku, price="19.99", currency="EUR")
        elif kind < 0.9:
            event.update(event_type="search", query=rng.choice(["shoes", "red shirt", "socks"]))
        else:
            event.update(event_type="add_to_cart", product_id=sku, quantity=1, price="19.99", currency="EUR")
        events.append(event)
    return events
