"""`watershed gold --date D`: silver -> gold/product_interactions, partition dt=D.

Product interactions count the events that occurred on D, which live in silver/events dt=D and,
for sessions that started the evening before, dt=D-1. The other daily aggregates (funnel, daily
user metrics, daily revenue) are the dbt marts' alone (docs/warehouse.md): they are not computed
here a second time.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from pyspark.sql import SparkSession

from spark_jobs.batch.jobs.io import count_day, read_days, write_day
from spark_jobs.batch.jobs.schemas import silver_events_schema
from spark_jobs.batch.transforms.gold import product_interactions
from watershed import lake
from watershed.lake.hadoop import LakeFS
from watershed.settings import Settings


def run_gold(spark: SparkSession, settings: Settings, day: date) -> dict[str, Any]:
    events = read_days(
        spark, lake.path(settings, "silver", "events"), [day - timedelta(days=1), day], silver_events_schema(spark)
    )
    table = lake.path(settings, "gold", "product_interactions")
    write_day(product_interactions(events, day), table, day, key="product_id", order=("product_id",))
    report: dict[str, Any] = {"date": day.isoformat(), "product_interactions": count_day(spark, table, day)}
    LakeFS(spark).write_text(
        lake.path(settings, "_reports", "gold", f"dt={day.isoformat()}.json"), json.dumps(report, indent=2)
    )
    return report
