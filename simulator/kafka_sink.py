"""Events straight to Kafka, as the collector would write them: JSON values with received_at,
key = user_id else anonymous_id, the topic of the event's family, ``acks=all`` with an
idempotent producer. Delivery failures fail the run: nothing is dropped silently.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from simulator.assemble import EventStream
from simulator.config import GeneratorError
from simulator.sinks import topics, windows
from simulator.wire import dumps, payloads

_PRODUCER_DEFAULTS = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 50,
    "compression.type": "zstd",
}


@dataclass(frozen=True)
class KafkaSink:
    bootstrap: str
    producer_config: dict[str, Any] = field(default_factory=dict)
    flush_timeout: float = 120.0

    def send(self, events: EventStream) -> dict[str, Any]:
        from confluent_kafka import KafkaException, Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, **_PRODUCER_DEFAULTS, **self.producer_config})
        failures: list[str] = []

        def delivered(error: Any, _message: Any) -> None:
            if error is not None:
                failures.append(str(error))

        sent: Counter[str] = Counter()
        try:
            for window, types in windows(events):
                for payload, topic in zip(payloads(window, received_at=True), topics(types), strict=True):
                    key = payload.get("user_id") or payload.get("anonymous_id")
                    _produce(producer, topic, dumps(payload), None if key is None else str(key).encode(), delivered)
                    sent[topic] += 1
            undelivered = producer.flush(self.flush_timeout)
        except KafkaException as error:
            raise GeneratorError(f"Kafka at {self.bootstrap} failed: {error}") from error
        if undelivered or failures:
            raise GeneratorError(
                f"Kafka at {self.bootstrap}: {undelivered} message(s) not delivered, {len(failures)} failed"
                + (f" (first: {failures[0]})" if failures else "")
            )
        return {"sink": "kafka", "bootstrap": self.bootstrap, "topics": dict(sorted(sent.items()))}


def _produce(producer: Any, topic: str, value: bytes, key: bytes | None, on_delivery: Any) -> None:
    """Produce, waiting for room when the local queue is full."""
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.5)
            continue
        producer.poll(0)
        return
