"""`watershed demo`: the platform's main job on the local default, narrated.

At this stage it proves the spine of the platform end to end: events are produced with
acks=all to the local Kafka broker, keyed by user so one user's events stay ordered, and consumed
back from the offsets the broker acknowledged. Later stages extend it to the whole pipeline.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import click

from watershed.settings import load_settings

# (topic, event_type) of a small, plausible visit: browse, cart, buy, and the ad that brought it
_VISIT = [
    ("ad-events", "impression"),
    ("ad-events", "click"),
    ("user-events", "page_view"),
    ("user-events", "product_view"),
    ("user-events", "add_to_cart"),
    ("user-events", "begin_checkout"),
    ("transaction-data", "purchase"),
    ("ad-events", "conversion"),
]


def sample_events(users: int, start: datetime) -> list[tuple[str, dict]]:
    """One visit per user; deterministic ids so reruns are comparable."""
    events = []
    for u in range(users):
        user = f"demo-user-{u + 1}"
        for step, (topic, event_type) in enumerate(_VISIT):
            events.append(
                (
                    topic,
                    {
                        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"watershed-demo/{user}/{step}")),
                        "event_type": event_type,
                        "user_id": user,
                        "occurred_at": (start + timedelta(minutes=5 * u, seconds=20 * step)).isoformat(),
                        **({"revenue": 42.5 + u, "currency": "USD"} if event_type == "purchase" else {}),
                    },
                )
            )
    return events


@click.command()
@click.option("--users", default=3, show_default=True, help="Simulated visitors (8 events each).")
def demo(users: int) -> None:
    """Produce a few events through Kafka, consume them back and print what happened."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    settings = load_settings()
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    events = sample_events(users, start)
    click.echo(f"Kafka at {settings.kafka_bootstrap}; producing {len(events)} events with acks=all ...")
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v, sort_keys=True).encode(),
    )
    acked = [producer.send(t, key=e["user_id"], value=e).get(timeout=30) for t, e in events]
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
        value_deserializer=json.loads,
    )
    wanted = {(m.topic, m.partition, m.offset) for m in acked}
    parts = sorted({(m.topic, m.partition) for m in acked})
    consumer.assign([TopicPartition(t, p) for t, p in parts])
    for t, p in parts:
        consumer.seek(TopicPartition(t, p), min(m.offset for m in acked if (m.topic, m.partition) == (t, p)))
    received = []
    for record in consumer:
        if (record.topic, record.partition, record.offset) in wanted:
            received.append(record)
        if len(received) == len(wanted):
            break
    consumer.close()

    produced_by = Counter(t for t, _ in events)
    consumed_by = Counter(r.topic for r in received)
    click.echo(f"\n{'topic':<18}{'produced':>10}{'consumed':>10}  partitions")
    for topic in sorted(produced_by):
        partitions = sorted({m.partition for m in acked if m.topic == topic})
        click.echo(f"{topic:<18}{produced_by[topic]:>10}{consumed_by[topic]:>10}  {partitions}")
    revenue = sum(r.value.get("revenue", 0) for r in received if r.value["event_type"] == "purchase")
    same = sorted(json.dumps(r.value, sort_keys=True) for r in received) == sorted(
        json.dumps(e, sort_keys=True) for _, e in events
    )
    click.echo(f"\nconsumed back {len(received)}/{len(events)} events, identical to what was sent: {same}")
    click.echo(f"purchases: {users}, revenue: {revenue:.2f} USD")
    click.echo(f"lake: {settings.lake}   warehouse: {settings.duckdb_file}   logs: {settings.state_dir / 'logs'}")
    if not same:
        raise SystemExit(1)
