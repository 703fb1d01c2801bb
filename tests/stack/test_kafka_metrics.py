"""The broker's own metrics: the JMX exporter's agent in the stack's Kafka JVM serves them on
loopback, and they count exactly what the broker received."""

from __future__ import annotations

import httpx
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from watershed.settings import Settings


def scrape(settings: Settings) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = httpx.get(f"http://127.0.0.1:{settings.kafka_metrics_port}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def test_the_broker_counts_the_messages_and_bytes_it_receives_per_topic(stack_settings: Settings) -> None:
    topic = (("topic", "alerts"),)
    before = scrape(stack_settings)
    values = [f"metrics-probe-{i:03d}".encode() for i in range(25)]  # 19 bytes each
    producer = KafkaProducer(bootstrap_servers=stack_settings.kafka_bootstrap, acks="all", linger_ms=0)
    for value in values:
        producer.send("alerts", value=value).get(timeout=30)  # one request per record
    producer.close()

    after = scrape(stack_settings)
    received = after[("kafka_server_messages_in_total", topic)] - before.get(
        ("kafka_server_messages_in_total", topic), 0
    )
    assert received == 25
    # bytes in count the record batches as stored (headers and framing included): more than the values
    grew = after[("kafka_server_bytes_in_total", topic)] - before.get(("kafka_server_bytes_in_total", topic), 0)
    assert grew > 25 * 19
    # a healthy single broker: no partition short of replicas or without a leader, one controller
    assert after[("kafka_server_replicamanager_underreplicatedpartitions", ())] == 0
    assert after[("kafka_controller_offlinepartitionscount", ())] == 0
    assert after[("kafka_controller_activecontrollercount", ())] == 1
    # produce requests were timed and counted (at least the 25 acknowledged sends)
    produced = after[("kafka_network_requests_total", (("request", "Produce"),))]
    assert produced - before.get(("kafka_network_requests_total", (("request", "Produce"),)), 0) >= 25
    assert ("kafka_network_request_total_time_ms", (("quantile", "0.99"), ("request", "Produce"))) in after
