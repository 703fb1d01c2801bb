"""Spark reads the generated files with exactly the contract's StructTypes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from watershed.contract import spark_schema


@pytest.mark.spark
def test_spark_sees_the_contract_schema(spark: Any, dataset: Path) -> None:
    from pyspark.sql.types import StringType, StructField

    events = spark.read.parquet(str(dataset / "events"))
    assert events.schema == spark_schema("events").add(StructField("raw_payload", StringType(), True))
    rows = spark.read.parquet(str(dataset / "ad_platform" / "*" / "*" / "rows.parquet"))
    assert rows.schema == spark_schema("ad_platform_daily")
    # every row the generator wrote, read independently with pyarrow, and again with the explicit
    # contract schema (what the jobs pass)
    import pyarrow.dataset as ds

    written = ds.dataset(dataset / "events", format="parquet", partitioning="hive")
    expected = written.count_rows()
    assert expected > 0
    assert events.count() == expected
    assert spark.read.schema(spark_schema("events")).parquet(str(dataset / "events")).count() == expected
    ids = {r.event_id for r in events.select("event_id").collect()}
    assert ids == set(written.to_table(columns=["event_id"]).column("event_id").to_pylist())
