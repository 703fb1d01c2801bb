"""`watershed gold --date D`: silver -> gold/product_interactions, gold/funnel,
gold/daily_user_metrics and gold/daily_revenue, partition dt=D of each.

Product interactions and revenue count the events that occurred on D, which live in silver/events
dt=D and, for sessions that started the evening before, dt=D-1; the funnel and user metrics are
per session day, so they read silver/sessions dt=D only.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from pyspark.sql import SparkSession

from spark_jobs.batch.jobs.io import count_day, files_for, read_days, write_day
from spark_jobs.batch.jobs.schemas import silver_events_schema, silver_sessions_schema
from spark_jobs.batch.transforms.gold import daily_revenue, daily_user_metrics, funnel, product_interactions
from watershed import lake
from watershed.lake.hadoop import LakeFS
from watershed.settings import Settings


def run_gold(spark: SparkSession, settings: Settings, day: date) -> dict[str, Any]:
    events_table = lake.path(settings, "silver", "events")
    sessions_table = lake.path(settings, "silver", "sessions")
    events = read_days(spark, events_table, [day - timedelta(days=1), day], silver_events_schema(spark))
    day_sessions = read_days(spark, sessions_table, [day], silver_sessions_schema(spark))
    users = files_for(
        count_day(spark, sessions_table, day) if LakeFS(spark).exists(f"{sessions_table}/dt={day}") else 0
    )
    outputs = {  # name: (frame, key, order, files)
        "product_interactions": (product_interactions(events, day), "product_id", ("product_id",), 1),
        "funnel": (funnel(day_sessions), "device", ("device", "is_bot", "step_number"), 1),
        "daily_user_metrics": (daily_user_metrics(day_sessions), "user_key", ("user_key",), users),
        "daily_revenue": (daily_revenue(events, day), "orders", ("orders",), 1),
    }
    report: dict[str, Any] = {"date": day.isoformat()}
    for name, (frame, key, order, files) in outputs.items():
        table = lake.path(settings, "gold", name)
        write_day(frame, table, day, key=key, order=order, files=files)
        report[name] = count_day(spark, table, day)
    LakeFS(spark).write_text(
        lake.path(settings, "_reports", "gold", f"dt={day.isoformat()}.json"), json.dumps(report, indent=2)
    )
    return report
