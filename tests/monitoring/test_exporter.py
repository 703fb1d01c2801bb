"""The exporter against the real stores: the test stack's Kafka broker, a landing checkpoint and a
real-time heartbeat in Spark's and the job's own file formats, a DuckDB warehouse file; a store
that cannot be read is reported down with its reason, and the rest is still exported."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from monitoring.exporter import PlatformCollector, pipeline_families, warehouse_metrics
from simulator.fakes.snowflake import FakeSnowflake
from spark_jobs.landing.job import TOPICS
from spark_jobs.streaming.config import SOURCE_TOPICS
from tests.conftest import prod_on_fake_snowflake
from watershed.stack.process import free_port

NOW = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)


def scrape(collector: PlatformCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def end_offsets(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], int]:
    """The broker's end offsets, read here with kafka-python (the exporter uses confluent-kafka)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        return {(tp.topic, tp.partition): offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def write_offset_log(folder: Path, offsets: dict[tuple[str, int], int]) -> None:
    """A Spark Kafka source checkpoint with one committed batch (offsets/0 and commits/0)."""
    by_topic: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in offsets.items():
        by_topic.setdefault(topic, {})[str(partition)] = offset
    (folder / "offsets").mkdir(parents=True)
    (folder / "commits").mkdir()
    metadata = {"batchWatermarkMs": 0, "batchTimestampMs": 0, "conf": {}}
    (folder / "offsets" / "0").write_text(f"v1\n{json.dumps(metadata)}\n{json.dumps(by_topic)}\n")
    (folder / "commits" / "0").write_text('v1\n{"nextBatchWatermarkMs":0}\n')


def produce(bootstrap: str, records: list[tuple[str, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for future in [producer.send(topic, key=b"k", value=value) for topic, value in records]:
            future.get(timeout=60)
    finally:
        producer.close()


def test_lag_heartbeat_and_freshness_come_from_the_real_stores(stack_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = stack_settings.model_copy(
        update={
            "lake_uri": str(tmp_path / "lake"),
            "state_dir": tmp_path / "state",
            "duckdb_path": tmp_path / "warehouse.duckdb",
            "monitoring_airflow_db_url": SecretStr(f"sqlite:///{tmp_path / 'nowhere' / 'airflow.db'}"),
        }
    )
    landing_topic, stream_topic = TOPICS[0], SOURCE_TOPICS[-1]
    produce(settings.kafka_bootstrap, [(landing_topic, b"{}")] * 3 + [(stream_topic, b"{}")] * 2)
    ends = end_offsets(settings.kafka_bootstrap, sorted({*TOPICS, *SOURCE_TOPICS}))
    # landing committed everything but the last 3 records of the partition they went to
    landed_partition = max((tp for tp in ends if tp[0] == landing_topic), key=lambda tp: ends[tp])
    write_offset_log(
        Path(settings.lake.removeprefix("file://")) / "_checkpoints" / "landing",
        {tp: end - (3 if tp == landed_partition else 0) for tp, end in ends.items() if tp[0] in TOPICS},
    )
    # the real-time job's last progress reached the end but for 2 records of one partition
    streamed_partition = max((tp for tp in ends if tp[0] == stream_topic), key=lambda tp: ends[tp])
    reached: dict[str, dict[str, int]] = {}
    for tp, end in ends.items():
        if tp[0] in SOURCE_TOPICS:
            reached.setdefault(tp[0], {})[str(tp[1])] = end - (2 if tp == streamed_partition else 0)
    home = settings.state_dir / "streaming"
    home.mkdir(parents=True)
    beat = datetime.now(UTC) - timedelta(seconds=30)
    (home / "heartbeat.json").write_text(json.dumps({
        "status": "running", "updated_at": beat.isoformat(),
        "queries": {"metrics": {"end_offsets": reached, "watermark": "2026-12-07T10:55:00.000Z"}},
    }))  # fmt: skip
    with duckdb.connect(str(settings.duckdb_file)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_user_events (occurred_at timestamp)")
        con.execute("insert into marts.fct_user_events values ('2026-12-07 09:00:00'), ('2026-12-07 10:30:00')")

    collector = PlatformCollector(settings, clock=NOW.timestamp)
    got = scrape(collector)

    lag = {
        (dict(labels)["consumer"], dict(labels)["topic"]): value
        for (name, labels), value in got.items()
        if name == "watershed_consumer_lag_records"
    }
    assert lag == {("landing", t): (3.0 if t == landing_topic else 0.0) for t in TOPICS} | {
        ("realtime", t): (2.0 if t == stream_topic else 0.0) for t in SOURCE_TOPICS
    }
    assert got[("watershed_data_freshness_seconds", (("store", "marts"),))] == 1800.0  # 11:00 - 10:30
    assert got[("watershed_data_freshness_seconds", (("store", "realtime"),))] == 300.0  # 11:00 - 10:55
    assert got[("watershed_realtime_running", ())] == 0.0  # no pid file: not running
    assert 29 <= got[("watershed_realtime_heartbeat_age_seconds", ())] < 90
    up = {dict(labels)["source"]: v for (name, labels), v in got.items() if name == "watershed_exporter_source_up"}
    assert up == {"airflow": 0.0, "kafka": 1.0, "realtime": 1.0, "warehouse": 1.0, "disk": 1.0}
    disk = (("path", str(settings.state_dir)),)
    assert got[("watershed_state_disk_size_bytes", disk)] == shutil.disk_usage(settings.state_dir).total
    assert 0 < got[("watershed_state_disk_free_bytes", disk)] <= got[("watershed_state_disk_size_bytes", disk)]
    assert collector.errors["airflow"].startswith("OperationalError: (sqlite3.OperationalError) unable to open")
    assert not any(name.startswith("pipeline_") for name, _ in got)  # nothing from a source that is down


def test_a_store_that_cannot_be_read_is_down_with_its_reason_and_the_rest_still_exported(tmp_path: Path) -> None:
    def broken(settings: Any, now: float) -> list[Any]:
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    def runs(settings: Any, now: float) -> list[Any]:
        return pipeline_families([("ecommerce_daily", "success", 2)], [], [])

    collector = PlatformCollector(None, {"kafka": broken, "airflow": runs}, clock=NOW.timestamp)  # type: ignore[arg-type]
    got = scrape(collector)
    assert got[("watershed_exporter_source_up", (("source", "kafka"),))] == 0.0
    assert got[("watershed_exporter_source_up", (("source", "airflow"),))] == 1.0
    assert got[("pipeline_success_total", (("pipeline", "ecommerce_daily"),))] == 2.0
    assert collector.errors == {"kafka": "ConnectionRefusedError: [Errno 111] Connection refused"}


def test_pipeline_metrics_count_runs_and_describe_the_last_one() -> None:
    start, end = datetime(2026, 12, 7, 2, 0), datetime(2026, 12, 7, 2, 7, 30)
    families = pipeline_families(
        [("ecommerce_daily", "success", 5), ("ecommerce_daily", "failed", 2), ("ad_campaign_daily", "failed", 1)],
        [
            ("ecommerce_daily", "failed", start, end, start + timedelta(seconds=20)),  # queued 20 s first
            ("ad_campaign_daily", "failed", "2026-12-07 02:00:00", "2026-12-07 02:01:00", None),
        ],
        [("ecommerce_daily", 3, 4), ("ad_campaign_daily", None, None)],
    )  # fmt: skip
    samples = {(s.name, s.labels["pipeline"]): s.value for f in families for s in f.samples}
    assert samples == {
        ("pipeline_success_total", "ad_campaign_daily"): 0,
        ("pipeline_success_total", "ecommerce_daily"): 5,
        ("pipeline_failure_total", "ad_campaign_daily"): 1,
        ("pipeline_failure_total", "ecommerce_daily"): 2,
        ("pipeline_duration_seconds", "ad_campaign_daily"): 60.0,
        ("pipeline_duration_seconds", "ecommerce_daily"): 430.0,
        ("pipeline_last_run_success", "ad_campaign_daily"): 0,
        ("pipeline_last_run_success", "ecommerce_daily"): 0,
        ("pipeline_task_failures_total", "ad_campaign_daily"): 0,
        ("pipeline_task_failures_total", "ecommerce_daily"): 3,
        ("pipeline_task_retries_total", "ad_campaign_daily"): 0,
        ("pipeline_task_retries_total", "ecommerce_daily"): 4,
    }


def test_freshness_on_snowflake_is_read_through_the_connector(tmp_path: Path) -> None:
    marts = tmp_path / "snowflake-standin.duckdb"
    with duckdb.connect(str(marts)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.fct_user_events (occurred_at timestamp)")
        con.execute("insert into marts.fct_user_events values ('2026-12-07 09:00:00'), ('2026-12-07 10:15:00')")
    snowflake = FakeSnowflake(marts)
    try:
        settings = prod_on_fake_snowflake(tmp_path, snowflake.port)
        assert settings.warehouse == "snowflake"
        collector = PlatformCollector(settings, {"warehouse": warehouse_metrics}, clock=NOW.timestamp)
        got = scrape(collector)
    finally:
        snowflake.stop()
    assert got[("watershed_data_freshness_seconds", (("store", "marts"),))] == 2700.0  # 11:00 - 10:15
    assert got[("watershed_exporter_source_up", (("source", "warehouse"),))] == 1.0
    # what went over the wire: a login as the configured user to the configured database, one query
    login, query, close = snowflake.requests
    assert login["path"] == "/session/v1/login-request"
    assert (login["body"]["data"]["LOGIN_NAME"], login["body"]["data"]["ACCOUNT_NAME"]) == ("monitor", "acme-eu1")
    assert query["body"]["sqlText"] == "select max(occurred_at) from marts.fct_user_events"
    assert close["path"] == "/session"


def test_an_unreachable_snowflake_is_a_source_down_not_fresh_data(tmp_path: Path) -> None:
    settings = prod_on_fake_snowflake(tmp_path, free_port()).model_copy(update={"snowflake_port": free_port()})
    collector = PlatformCollector(settings, {"warehouse": warehouse_metrics}, clock=NOW.timestamp)
    got = scrape(collector)
    assert got[("watershed_exporter_source_up", (("source", "warehouse"),))] == 0.0
    assert not any(name == "watershed_data_freshness_seconds" for name, _ in got)
    assert collector.errors["warehouse"].startswith("WarehouseError: cannot connect to Snowflake account acme-eu1: ")
