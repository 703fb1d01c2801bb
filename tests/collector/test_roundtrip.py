"""What is posted is what Kafka holds: values, keys, topics, headers and order per user, on the
test stack's real broker. Expectations are written out here (topics, normalised values, keyed
hashes computed with hmac directly), not taken from the collector's code."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx

from tests.collector.conftest import PII_KEY, Reader, bearer, keyed, recent

TOPIC = {
    "page_view": "user-events",
    "product_view": "user-events",
    "search": "user-events",
    "add_to_cart": "user-events",
    "signup": "user-events",
    "login": "user-events",
    "logout": "user-events",
    "purchase": "transaction-data",
    "refund": "transaction-data",
    "impression": "ad-events",
    "click": "ad-events",
    "conversion": "ad-events",
}
AMOUNTS = ("price", "revenue", "value", "cost")
RUN = uuid.uuid4().hex[:8]
NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"
NOT_A_FIELD = "is not a field of this event type; put free attributes in properties"


def utc_z(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{moment.microsecond:06d}" if moment.microsecond else "") + "Z"


def expected(posted: dict[str, Any], personal: dict[str, str]) -> dict[str, Any]:
    """The value the collector must write for `posted`; `personal` maps each raw personal value
    to its normalised form."""
    out: dict[str, Any] = {}
    for name, value in posted.items():
        if value is None:
            continue
        if name == "event_id":
            value = value.lower()
        elif name == "occurred_at":
            value = utc_z(value)
        elif name in AMOUNTS:
            value = Decimal(str(value))
        elif name == "items":
            value = [{**item, "price": Decimal(str(item["price"]))} for item in value]
        elif name in ("email", "phone", "ip"):
            value = keyed(name, personal[value])
        out[name] = value
    return out


def parse(value: bytes) -> dict[str, Any]:
    return json.loads(value, parse_float=Decimal)


def envelope(source: str, event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()).upper(),
        "event_type": event_type,
        "schema_version": 1,
        "source": source,
        "occurred_at": recent(),
        **fields,
    }


def in_berlin(minutes: int) -> str:
    """A recent occurred_at with a +01:00 offset (the collector stores it in UTC)."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return moment.astimezone(timezone(timedelta(hours=1))).isoformat()


def web(user: str, event_type: str, **fields: Any) -> dict[str, Any]:
    return envelope(
        "web_analytics", event_type, anonymous_id=f"{RUN}-{user}", page_url="https://shop.example.com/p", **fields
    )


PERSONAL = {
    " Alice@Example.COM ": "alice@example.com",
    "+49 (30) 1234-567": "+49301234567",
    "2001:DB8:0:0:0:0:0:1": "2001:db8::1",
    "203.0.113.7": "203.0.113.7",
    "bob@example.org": "bob@example.org",
}


def test_posted_events_are_consumed_back_exactly(collector: httpx.Client, reader: Reader) -> None:
    # three visitors, interleaved, with every kind of normalisation the collector does
    web_events = [
        web("u1", "page_view", referrer=None, email=" Alice@Example.COM ", ip="203.0.113.7"),
        web("u2", "page_view", occurred_at=in_berlin(minutes=2)),
        web("u1", "product_view", product_id="SKU-1", price=19.9, currency="EUR", phone="+49 (30) 1234-567"),
        web("u3", "search", query="red shoes", properties={"filters": ["red", {"size": 42}], "n": 3}),
        web("u2", "add_to_cart", product_id="SKU-2", quantity=2, price="5.00", currency="EUR"),
        web("u1", "add_to_cart", product_id="SKU-1", quantity=1, price=19.9, currency="EUR", ip="2001:DB8:0:0:0:0:0:1"),
        web("u3", "page_view", user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        web("u1", "page_view", device="mobile", geo={"country": "DE", "city": "Berlin"}),
    ]
    answer = collector.post("/v1/batch", json={"events": web_events}, headers=bearer())
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 8, "rejected": 0, "errors": []}

    user = f"{RUN}-user"
    signup = envelope("user_events", "signup", user_id=user, email="bob@example.org")
    login = envelope("user_events", "login", user_id=user, anonymous_id=f"{RUN}-u9")
    logout_without_id = envelope("user_events", "logout", user_id=user)
    del logout_without_id["event_id"]
    single_ids = []
    for event in (signup, login, logout_without_id):
        answer = collector.post("/v1/events", json=event, headers=bearer("user_events"))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body == {"accepted": 1, "rejected": 0, "errors": [], "event_id": body["event_id"]}
        single_ids.append(body["event_id"])
    assert single_ids[:2] == [signup["event_id"].lower(), login["event_id"].lower()]
    assert uuid.UUID(single_ids[2]).version == 4  # given by the collector
    logout = {**logout_without_id, "event_id": single_ids[2]}

    items = [{"product_id": "SKU-1", "quantity": 2, "price": 19.9}, {"product_id": "SKU-2", "quantity": 1, "price": 5}]
    purchase = envelope(
        "transaction_data", "purchase", user_id=user, order_id="O-1", revenue="44.80", currency="EUR", items=items
    )
    refund = envelope("transaction_data", "refund", user_id=user, order_id="O-1", revenue=5, currency="EUR")
    answer = collector.post("/v1/batch", json={"events": [purchase, refund]}, headers=bearer("transaction_data"))
    assert answer.json() == {"accepted": 2, "rejected": 0, "errors": []}

    ad = {"anonymous_id": f"{RUN}-click-1", "campaign_id": "c-9", "platform": "google_ads"}
    impression = envelope("ad_platform", "impression", ad_id="ad-1", cost=0.0065, currency="USD", **ad)
    click = envelope("ad_platform", "click", ad_id="ad-1", cost="0.85", currency="USD", **ad)
    conversion = envelope("ad_platform", "conversion", order_id="O-1", value=44.8, currency="USD", **ad)
    answer = collector.post(
        "/v1/batch", json={"events": [impression, click, conversion]}, headers=bearer("ad_platform")
    )
    assert answer.json() == {"accepted": 3, "rejected": 0, "errors": []}

    posted = [*web_events, signup, login, logout, purchase, refund, impression, click, conversion]
    consumed = [c for c in reader.read() if c.topic != "events-invalid"]

    # exactly the posted events, each once, each in its family's topic, keyed by user
    assert len(consumed) == len(posted)
    by_id = {parse(c.value)["event_id"]: c for c in consumed}
    assert set(by_id) == {e["event_id"].lower() for e in posted}
    for event in posted:
        record = by_id[event["event_id"].lower()]
        value = parse(record.value)
        received_at = value.pop("received_at")
        assert received_at.endswith("Z") and datetime.fromisoformat(received_at) <= datetime.now(UTC)
        assert value == expected(event, PERSONAL)
        assert record.topic == TOPIC[event["event_type"]]
        assert record.key == (event.get("user_id") or event["anonymous_id"]).encode()
        is_bot = "Googlebot" in event.get("user_agent", "")
        assert record.headers == {"collector-version": b"0.1.0", "bot": b"true" if is_bot else b"false"}

    # one user's events: one partition, in the order they were posted
    for key in {c.key for c in consumed}:
        mine = [c for c in consumed if c.key == key]
        per_topic = {c.topic for c in mine}
        for topic in per_topic:
            in_topic = [c for c in mine if c.topic == topic]
            assert len({c.partition for c in in_topic}) == 1
            order = [parse(c.value)["event_id"] for c in sorted(in_topic, key=lambda c: c.offset)]
            assert order == [
                e["event_id"].lower()
                for e in posted
                if (e.get("user_id") or e["anonymous_id"]).encode() == key and TOPIC[e["event_type"]] == topic
            ]

    # a literal check of one record, so that the rules above are not the only reading of it
    first = parse(by_id[web_events[0]["event_id"].lower()].value)
    assert first["email"] == "t1:" + hmac.new(PII_KEY, b"email\x1falice@example.com", hashlib.sha256).hexdigest()
    assert "referrer" not in first
    assert b"Alice" not in by_id[web_events[0]["event_id"].lower()].value


def test_invalid_batch_events_go_to_the_dead_letter_topic_pseudonymised(
    collector: httpx.Client, reader: Reader
) -> None:
    good = web("dl", "page_view")
    no_ids = web("dl", "page_view", email="carol@example.com", phone="+1 555 0100 999")
    del no_ids["anonymous_id"]
    bad_type = {"event_type": "page_view", "schema_version": "one", "contact": "dave@example.com"}
    answer = collector.post("/v1/batch", json={"events": [no_ids, good, bad_type, "not an event"]}, headers=bearer())
    assert answer.status_code == 200
    carol = keyed("email", "carol@example.com")
    dave = keyed("email", "dave@example.com")
    assert answer.json() == {
        "accepted": 1,
        "rejected": 3,
        "errors": [
            {"index": 0, "errors": [{"field": "user_id", "message": "user_id or anonymous_id is required"}]},
            {
                "index": 2,
                "errors": [
                    {"field": "schema_version", "message": NOT_AN_INT},
                    {"field": "source", "message": "Field required"},
                    {"field": "occurred_at", "message": "Field required"},
                    {"field": "page_url", "message": "Field required"},
                    {"field": "contact", "message": NOT_A_FIELD},
                ],
            },
            {"index": 3, "errors": [{"field": "", "message": "an event must be a JSON object"}]},
        ],
    }  # fmt: skip
    records = reader.read()
    assert [r.topic for r in records].count("user-events") == 1
    letters = [parse(r.value) for r in records if r.topic == "events-invalid"]
    assert [r.key for r in records if r.topic == "events-invalid"] == [None, None, None]
    for letter in letters:
        assert letter.pop("received_at").endswith("Z")
    errors = answer.json()["errors"]
    base = {"reason": "invalid_event", "source": "web_analytics", "collector_version": "0.1.0"}
    no_ids_kept = {**no_ids, "email": carol, "phone": keyed("phone", "+15550100999")}
    assert letters == [
        {**base, "errors": errors[0]["errors"], "index": 0, "payload": no_ids_kept},
        {**base, "errors": errors[1]["errors"], "index": 2, "payload": {**bad_type, "contact": dave}},
        {**base, "errors": errors[2]["errors"], "index": 3, "payload": "not an event"},
    ]
    raw = b"".join(r.value for r in records)
    assert b"carol@" not in raw and b"dave@" not in raw and b"0100" not in raw


def test_a_rejected_single_event_is_answered_422_and_kept_as_a_dead_letter(
    collector: httpx.Client, reader: Reader
) -> None:
    event = web("single", "page_view", email="erin@example.com", occurred_at="2019-01-01T00:00:00Z")
    answer = collector.post("/v1/events", json=event, headers=bearer())
    assert answer.status_code == 422
    assert answer.json() == {
        "error": "invalid_event",
        "message": "the event does not match the contract",
        "errors": [{"field": "occurred_at", "message": "is more than 7 days before received_at (too old)"}],
    }
    (letter,) = [parse(r.value) for r in reader.read()]
    assert letter["payload"] == {**event, "email": keyed("email", "erin@example.com")}
    assert "index" not in letter
