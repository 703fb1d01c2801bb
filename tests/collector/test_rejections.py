"""Malformed and hostile requests: each gets its exact status and error body, nothing reaches
the event topics, and /metrics counts each rejection by reason."""

from __future__ import annotations

import base64
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from tests.collector.conftest import KEYS, Reader, bearer, keyed, page_view, serve

WEB = KEYS["web_analytics"]
CHALLENGE = 'Bearer realm="watershed-collector", Basic realm="watershed-collector"'
NEED_KEY = "a write key is required: send Authorization: Bearer <key>, or Basic with the key as user name"
MALFORMED_AUTH = "malformed Authorization header: use Bearer or Basic"
NOT_CONTRACT = "the event does not match the contract"
BATCH_SHAPE = 'a batch is a JSON object {"events": [...]}'
TYPES = (
    "page_view, product_view, search, add_to_cart, remove_from_cart, begin_checkout, signup, login, logout, "
    "purchase, refund, impression, click, conversion"
)


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def body(value: Any) -> bytes:
    return orjson.dumps(value)


def event(**fields: Any) -> bytes:
    return body(page_view("hostile", **fields))


def error(code: str, message: str, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"error": code, "message": message}
    if errors is not None:
        out["errors"] = errors
    return out


def invalid(*errors: tuple[str, str]) -> dict[str, Any]:
    return error("invalid_event", NOT_CONTRACT, [{"field": f, "message": m} for f, m in errors])


@dataclass
class Case:
    name: str
    status: int
    answer: dict[str, Any]
    content: bytes = b"{}"
    path: str = "/v1/events"
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {WEB}"})
    content_type: str | None = "application/json"
    answer_headers: dict[str, str] = field(default_factory=dict)


BIG_PROPERTIES = {"blob": "x" * 33_000}
BIG_EVENT = event(properties=BIG_PROPERTIES)
SMALL = page_view("hostile")
ONE_HUGE_IN_BATCH = body({"events": [SMALL, page_view("hostile", properties=BIG_PROPERTIES)]})
HUGE_BATCH = body({"events": [page_view("hostile", properties={"blob": "y" * 30_000}) for _ in range(18)]})
NESTED = b"[" * 2000 + b"]" * 2000

CASES = [
    # ---- who is sending -------------------------------------------------------------------
    Case("no Authorization header", 401, error("unauthorized", NEED_KEY), event(), headers={},
         answer_headers={"www-authenticate": CHALLENGE}),
    Case("unknown bearer key", 401, error("unauthorized", "unknown write key"), event(),
         headers={"Authorization": "Bearer not-a-key"}, answer_headers={"www-authenticate": CHALLENGE}),
    Case("bearer without a key", 401, error("unauthorized", MALFORMED_AUTH), event(),
         headers={"Authorization": "Bearer"}),
    Case("unsupported scheme", 401, error("unauthorized", MALFORMED_AUTH), event(),
         headers={"Authorization": f"Token {WEB}"}),
    Case("Basic that is not base64", 401, error("unauthorized", MALFORMED_AUTH), event(),
         headers={"Authorization": "Basic %%%not-base64%%%"}),
    Case("Basic with an unknown user", 401, error("unauthorized", "unknown write key"), event(),
         headers={"Authorization": basic("someone-else")}),
    Case("Basic with the key as password, no user", 401, error("unauthorized", MALFORMED_AUTH), event(),
         headers={"Authorization": basic("", WEB)}),
    Case("key in another case", 401, error("unauthorized", "unknown write key"), event(),
         headers={"Authorization": f"Bearer {WEB.upper()}"}),
    Case("SQL in the key", 401, error("unauthorized", "unknown write key"), event(),
         headers={"Authorization": "Bearer ' OR '1'='1' --"}),
    Case("an 8 KB key", 401, error("unauthorized", "unknown write key"), event(),
         headers={"Authorization": "Bearer " + "k" * 8192}),
    # ---- what is sent ---------------------------------------------------------------------
    Case("text/plain", 415, error("unsupported_media_type", "send Content-Type: application/json (got 'text/plain')"),
         event(), content_type="text/plain"),
    Case("no content type", 415, error("unsupported_media_type", "send Content-Type: application/json (got none)"),
         event(), content_type=None),
    Case("form encoding", 415,
         error("unsupported_media_type",
               "send Content-Type: application/json (got 'application/x-www-form-urlencoded')"),
         b"event_type=page_view", content_type="application/x-www-form-urlencoded"),
    Case("JSON in latin-1", 415,
         error("unsupported_media_type",
               "send Content-Type: application/json (got 'application/json; charset=latin-1')"),
         event(), content_type="application/json; charset=latin-1"),
    Case("gzip body", 415,
         error("unsupported_media_type", "Content-Encoding is not supported: send the body uncompressed"),
         event(), headers={"Authorization": f"Bearer {WEB}", "Content-Encoding": "gzip"}),
    Case("event over 32 KB", 413,
         error("payload_too_large", f"the event is {len(BIG_EVENT)} bytes; at most 32768 bytes are accepted"),
         BIG_EVENT),
    Case("batch over 500 KB", 413,
         error("payload_too_large", f"the batch is {len(HUGE_BATCH)} bytes; at most 512000 bytes are accepted"),
         HUGE_BATCH, path="/v1/batch"),
    Case("501 events in a batch", 413,
         error("payload_too_large", "the batch holds 501 events; at most 500 are accepted"),
         body({"events": [{}] * 501}), path="/v1/batch"),
    Case("one event over 32 KB inside a batch", 413,
         error("payload_too_large",
               f"event 1 is {len(body(orjson.loads(ONE_HUGE_IN_BATCH)['events'][1]))} bytes; "
               "at most 32768 bytes are accepted"),
         ONE_HUGE_IN_BATCH, path="/v1/batch"),
    Case("empty body", 400,
         error("malformed_json",
               "the body is not valid JSON: Input is a zero-length, empty document (line 1, column 1)"),
         b""),
    Case("truncated JSON", 400,
         error("malformed_json", "the body is not valid JSON: unexpected end of data (line 1, column 2)"), b"{"),
    Case("two documents", 400,
         error("malformed_json", "the body is not valid JSON: unexpected content after document (line 1, column 8)"),
         b'{"a":1}}'),
    Case("invalid UTF-8", 400,
         error("malformed_json", "the body is not valid JSON: str is not valid UTF-8: surrogates not allowed "
                                 "(line 1, column 1)"),
         b'"\xed\xa0\x80"'),
    Case("NaN literal", 400,
         error("malformed_json", "the body is not valid JSON: unexpected character, expected a JSON value "
                                 "(line 1, column 7)"),
         b'{"a": NaN}'),
    Case("2000 nested arrays", 400,
         error("malformed_json", "the body is not valid JSON: depth limit exceeded (line 1, column 1026)"), NESTED),
    # ---- the event ------------------------------------------------------------------------
    Case("an array instead of an event", 422, invalid(("", "an event must be a JSON object")), b"[1, 2]"),
    Case("a string instead of an event", 422, invalid(("", "an event must be a JSON object")), b'"page_view"'),
    Case("empty object", 422, invalid(("event_type", f"is required; expected one of {TYPES}"))),
    Case("unknown event type", 422,
         invalid(("event_type", f"'drop_table' is not an event type; expected one of {TYPES}")),
         event(event_type="drop_table")),
    Case("an e-mail address as event type is not echoed", 422,
         invalid(("event_type",
                  f"'{keyed('email', 'mallory@example.com')}' is not an event type; "
                  f"expected one of {TYPES}")),
         event(event_type="mallory@example.com")),
    Case("schema version 2", 422,
         invalid(("schema_version", "schema_version 2 is not accepted; this collector accepts 1 to 1")),
         event(schema_version=2)),
    Case("event id that is not a UUID", 422,
         invalid(("event_id", "must be a UUID such as 1b4e28ba-2fa1-41d2-883f-0016d3cca427")),
         event(event_id="1 OR 1=1")),
    Case("occurred a day in the future", 422,
         invalid(("occurred_at", "is more than 10 minutes after received_at (clock ahead)")),
         event(occurred_at="2999-01-01T00:00:00Z")),
    Case("timestamp without offset", 422,
         invalid(("occurred_at", "Input should have timezone info")), event(occurred_at="2026-01-01T00:00:00")),
    Case("no user id and no anonymous id", 422,
         invalid(("user_id", "user_id or anonymous_id is required")), event(anonymous_id=None)),
    Case("prototype pollution key", 422,
         invalid(("__proto__", "is not a field of this event type; put free attributes in properties")),
         event(__proto__={"admin": True})),
    Case("an e-mail address as a field name is hashed", 422,
         invalid((keyed("email", "oscar@example.com"),
                  "is not a field of this event type; put free attributes in properties")),
         body({**page_view("hostile"), "oscar@example.com": 1})),
    Case("51 property keys", 422,
         invalid(("properties", "has 51 keys; at most 50 are allowed")),
         event(properties={f"k{i}": i for i in range(51)})),
    # ---- permissions ----------------------------------------------------------------------
    Case("purchase with a web key", 403,
         error("forbidden", "a write key of source web_analytics may not send purchase events (transaction-data)",
               [{"field": "event_type",
                 "message": "a write key of source web_analytics may not send purchase events (transaction-data)"}]),
         event(event_type="purchase", source="web_analytics")),
    Case("another source's name in the event", 403,
         error("forbidden", "the write key belongs to source web_analytics; this event says user_events",
               [{"field": "source",
                 "message": "the write key belongs to source web_analytics; this event says user_events"}]),
         event(source="user_events")),
    Case("duplicate keys: the last event_type wins", 403,
         error("forbidden", "a write key of source web_analytics may not send refund events (transaction-data)",
               [{"field": "event_type",
                 "message": "a write key of source web_analytics may not send refund events (transaction-data)"}]),
         b'{"event_type": "page_view", "event_type": "refund"}'),
    Case("a forbidden event inside a batch", 403,
         error("forbidden", "1 of the events may not be sent with the write key of web_analytics; nothing was accepted",
               [{"index": 1, "errors": [{"field": "event_type", "message":
                 "a write key of source web_analytics may not send click events (ad-events)"}]}]),
         body({"events": [SMALL, page_view("hostile", event_type="click")]}), path="/v1/batch"),
    # ---- batch shape ----------------------------------------------------------------------
    Case("batch that is a list", 422,
         error("invalid_batch", BATCH_SHAPE, [{"field": "events", "message": "is required"}]),
         body([SMALL]), path="/v1/batch"),
    Case("batch with an extra field", 422,
         error("invalid_batch", BATCH_SHAPE, [{"field": "sentAt", "message": "is not a field of a batch"}]),
         body({"events": [SMALL], "sentAt": "now"}), path="/v1/batch"),
    Case("empty batch", 422,
         error("invalid_batch", BATCH_SHAPE, [{"field": "events", "message": "must be a list of 1 to 500 events"}]),
         body({"events": []}), path="/v1/batch"),
    Case("events is an object", 422,
         error("invalid_batch", BATCH_SHAPE, [{"field": "events", "message": "must be a list of 1 to 500 events"}]),
         body({"events": {"0": SMALL}}), path="/v1/batch"),
    # ---- routes ---------------------------------------------------------------------------
    Case("GET on the event endpoint", 405, error("method_not_allowed", "Method Not Allowed"), method="GET",
         content=b"", answer_headers={"allow": "POST"}),
    Case("unknown path", 404, error("not_found", "Not Found"), path="/v1/../../etc/passwd"),
]  # fmt: skip


def _reasons(client: httpx.Client) -> Counter[str]:
    text = client.get("/metrics").text
    found = re.findall(r'^watershed_collector_events_rejected_total\{reason="([a-z_]+)"\} ([0-9.e+]+)$', text, re.M)
    return Counter({reason: int(float(value)) for reason, value in found})


def test_the_table_has_enough_rows() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def rejected(collector: httpx.Client, kafka_bootstrap: str) -> dict[str, Any]:
    """Send every case once; keep the answers, the metric deltas and what reached Kafka."""
    reader = Reader(kafka_bootstrap)
    try:
        before = _reasons(collector)
        answers = {}
        for case in CASES:
            headers = dict(case.headers)
            if case.content_type is not None:
                headers["Content-Type"] = case.content_type
            answers[case.name] = collector.request(case.method, case.path, content=case.content, headers=headers)
        after = _reasons(collector)
        records = reader.read()
    finally:
        reader.close()
    return {"answers": answers, "delta": after - before, "records": records}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_rejection_has_its_status_and_error(case: Case, rejected: dict[str, Any]) -> None:
    answer = rejected["answers"][case.name]
    assert (answer.status_code, answer.json()) == (case.status, case.answer)
    assert answer.headers["content-type"] == "application/json"
    for name, value in case.answer_headers.items():
        assert answer.headers[name] == value


def test_rejections_are_counted_by_reason(rejected: dict[str, Any]) -> None:
    expected = Counter(c.answer["error"] for c in CASES)
    assert rejected["delta"] == expected


def test_nothing_rejected_reaches_an_event_topic_and_no_raw_personal_data_reaches_kafka(
    rejected: dict[str, Any],
) -> None:
    topics = Counter(r.topic for r in rejected["records"])
    # the single events rejected by the contract are kept as dead letters, nothing else is written
    assert topics == Counter({"events-invalid": sum(1 for c in CASES if c.answer["error"] == "invalid_event")})
    everything = b"".join(r.value for r in rejected["records"])
    for raw in (b"mallory@example.com", b"oscar@example.com"):
        assert raw not in everything
        assert all(raw not in a.content for a in rejected["answers"].values())


def test_over_the_rate_limit_is_429_with_retry_after(kafka_bootstrap: str) -> None:
    # one event per 100 s and a burst of 500 events: the bucket starts full
    with serve(kafka_bootstrap, rate_limit=0.01, rate_limit_burst=500) as client:

        def batch(n: int) -> httpx.Response:
            return client.post("/v1/batch", json={"events": [page_view("limited") for _ in range(n)]}, headers=bearer())

        first = batch(300)  # 200 tokens left
        too_many = batch(500)  # needs 300 more: ~30,000 s; takes nothing
        rest = batch(200)  # the 200 left
        single = client.post("/v1/events", json=page_view("limited"), headers=bearer())  # empty: ~100 s
        login = {**page_view("limited", source="user_events", event_type="login", user_id="u-1"), "page_url": None}
        other_key = client.post("/v1/events", json=login, headers=bearer("user_events"))
        reasons = _reasons(client)
    assert [first.json()["accepted"], rest.json()["accepted"]] == [300, 200]
    waits = [int(too_many.headers["retry-after"]), int(single.headers["retry-after"])]
    assert 29_000 <= waits[0] <= 30_000 and 90 <= waits[1] <= 100
    assert [(too_many.status_code, too_many.json()), (single.status_code, single.json())] == [
        (429, error("rate_limited", f"the write key of web_analytics is over its limit of 0.01 events/s; "
                                    f"retry after {wait} s"))
        for wait in waits
    ]  # fmt: skip
    # a key's bucket is its own: another key is not limited by the first one's traffic
    assert other_key.status_code == 200, other_key.text
    assert reasons["rate_limited"] == 2
