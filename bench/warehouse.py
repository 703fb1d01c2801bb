"""Benchmark: `watershed warehouse load` + `dbt build` on 10 million events.

Goal (issue 6): loading the lake's silver and gold of 10 million events into the local DuckDB
warehouse and running `dbt build` (every model, data test and unit test) in under 60 seconds.

The lake is prepared once and kept (``--lake``, default ``.local/bench/warehouse-<events>/lake``):
`watershed generate` writes the events, then the Spark jobs' own transforms deduplicate and
sessionize them and write silver and gold per day, as `watershed sessionize` and `watershed gold`
do (without Kafka and landing, which have benchmarks of their own). Then, timed:

1. a new warehouse file: every day loaded (`load_date`), then one `dbt build` of everything;
2. a daily run on top: the last day loaded again and `dbt build --vars run_date` (the day and the
   two lookback days rebuilt, dim_users whole).

    python bench/warehouse.py                    # 10 million events, 7 days
    python bench/warehouse.py --events 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._report import record
from watershed.settings import REPO_ROOT, Settings, load_settings


def prepare_lake(lake: Path, events: int, days: int, seed: int) -> list[date]:
    """Silver and gold of a generated data set in `lake` (reused when already there)."""
    from watershed.generator import FaultRates, GeneratorConfig, generate

    faults = FaultRates(duplicate=0.01, late=0.01, out_of_order=0.01, bot=0.02, pii=0.005)
    config = GeneratorConfig(seed=seed, days=days, events=events, faults=faults)
    day_list = [config.start_date + timedelta(days=i) for i in range(days)]
    marker = lake / "_bench.json"
    params = {"events": events, "days": days, "seed": seed, "start_date": config.start_date.isoformat()}
    if marker.exists() and json.loads(marker.read_text()) == params:
        print(f"reusing the lake in {lake}")
        return day_list

    shutil.rmtree(lake, ignore_errors=True)
    generated = lake.parent / "generated"
    start = time.perf_counter()
    summary = generate(config, generated)
    print(f"generated {summary['rows']:,} events in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    _spark_jobs(load_settings(lake_uri=str(lake)), generated, day_list)
    print(f"silver and gold written in {time.perf_counter() - start:.0f} s")
    shutil.rmtree(generated)
    marker.write_text(json.dumps(params))
    return day_list


def _spark_jobs(settings: Settings, generated: Path, days: list[date]) -> None:
    """The lake jobs' transforms on the generated events (no malformed ones: nothing to quarantine)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from spark_jobs.jobs.gold import run_gold
    from spark_jobs.jobs.io import write_day
    from spark_jobs.jobs.sessionize import SILVER_EVENT_COLUMNS
    from spark_jobs.rules import SessionRules
    from spark_jobs.transforms.dedup import deduplicate
    from spark_jobs.transforms.sessions import events_of_day, sessionize, sessions
    from watershed import lake
    from watershed.contract import spark_schema
    from watershed.spark import spark_session

    spark = spark_session(settings, app_name="bench-warehouse")
    received = spark.read.schema(spark_schema("events")).parquet(str(generated / "events"))
    as_landed = received.withColumns(
        {
            "kafka_timestamp": F.col("received_at"),
            "kafka_topic": F.lit("bench"),
            "kafka_partition": F.lit(0).cast("int"),
            "kafka_offset": F.monotonically_increasing_id(),
            "ingested_at": F.col("received_at"),
        }
    )
    silver = sessionize(deduplicate(as_landed), SessionRules()).select(*SILVER_EVENT_COLUMNS)
    silver = silver.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        for day in days:
            own = events_of_day(silver, day)
            write_day(own, lake.path(settings, "silver", "events"), day, key="user_key",
                      order=("user_key", "occurred_at", "event_id"))  # fmt: skip
            write_day(sessions(own), lake.path(settings, "silver", "sessions"), day, key="user_key",
                      order=("user_key", "session_start", "session_id"))  # fmt: skip
        for day in days:
            run_gold(spark, settings, day)
    finally:
        silver.unpersist()
        spark.stop()


def timed_runs(lake: Path, work: Path, days: list[date]) -> dict[str, Any]:
    from watershed.warehouse import load_date
    from watershed.warehouse.dbt import build_args, run_dbt

    database = work / "warehouse.duckdb"
    database.unlink(missing_ok=True)
    settings = load_settings(lake_uri=str(lake), duckdb_path=database)
    env = {"DBT_TARGET_PATH": str(work / "dbt-target"), "DBT_LOG_PATH": str(work / "dbt-logs")}
    shutil.rmtree(work / "dbt-target", ignore_errors=True)

    start = time.perf_counter()
    loaded = [load_date(settings, day) for day in days]
    load_seconds = time.perf_counter() - start
    start = time.perf_counter()
    run_dbt(settings, build_args(), env=env, capture=True)
    build_seconds = time.perf_counter() - start

    start = time.perf_counter()
    load_date(settings, days[-1])
    daily_load = time.perf_counter() - start
    start = time.perf_counter()
    output = run_dbt(settings, build_args(days[-1]), env=env, capture=True).stdout
    daily_build = time.perf_counter() - start
    done = [line for line in output.splitlines() if "Done. PASS=" in line][-1].split("Done. ")[-1]

    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        counts = {
            name: con.execute(f"select count(*) from {name}").fetchone()[0]  # type: ignore[index]
            for name in ("raw.events", "marts.fct_user_events", "marts.fct_sessions", "marts.dim_users")
        }
    return {
        "events": sum(r["rows"]["events"] for r in loaded),
        "load_seconds": load_seconds,
        "build_seconds": build_seconds,
        "daily_load_seconds": daily_load,
        "daily_build_seconds": daily_build,
        "counts": counts,
        "dbt": done,
        "size_mb": database.stat().st_size / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="where the lake and the warehouse are kept")
    args = parser.parse_args()

    work = args.work or REPO_ROOT / ".local" / "bench" / f"warehouse-{args.events}"
    work.mkdir(parents=True, exist_ok=True)
    days = prepare_lake(work / "lake", args.events, args.days, args.seed)
    load_before = os.getloadavg()[0]
    figures = timed_runs(work / "lake", work, days)
    load_after = os.getloadavg()[0]

    total = figures["load_seconds"] + figures["build_seconds"]
    goal = "met" if figures["events"] >= 10_000_000 and total < 60 else "not met"
    if figures["events"] < 10_000_000:
        goal = "n/a: fewer than 10 million events"
    counts = figures["counts"]
    body = "\n".join(
        [
            "| events | load (s) | dbt build (s) | load + build (s) | daily run: load 1 day + build (s) "
            "| warehouse size | load average (1 min) |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {figures['events']:,} | {figures['load_seconds']:.1f} | {figures['build_seconds']:.1f} | {total:.1f} "
            f"| {figures['daily_load_seconds']:.1f} + {figures['daily_build_seconds']:.1f} "
            f"| {figures['size_mb']:,.0f} MB | {load_before:.1f} before, {load_after:.1f} after |",
            "",
            f"{args.days} days of generated traffic (seed {args.seed}) through the Spark jobs' transforms into the "
            f"lake, then timed: {len(days)} days loaded into a new DuckDB file and one `dbt build` of every model, "
            f"data test and unit test ({counts['marts.fct_sessions']:,} sessions, {counts['marts.dim_users']:,} "
            f"users; dbt: {figures['dbt']}). The daily run reloads the last day and rebuilds it with its two "
            f"lookback days. Goal: load + build of 10 million events in under 60 s ({goal} in this run). This "
            f"machine has {os.cpu_count()} cores: a load average above that means other processes shared them.",
        ]
    )
    print(body)
    record("warehouse", "Warehouse: load + dbt build", body)


if __name__ == "__main__":
    main()
