"""Spark reaches the real stack: Kafka through the connector, the lake through S3A on MinIO."""

from __future__ import annotations

import json
import uuid
from datetime import date

from kafka import KafkaProducer
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from watershed import lake
from watershed.settings import Settings


def test_spark_reads_events_from_kafka(spark, kafka_bootstrap):
    topic = "ad-events"
    marker = uuid.uuid4().hex  # isolates this test's records from any others on the topic
    sent = [{"event_id": f"{marker}-{i}", "campaign_id": f"c{i % 2}", "event_type": "click"} for i in range(25)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", key_serializer=str.encode)
    for event in sent:
        producer.send(topic, key=event["campaign_id"], value=json.dumps(event).encode())
    producer.flush()
    producer.close()

    frame = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", kafka_bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
        .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value", "topic")
        .where(f"value LIKE '%{marker}%'")
    )
    expected = spark.createDataFrame([Row(key=e["campaign_id"], value=json.dumps(e), topic=topic) for e in sent])
    assertDataFrameEqual(frame, expected)


def test_parquet_round_trip_through_s3a(spark, stack_settings: Settings):
    s3_settings = stack_settings.model_copy(update={"lake_uri": f"s3a://{stack_settings.s3_bucket}/lake"})
    target = lake.path(s3_settings, "test", f"run={uuid.uuid4().hex}")
    assert target.startswith("s3a://watershed/lake/test/run=")
    rows = [Row(event_id=f"e{i}", dt=date(2026, 11, 20 + i % 2), revenue=float(i)) for i in range(40)]
    frame = spark.createDataFrame(rows)
    frame.write.mode("overwrite").partitionBy("dt").parquet(target)

    assertDataFrameEqual(spark.read.parquet(target).select("event_id", "dt", "revenue"), frame)

    # the objects really are in the S3 server, partitioned as asked
    key_prefix = target.removeprefix(f"s3a://{stack_settings.s3_bucket}/") + "/"
    listed = lake.s3_client(stack_settings).list_objects_v2(Bucket=stack_settings.s3_bucket, Prefix=key_prefix)
    keys = [o["Key"].removeprefix(key_prefix) for o in listed.get("Contents", [])]
    assert {k.split("/")[0] for k in keys if k.endswith(".parquet")} == {"dt=2026-11-20", "dt=2026-11-21"}
    assert not [k for k in keys if "_temporary" in k or ".spark-staging" in k]  # the commit cleaned up
