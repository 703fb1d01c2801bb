"""Reading and writing lake partitions (``<table>/dt=YYYY-MM-DD/``) deterministically."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from watershed.lake.hadoop import LakeFS

ROWS_PER_FILE = 2_000_000


def partition_uri(table: str, day: date) -> str:
    return f"{table}/dt={day.isoformat()}"


def read_days(spark: SparkSession, table: str, days: Iterable[date], schema: StructType) -> DataFrame:
    """The dt= partitions of `table` that exist among `days` (an empty frame when none do),
    with the partition columns taken from the path and typed by `schema`."""
    fs = LakeFS(spark)
    uris = [uri for uri in (partition_uri(table, d) for d in days) if fs.exists(uri)]
    if not uris:
        return spark.createDataFrame([], schema)
    return spark.read.schema(schema).option("basePath", table).parquet(*uris)


def files_for(rows: int) -> int:
    """How many files hold `rows` rows (at least one, even for none)."""
    return max(1, math.ceil(rows / ROWS_PER_FILE))


def write_day(frame: DataFrame, table: str, day: date, *, key: str, order: Sequence[str], files: int = 1) -> str:
    """Replace the partition `table/dt=day` with `frame` (without a dt column): exactly that folder
    is overwritten, even when `frame` is empty. Rows are hash-distributed on `key` over `files`
    files and sorted by `order` inside each, so the same rows give the same files on every run."""
    uri = partition_uri(table, day)
    frame.drop("dt").repartition(files, key).sortWithinPartitions(*order).write.mode("overwrite").parquet(uri)
    return uri


def count_day(spark: SparkSession, table: str, day: date) -> int:
    """Rows of a written partition (from the Parquet footers)."""
    return spark.read.parquet(partition_uri(table, day)).count()
