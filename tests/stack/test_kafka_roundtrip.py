"""Events produced with acks=all to the real local broker come back exactly."""

from __future__ import annotations

import json
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from watershed.settings import DEFAULT_TOPICS


def _events(n: int) -> list[dict]:
    users = ["u-alice", "u-bob", "u-carol"]
    return [
        {"event_id": str(uuid.UUID(int=i + 1)), "user_id": users[i % 3], "event_type": "page_view", "seq": i}
        for i in range(n)
    ]


def test_topics_have_their_partitions(stack_settings):
    consumer = KafkaConsumer(bootstrap_servers=stack_settings.kafka_bootstrap)
    try:
        found = {t: len(consumer.partitions_for_topic(t) or ()) for t in DEFAULT_TOPICS}
    finally:
        consumer.close()
    assert found == {
        "user-events": 3,
        "transaction-data": 6,
        "ad-events": 3,
        "events-invalid": 1,
        "real-time-metrics": 1,
        "alerts": 1,
    }


def test_produce_acks_all_and_consume_back_exactly(kafka_bootstrap):
    topic = "user-events"
    sent = _events(60)
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v, sort_keys=True).encode(),
    )
    metadata = [producer.send(topic, key=e["user_id"], value=e).get(timeout=30) for e in sent]
    producer.close()

    # every send was acknowledged with a real offset; one user's events share one partition
    partitions_by_user: dict[str, set[int]] = {}
    for event, meta in zip(sent, metadata, strict=True):
        assert meta.offset >= 0
        partitions_by_user.setdefault(event["user_id"], set()).add(meta.partition)
    assert all(len(p) == 1 for p in partitions_by_user.values())

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
        key_deserializer=bytes.decode,
        value_deserializer=json.loads,
    )
    wanted = {(m.partition, m.offset) for m in metadata}
    parts = [TopicPartition(topic, p) for p in {m.partition for m in metadata}]
    consumer.assign(parts)
    for tp in parts:
        consumer.seek(tp, min(m.offset for m in metadata if m.partition == tp.partition))
    received = [r for r in consumer if (r.partition, r.offset) in wanted]
    consumer.close()

    assert sorted((r.key, r.value["seq"]) for r in received) == sorted((e["user_id"], e["seq"]) for e in sent)
    assert {json.dumps(r.value, sort_keys=True) for r in received} == {json.dumps(e, sort_keys=True) for e in sent}
    # per user (= per key = per partition) the order is the order sent
    for user in partitions_by_user:
        got = [r.value["seq"] for r in sorted(received, key=lambda r: r.offset) if r.key == user]
        assert got == [e["seq"] for e in sent if e["user_id"] == user]
