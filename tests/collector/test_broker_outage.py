"""The broker stops in the middle of a run: the collector answers 503 with Retry-After (never a
2xx), /ready turns false; the broker returns: 2xx again without a restart of the collector, and
every event that was answered 2xx is in Kafka, in the order it was sent."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.collector.conftest import Reader, bearer, page_view, serve
from watershed.settings import Settings
from watershed.stack import Stack
from watershed.stack.process import free_port


@dataclass(frozen=True)
class Sent:
    started: float
    ended: float
    status: int
    retry_after: str | None
    event_ids: tuple[str, ...]


class Poster(threading.Thread):
    """One client sending events of one user, one request after the other, alternating single
    events and batches of 5, until stopped."""

    def __init__(self, client: httpx.Client, user: str) -> None:
        super().__init__(daemon=True)
        self.client, self.user = client, user
        self.sent: list[Sent] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            events = [page_view(self.user) for _ in range(1 if n % 2 else 5)]
            started = time.monotonic()
            if len(events) == 1:
                answer = self.client.post("/v1/events", json=events[0], headers=bearer())
            else:
                answer = self.client.post("/v1/batch", json={"events": events}, headers=bearer())
            ended = time.monotonic()
            ids = tuple(e["event_id"] for e in events)
            self.sent.append(Sent(started, ended, answer.status_code, answer.headers.get("retry-after"), ids))
            n += 1
            if answer.status_code == 503:
                time.sleep(float(answer.headers["retry-after"]) / 10)  # a patient client, sped up

    def count(self, predicate: Callable[[Sent], bool]) -> int:
        return sum(1 for s in list(self.sent) if predicate(s))


def wait_for(condition: Callable[[], bool], what: str, limit: float = 180) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def own_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Kafka broker for this test alone (it is stopped and restarted)."""
    settings = Settings(
        env="local",
        state_dir=tmp_path_factory.mktemp("outage"),
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        kafka_metrics_port=free_port(),
    )
    stack = Stack(settings, ["kafka"])
    stack.up(echo=lambda _: None)
    try:
        yield stack
    finally:
        stack.down(echo=lambda _: None)


def test_broker_outage_gives_503_then_recovers_without_losing_an_accepted_event(own_broker: Stack) -> None:
    bootstrap = own_broker.settings.kafka_bootstrap
    user = f"outage-{uuid.uuid4().hex[:8]}"
    with serve(bootstrap, kafka_timeout=2, unavailable_retry_after=1, ready_cache_seconds=0) as client:
        poster = Poster(client, user)
        poster.start()
        try:
            wait_for(lambda: poster.count(lambda s: s.status == 200) >= 20, "20 answers before the outage")
            own_broker.down(echo=lambda _: None)
            down = time.monotonic()
            wait_for(lambda: poster.count(lambda s: s.started > down) >= 4, "4 answers during the outage")
            ready_during = client.get("/ready")
            up_started = time.monotonic()
            own_broker.up(echo=lambda _: None)
            wait_for(lambda: poster.count(lambda s: s.started > up_started and s.status == 200) >= 20, "recovery")
            ready_after = client.get("/ready")
        finally:
            poster.stop.set()
            poster.join(timeout=60)

    sent = poster.sent
    during = [s for s in sent if s.started > down and s.ended < up_started]
    # while the broker was away: 503 with Retry-After, never a 2xx
    assert during and {(s.status, s.retry_after) for s in during} == {(503, "1")}
    assert ready_during.status_code == 503 and ready_during.json()["ready"] is False
    # back: 2xx again from the same collector process
    assert ready_after.json() == {"ready": True, "detail": "ok"}
    assert sent[-1].status == 200
    assert {s.status for s in sent} <= {200, 503}

    # every accepted event is in Kafka, in the order it was sent
    reader = Reader(bootstrap)
    reader.start = dict.fromkeys(reader.start, 0)
    records = [r for r in reader.read() if r.topic == "user-events"]
    reader.close()
    stored = [json.loads(r.value)["event_id"] for r in records]
    accepted = [i for s in sent if s.status == 200 for i in s.event_ids]
    assert set(accepted) <= set(stored)
    first_seen = list(dict.fromkeys(stored))
    assert [i for i in first_seen if i in set(accepted)] == accepted
    assert {r.key for r in records} == {user.encode()}
    print(
        f"\n{len(sent)} requests: {sum(s.status == 200 for s in sent)} accepted, "
        f"{sum(s.status == 503 for s in sent)} answered 503; "
        f"503s answered within {max((s.ended - s.started for s in sent if s.status == 503), default=0):.2f} s; "
        f"{len(stored)} records stored for {len(accepted)} accepted events"
    )
