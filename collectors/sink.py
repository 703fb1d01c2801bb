"""Where accepted events go: the :class:`Sink` interface and its Kafka implementation.

:meth:`Sink.store` returns only once every record is acknowledged, or raises
:class:`SinkUnavailable`; the collector answers 2xx only after it returned. The Kafka sink uses
confluent-kafka (librdkafka), chosen by measurement (bench/collector/kafka_clients.py,
BENCHMARKS.md): an idempotent producer with ``acks=all``, murmur2 partitioning like the Java
client, and delivery reports served by one thread that hands completed requests to the event loop
in batches (one wake-up per ``poll()``, not one per record).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("watershed.collector")

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers | None = None


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str


class SinkUnavailable(Exception):
    """The destination did not take the records; nothing may be reported as accepted."""


class Sink(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def store(self, records: Sequence[Record]) -> None:
        """Return once every record is durably stored; raise SinkUnavailable otherwise."""

    async def is_healthy(self) -> Health: ...


class _Delivery:
    """The acknowledgements of one store() call. Called by librdkafka's delivery reports on the
    poll thread; when the last one arrives it queues its future for the event loop."""

    __slots__ = ("error", "future", "left", "sink")

    def __init__(self, sink: KafkaSink, future: asyncio.Future[None], count: int) -> None:
        self.sink, self.future, self.left, self.error = sink, future, count, None

    def __call__(self, err: Any, _msg: Any) -> None:
        if err is not None and self.error is None:
            self.error = err
        self.left -= 1
        if self.left == 0:
            self.sink._done.append((self.future, self.error))


def _resolve(done: list[tuple[asyncio.Future[None], Any]]) -> None:
    """On the event loop: answer the requests whose records are all acknowledged (or failed)."""
    for future, error in done:
        if future.done():  # its deadline passed first: already answered 503
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(SinkUnavailable(f"Kafka refused the events: {error}"))


def _expire(future: asyncio.Future[None], timeout: float) -> None:
    """The request's deadline passed: answer it now; a later acknowledgement finds it done."""
    if not future.done():
        future.set_exception(SinkUnavailable(f"Kafka did not acknowledge the events within {timeout:g} s"))


class KafkaSink:
    """Records to Kafka, acknowledged by every in-sync replica before store() returns.

    One thread waits in ``poll()`` (without the GIL while nothing happens); each time it returns it
    hands every completed request to the event loop in one ``call_soon_threadsafe``. The loop
    only produces and awaits futures, so no timer runs while the collector is idle.
    """

    POLL_SECONDS = 0.1

    def __init__(
        self,
        bootstrap: str,
        *,
        required_topics: Iterable[str],
        timeout: float = 5.0,
        linger_ms: float = 2.0,
        ready_cache_seconds: float = 1.0,
        ready_timeout: float = 2.0,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.required_topics = tuple(required_topics)
        self.timeout = timeout
        self.ready_cache_seconds = ready_cache_seconds
        self.ready_timeout = ready_timeout
        self.config = {
            "bootstrap.servers": bootstrap,
            "client.id": "watershed-collector",
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": linger_ms,
            "partitioner": "murmur2_random",  # the Java client's: one user -> one partition everywhere
            # a record not acknowledged within the request's deadline fails instead of waiting on
            "message.timeout.ms": max(1, int(timeout * 1000)),
            # reconnect soon after the broker returns (librdkafka's default backs off up to 10 s)
            "reconnect.backoff.ms": 100,
            "reconnect.backoff.max.ms": 1000,
            "error_cb": self._on_error,
            "logger": logging.getLogger("watershed.collector.kafka"),  # librdkafka's log, not stderr
            **(config or {}),
        }
        self._producer: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._done: list[tuple[asyncio.Future[None], Any]] = []  # touched by the poll thread only
        self._health: Health = Health(False, "not checked yet")
        self._health_at = -float("inf")
        self._health_check: asyncio.Task[Health] | None = None
        self._brokers_down = False

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        from confluent_kafka import Producer

        self._loop = asyncio.get_running_loop()
        self._producer = Producer(self.config)
        self._stopping.clear()
        self._poller = threading.Thread(target=self._serve, name="kafka-delivery-reports", daemon=True)
        self._poller.start()

    def _serve(self) -> None:
        producer, loop = self._producer, self._loop
        assert loop is not None
        while not self._stopping.is_set():
            producer.poll(self.POLL_SECONDS)  # runs the delivery callbacks, here
            if self._done:
                done, self._done = self._done, []
                try:
                    loop.call_soon_threadsafe(_resolve, done)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    return

    async def close(self) -> None:
        if self._poller is not None:
            self._stopping.set()
            await asyncio.get_running_loop().run_in_executor(None, self._poller.join)
            self._poller = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            remaining = await asyncio.get_running_loop().run_in_executor(None, producer.flush, self.timeout)
            if remaining:
                log.warning("%d records were not acknowledged before shutdown", remaining)

    # ---- storing -----------------------------------------------------------------------------

    async def store(self, records: Sequence[Record]) -> None:
        if not records:
            return
        if self._producer is None:
            raise SinkUnavailable("the Kafka producer is not running")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        delivery = _Delivery(self, future, len(records))
        produce = self._producer.produce
        try:
            for record in records:
                produce(record.topic, record.value, record.key, headers=record.headers, on_delivery=delivery)
        except BufferError:
            future.cancel()  # the records already queued must not resolve this request
            raise SinkUnavailable("the Kafka producer queue is full") from None
        except Exception as error:  # KafkaException: unknown topic, record too large, ...
            future.cancel()
            raise SinkUnavailable(f"Kafka refused the events: {error}") from None
        deadline = loop.call_later(self.timeout, _expire, future, self.timeout)
        try:
            await future
        finally:
            deadline.cancel()

    def _on_error(self, error: Any) -> None:
        # librdkafka reports connection trouble here (on the poll thread) and keeps retrying
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            if not self._brokers_down:
                log.warning("Kafka: all brokers are down (%s); answering 503 until they return", self.bootstrap)
            self._brokers_down = True
            self._health = Health(False, "all Kafka brokers are down")
        elif error.fatal():
            log.error("Kafka producer fatal error: %s", error)

    # ---- readiness ---------------------------------------------------------------------------

    async def is_healthy(self) -> Health:
        """Kafka reachable and every required topic present (asked at most once per
        `ready_cache_seconds`; concurrent callers share one check)."""
        if time.monotonic() - self._health_at < self.ready_cache_seconds:
            return self._health
        if self._health_check is None or self._health_check.done():
            self._health_check = asyncio.ensure_future(self._check())
        return await asyncio.shield(self._health_check)

    async def _check(self) -> Health:
        if self._producer is None:
            health = Health(False, "the Kafka producer is not running")
        else:
            loop = asyncio.get_running_loop()
            try:
                metadata = await loop.run_in_executor(None, self._list_topics)
            except Exception as error:
                health = Health(False, f"Kafka unreachable at {self.bootstrap}: {error}")
            else:
                missing = [t for t in self.required_topics if t not in metadata.topics or metadata.topics[t].error]
                health = Health(not missing, f"topics missing: {', '.join(missing)}" if missing else "ok")
                if self._brokers_down and health.ok:
                    log.warning("Kafka: reachable again at %s", self.bootstrap)
                self._brokers_down = not health.ok and self._brokers_down
        self._health, self._health_at = health, time.monotonic()
        return health

    def _list_topics(self) -> Any:
        return self._producer.list_topics(timeout=self.ready_timeout)


class MemorySink:
    """Keeps records in a list: for tests of the HTTP layer that do not need Kafka."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.healthy = True
        self.fail: Exception | None = None

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def store(self, records: Sequence[Record]) -> None:
        if self.fail is not None:
            raise self.fail
        self.records.extend(records)

    async def is_healthy(self) -> Health:
        return Health(self.healthy, "ok" if self.healthy else "memory sink marked unhealthy")
