"""Schemas of the silver tables, derived from the transforms themselves (applied to an empty
bronze frame), so a column added to a transform is read back without a second definition."""

from __future__ import annotations

from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from spark_jobs.batch.transforms.sessions import sessions
from spark_jobs.common.bronze import bronze_schema
from spark_jobs.common.lake_rules import SessionRules, TimeRules

_DT = T.StructField("dt", T.DateType())


def _nullable(schema: T.StructType) -> T.StructType:
    return T.StructType([T.StructField(f.name, f.dataType, True) for f in schema.fields] + [_DT])


def silver_events_schema(spark: SparkSession) -> T.StructType:
    from spark_jobs.batch.jobs.sessionize import transform

    events, _, _ = transform(spark.createDataFrame([], bronze_schema()), date(2000, 1, 1), SessionRules(), TimeRules())
    return _nullable(events.schema)


def silver_sessions_schema(spark: SparkSession) -> T.StructType:
    from spark_jobs.batch.jobs.sessionize import transform

    events, _, _ = transform(spark.createDataFrame([], bronze_schema()), date(2000, 1, 1), SessionRules(), TimeRules())
    return _nullable(sessions(events).schema)
