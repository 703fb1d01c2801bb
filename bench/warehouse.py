"""Benchmark: `watershed warehouse load` + `dbt build` on 10 million events.

Goal (issue 6): loading the lake's silver and gold of 10 million events into the local DuckDB
warehouse and running `dbt build` (every model, data test and unit test) in under 60 seconds.

The lake is prepared once and kept (``--work``, default ``.local/bench/warehouse-<events>/``):
`watershed generate` writes the events, then silver and gold (product interactions, the lake's one
gold table) are written per day. By default a DuckDB stand-in for the lake jobs does it
(deduplication, the contract's session rule and the product interactions in SQL, below), because
Spark needs about an hour for 10 million events on this machine; ``--prep spark`` runs the Spark
jobs' own transforms instead. The stand-in only prepares the input; tests/warehouse/test_ground_truth.py
runs the real Spark jobs. Kafka and landing are left out (they have benchmarks of their own). Then,
timed:

1. a new warehouse file: every day loaded (`load_date`), then one `dbt build` of everything;
2. a daily run on top: the last day loaded again and `dbt build --vars run_date` (the day and the
   two lookback days rebuilt, dim_users whole).

Untimed, after the runs: the marts daily_revenue (per day and currency), conversion_funnel and
agg_daily_user_metrics are compared with the benchmark's independent reference
(:func:`reference_aggregates`, DuckDB SQL straight over the silver files, sharing no code with
dbt), so a fast build that computes the wrong figures does not pass unnoticed.

    python bench/warehouse.py                    # 10 million events, 7 days
    python bench/warehouse.py --events 1000000
    python bench/warehouse.py --prep spark      # silver and gold by the Spark jobs' transforms
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
from watershed.settings import Settings, load_settings


def prepare_lake(lake: Path, events: int, days: int, seed: int, prep: str) -> list[date]:
    """Silver and gold of a generated data set in `lake` (reused when already there)."""
    from simulator import FaultRates, GeneratorConfig, generate

    faults = FaultRates(duplicate=0.01, late=0.01, out_of_order=0.01, bot=0.02, pii=0.005)
    config = GeneratorConfig(seed=seed, days=days, events=events, faults=faults)
    day_list = [config.start_date + timedelta(days=i) for i in range(days)]
    marker = lake / "_bench.json"
    params = {"events": events, "days": days, "seed": seed, "start_date": config.start_date.isoformat(), "prep": prep}
    if marker.exists() and json.loads(marker.read_text()) == params:
        print(f"reusing the lake in {lake}")
        return day_list

    shutil.rmtree(lake, ignore_errors=True)
    generated = lake.parent / "generated"
    start = time.perf_counter()
    summary = generate(config, generated)
    print(f"generated {summary['rows']:,} events in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    if prep == "spark":
        _spark_jobs(load_settings(lake_uri=str(lake)), generated, day_list)
    else:
        _duckdb_stand_in(lake, generated, day_list)
    print(f"silver and gold written in {time.perf_counter() - start:.0f} s")
    shutil.rmtree(generated)
    marker.write_text(json.dumps(params))
    return day_list


def _duckdb_stand_in(lake: Path, generated: Path, days: list[date]) -> None:
    """Silver and gold of the generated events (no malformed ones) with the lake jobs' rules in
    DuckDB SQL: first-received deduplication, the contract's session rule, the silver columns
    and gold product interactions, one dt= folder per day."""
    import duckdb

    from spark_jobs.batch.jobs.sessionize import SILVER_EVENT_COLUMNS
    from warehouse.tables import raw_table
    from watershed.contract import BOT_USER_AGENT_PATTERN, SESSION_EVENT_TYPES, SESSION_GAP

    session_types = ", ".join(f"'{t}'" for t in SESSION_EVENT_TYPES)
    gap_us = int(SESSION_GAP.total_seconds() * 1_000_000)
    day_list = ", ".join(f"DATE '{d}'" for d in days)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""
CREATE TABLE silver AS
WITH received AS (
    SELECT * EXCLUDE (raw_payload)
    FROM read_parquet('{generated}/events/*.parquet', filename = true, file_row_number = true)
), deduplicated AS (
    SELECT * FROM received
    QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY received_at, filename, file_row_number) = 1
), keyed AS (
    SELECT *, coalesce(user_id, anonymous_id) AS user_key,
        coalesce(regexp_matches(lower(user_agent), '{BOT_USER_AGENT_PATTERN}'), false) AS is_bot,
        event_type IN ({session_types}) AS in_session
    FROM deduplicated
), gaps AS (
    SELECT *, epoch_us(occurred_at) // 86400000000 AS day,
        lag(epoch_us(occurred_at) // 86400000000) OVER w AS previous_day,
        CASE WHEN in_session AND (lag(occurred_at) OVER w IS NULL
        OR epoch_us(occurred_at) - epoch_us(lag(occurred_at) OVER w) > {gap_us}) THEN 1 ELSE 0 END AS new_visit
    FROM keyed WINDOW w AS (PARTITION BY user_key, in_session ORDER BY occurred_at, event_id)
), visited AS (
    SELECT *, sum(new_visit) OVER (PARTITION BY user_key, in_session ORDER BY occurred_at, event_id
        ROWS UNBOUNDED PRECEDING) AS visit_no
    FROM gaps
), flagged AS (
    -- the contract's longest session: a visit begun two or more days before this event's day restarts here
    SELECT * EXCLUDE (day, previous_day, new_visit, visit_no),
        CASE WHEN new_visit = 1 OR (in_session AND day > previous_day
            AND day - min(day) OVER (PARTITION BY user_key, in_session, visit_no) >= 2) THEN 1 ELSE 0 END AS starts
    FROM visited
), numbered AS (
    SELECT *, sum(starts) OVER (PARTITION BY user_key, in_session ORDER BY occurred_at, event_id
        ROWS UNBOUNDED PRECEDING) AS session_no
    FROM flagged
), sessioned AS (
    SELECT *,
        first_value(event_id) OVER s AS first_event_id,
        first_value(occurred_at) OVER s AS first_at
    FROM numbered WINDOW s AS (PARTITION BY user_key, in_session, session_no ORDER BY occurred_at, event_id)
)
SELECT * EXCLUDE (first_event_id, first_at, starts, session_no, filename, file_row_number),
    CASE WHEN in_session THEN substr(sha256(user_key || '|' || first_event_id), 1, 32) END AS session_id,
    CASE WHEN in_session THEN first_at END AS session_start,
    'bench' AS kafka_topic, 0::INTEGER AS kafka_partition, file_row_number AS kafka_offset,
    received_at AS ingested_at,
    CAST(CASE WHEN in_session THEN first_at ELSE occurred_at END AS DATE) AS dt
FROM sessioned
""")
    con.execute("""
CREATE TABLE sessions AS
SELECT user_key, max(user_id) AS user_id,
    arg_min(anonymous_id, (occurred_at, event_id)) FILTER (WHERE anonymous_id IS NOT NULL) AS anonymous_id,
    session_id, min(occurred_at) AS session_start, max(occurred_at) AS session_end,
    (epoch_us(max(occurred_at)) - epoch_us(min(occurred_at))) / 1000000.0 AS duration_seconds,
    count(*) AS event_count, count(DISTINCT page_url)::INTEGER AS unique_pages,
    count(*) FILTER (WHERE event_type = 'page_view') AS page_views,
    count(*) FILTER (WHERE event_type = 'product_view') AS product_views,
    count(*) FILTER (WHERE event_type = 'add_to_cart') AS add_to_carts,
    count(*) FILTER (WHERE event_type = 'begin_checkout') AS begin_checkouts,
    count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
    coalesce(sum(revenue) FILTER (WHERE event_type = 'purchase'), 0)::DECIMAL(18, 2) AS revenue,
    arg_min(page_url, (occurred_at, event_id)) FILTER (WHERE page_url IS NOT NULL) AS entry_page,
    arg_max(page_url, (occurred_at, event_id)) FILTER (WHERE page_url IS NOT NULL) AS exit_page,
    arg_min(device, (occurred_at, event_id)) FILTER (WHERE device IS NOT NULL) AS device,
    count(*) = 1 AS is_bounce, bool_or(is_bot) AS is_bot, min(dt) AS dt
FROM silver WHERE session_id IS NOT NULL
GROUP BY user_key, session_id
""")
    gold = {
        "product_interactions": """
            WITH touches AS (
                SELECT CAST(occurred_at AS DATE) AS dt, product_id,
                    (event_type = 'product_view')::BIGINT AS views, (event_type = 'add_to_cart')::BIGINT AS carts,
                    0 AS purchases, 0 AS units, 0::DECIMAL(18, 2) AS revenue
                FROM silver WHERE event_type IN ('product_view', 'add_to_cart')
                UNION ALL
                SELECT CAST(occurred_at AS DATE), item.product_id, 0, 0, 1, item.quantity,
                    (item.quantity * item.price)::DECIMAL(18, 2)
                FROM (SELECT occurred_at, unnest(items) AS item FROM silver WHERE event_type = 'purchase')
            )
            SELECT dt, product_id, sum(views) AS views, sum(carts) AS add_to_carts, sum(purchases) AS purchases,
                sum(units) AS units_purchased, sum(revenue)::DECIMAL(18, 2) AS revenue,
                CASE WHEN sum(views) > 0 THEN sum(carts) / sum(views) END AS view_to_cart_rate,
                CASE WHEN sum(carts) > 0 THEN sum(purchases) / sum(carts) END AS cart_to_purchase_rate
            FROM touches GROUP BY dt, product_id""",
    }
    outputs = {
        ("silver", "events"): f"SELECT {', '.join(SILVER_EVENT_COLUMNS)}, dt FROM silver",
        ("silver", "sessions"): "SELECT * FROM sessions",
        **{("gold", name): sql for name, sql in gold.items()},
    }
    for (layer, name), sql in outputs.items():
        columns = ", ".join(f.name for f in raw_table(name).schema())
        folder = lake / layer / name
        folder.parent.mkdir(parents=True, exist_ok=True)
        options = "FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt), OVERWRITE_OR_IGNORE"
        con.execute(f"COPY (SELECT {columns}, dt FROM ({sql}) WHERE dt IN ({day_list})) TO '{folder}' ({options})")
    con.close()


def _spark_jobs(settings: Settings, generated: Path, days: list[date]) -> None:
    """The lake jobs' transforms on the generated events (no malformed ones: nothing to quarantine)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from spark_jobs.batch.jobs.gold import run_gold
    from spark_jobs.batch.jobs.io import write_day
    from spark_jobs.batch.jobs.sessionize import SILVER_EVENT_COLUMNS
    from spark_jobs.batch.transforms.dedup import deduplicate
    from spark_jobs.batch.transforms.sessions import events_of_day, sessionize, sessions
    from spark_jobs.common.lake_rules import SessionRules
    from spark_jobs.session import spark_session
    from watershed import lake
    from watershed.contract import spark_schema

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


def reference_aggregates(lake: Path, days: list[date]) -> dict[str, tuple[str, str]]:
    """The benchmark's independent reference for three marts: per mart, (the mart's columns to
    compare, the same figures in DuckDB SQL over the lake's silver Parquet files). It shares no
    code with dbt (nor with the lake jobs): only the definitions of docs/metrics.md. The marts own
    these aggregates (docs/warehouse.md); this copy exists only to check the benchmark's build.

    * daily_revenue: per day the transactions occurred and currency (money is never summed across
      currencies), for the days loaded; a day without a transaction is one row, currency null;
    * conversion_funnel: per session day, device and bot flag, sessions reaching each step;
    * agg_daily_user_metrics: per session day and user, sessions, events, purchases, revenue."""
    events = f"read_parquet('{lake}/silver/events/dt=*/*.parquet', hive_partitioning = true)"
    sessions = f"read_parquet('{lake}/silver/sessions/dt=*/*.parquet', hive_partitioning = true)"
    day_list = ", ".join(f"DATE '{d}'" for d in days)
    return {
        "daily_revenue": (
            "revenue_date, currency, orders, revenue, refunds, refunded",
            f"""
            WITH daily AS (
                SELECT CAST(occurred_at AS DATE) AS day, currency,
                    count(*) FILTER (WHERE event_type = 'purchase') AS orders,
                    coalesce(sum(revenue) FILTER (WHERE event_type = 'purchase'), 0) AS revenue,
                    count(*) FILTER (WHERE event_type = 'refund') AS refunds,
                    coalesce(sum(revenue) FILTER (WHERE event_type = 'refund'), 0) AS refunded
                FROM {events} WHERE event_type IN ('purchase', 'refund') GROUP BY ALL
            )
            SELECT d.day, daily.currency, coalesce(daily.orders, 0),
                coalesce(daily.revenue, 0)::DECIMAL(18, 2), coalesce(daily.refunds, 0),
                coalesce(daily.refunded, 0)::DECIMAL(18, 2)
            FROM unnest([{day_list}]) AS d(day) LEFT JOIN daily ON daily.day = d.day""",
        ),
        "conversion_funnel": (
            "funnel_date, device, is_bot, sessions, product_view_sessions, add_to_cart_sessions, "
            "begin_checkout_sessions, purchase_sessions",
            f"""
            SELECT CAST(dt AS DATE), coalesce(device, 'unknown'), is_bot, count(*),
                count(*) FILTER (WHERE product_views > 0), count(*) FILTER (WHERE add_to_carts > 0),
                count(*) FILTER (WHERE begin_checkouts > 0), count(*) FILTER (WHERE purchases > 0)
            FROM {sessions} GROUP BY ALL""",
        ),
        "agg_daily_user_metrics": (
            "activity_date, user_key, sessions, total_events, purchases, total_revenue",
            f"""
            SELECT CAST(dt AS DATE), user_key, count(*), sum(event_count), sum(purchases),
                sum(revenue)::DECIMAL(18, 2)
            FROM {sessions} GROUP BY ALL""",
        ),
    }


def differences_from_reference(database: Path, lake: Path, days: list[date]) -> dict[str, int]:
    """Per mart of :func:`reference_aggregates`, how many rows differ between the built warehouse
    and the reference (rows of either side missing from the other); all zeros when they agree."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH '{database}' AS wh (READ_ONLY)")
        out = {}
        for mart, (columns, reference) in reference_aggregates(lake, days).items():
            built = f"SELECT {columns} FROM wh.marts.{mart}"
            expected = f"SELECT * FROM ({reference})"
            sql = f"SELECT count(*) FROM (({built} EXCEPT ALL {expected}) UNION ALL ({expected} EXCEPT ALL {built}))"
            out[mart] = int(con.execute(sql).fetchone()[0])  # type: ignore[index]
        return out
    finally:
        con.close()


def timed_runs(lake: Path, work: Path, days: list[date], raw: str) -> dict[str, Any]:
    from warehouse import load_date
    from warehouse.dbt import build_args, run_dbt

    database = work / f"warehouse-{raw}.duckdb"
    database.unlink(missing_ok=True)
    settings = load_settings(lake_uri=str(lake), duckdb_path=database, duckdb_raw=raw)
    env = {"DBT_TARGET_PATH": str(work / "dbt-target"), "DBT_LOG_PATH": str(work / "dbt-logs")}
    shutil.rmtree(work / "dbt-target", ignore_errors=True)

    cpu = _cpu_seconds()
    start = time.perf_counter()
    loaded = [load_date(settings, day) for day in days]
    load_seconds = time.perf_counter() - start
    load_cpu = _cpu_seconds() - cpu
    cpu = _cpu_seconds()
    start = time.perf_counter()
    run_dbt(settings, build_args(), env=env, capture=True)
    build_seconds = time.perf_counter() - start
    build_cpu = _cpu_seconds() - cpu

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
        "raw": raw,
        "events": sum(r["rows"]["events"] for r in loaded),
        "load_seconds": load_seconds,
        "build_seconds": build_seconds,
        "load_cpu": load_cpu,
        "build_cpu": build_cpu,
        "daily_load_seconds": daily_load,
        "daily_build_seconds": daily_build,
        "counts": counts,
        "dbt": done,
        "size_mb": database.stat().st_size / 1e6,
    }


def _cpu_seconds() -> float:
    """CPU time of this process (the loads, DuckDB in process) and its finished children (dbt)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="where the lake and the warehouse are kept")
    parser.add_argument("--prep", choices=["duckdb", "spark"], default="duckdb", help="who writes silver and gold")
    parser.add_argument(
        "--raw", default="attach,copy", help="raw schema modes to time, one after the other (WATERSHED_DUCKDB_RAW)"
    )
    args = parser.parse_args()

    work = args.work or Path(__file__).resolve().parents[1] / ".local" / "bench" / f"warehouse-{args.events}"
    work.mkdir(parents=True, exist_ok=True)
    days = prepare_lake(work / "lake", args.events, args.days, args.seed, args.prep)
    load_before = os.getloadavg()[0]
    runs = []
    for raw in args.raw.split(","):
        runs.append(timed_runs(work / "lake", work, days, raw))
        r = runs[-1]
        print(f"  {raw}: load {r['load_seconds']:.1f} s + build {r['build_seconds']:.1f} s", flush=True)
    load_after = os.getloadavg()[0]
    differences = differences_from_reference(work / f"warehouse-{runs[-1]['raw']}.duckdb", work / "lake", days)
    print(f"  marts against the benchmark's independent reference (rows that differ): {differences}")
    if any(differences.values()):
        raise SystemExit(f"the marts differ from the benchmark's independent reference: {differences}")
    totals = [r["load_seconds"] + r["build_seconds"] for r in runs]
    goal = "met" if min(totals) < 60 else "not met"
    if args.events < 10_000_000:
        goal = "n/a: fewer than 10 million events"
    counts = runs[0]["counts"]
    prepared_by = "the Spark jobs' transforms" if args.prep == "spark" else "the DuckDB stand-in for the lake jobs"
    rows = [
        f"| {r['raw']} | {r['events']:,} | {r['load_seconds']:.1f} | {r['build_seconds']:.1f} | {total:.1f} "
        f"| {r['load_cpu']:.0f}, {r['build_cpu']:.0f} "
        f"| {r['daily_load_seconds']:.1f} + {r['daily_build_seconds']:.1f} | {r['size_mb']:,.0f} MB |"
        for r, total in zip(runs, totals, strict=True)
    ]
    body = "\n".join(
        [
            "| raw schema (WATERSHED_DUCKDB_RAW) | events loaded (deduplicated) | load (s) | dbt build (s) "
            "| load + build (s) | CPU seconds: load, build | daily run: load 1 day + build (s) | warehouse size |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"{args.days} days of generated traffic (seed {args.seed}), silver and gold written by {prepared_by} "
            f"(not timed), then timed for each raw mode, one after the other: {len(days)} days loaded into a new "
            "DuckDB file and one `dbt build` of every "
            f"model, data test and unit test ({counts['marts.fct_sessions']:,} sessions, {counts['marts.dim_users']:,} "
            f"users; dbt: {runs[0]['dbt']}). `attach` keeps raw as views over the lake's Parquet files, `copy` "
            "writes the rows into the DuckDB file. The daily run reloads the last day and rebuilds it with its two "
            "lookback days. daily_revenue (per day and currency), conversion_funnel and agg_daily_user_metrics "
            "equal the benchmark's independent reference (DuckDB SQL over the silver files) row for row. "
            f"Goal: load + build of 10 million events in under 60 s ({goal} in this run). "
            f"Load average (1 min): {load_before:.1f} before, {load_after:.1f} after; this machine has "
            f"{os.cpu_count()} cores: a load average above that means other processes shared them.",
        ]
    )
    print(body)
    record("warehouse", "Warehouse: load + dbt build", body)


if __name__ == "__main__":
    main()
