"""Benchmark: sessionization in Spark (master local[2]) against DuckDB on the same bronze files.

For each size, the traffic generator writes N events (every fault kind on), which are laid out as
bronze exactly as landing writes it (``bronze/<topic>/dt=YYYY-MM-DD/hour=HH/``, lineage columns,
the raw JSON value). Then, on those files:

* Spark, in a fresh process with ``local[2]``, runs spark_jobs' transforms (validate, deduplicate,
  sessionize, session summaries) and writes the sessions as Parquet; the JVM start is timed apart;
* DuckDB (2 threads) runs the same job as one SQL statement (bench/sessionize/duckdb_sql.py)
  and writes the same columns.

The two outputs are compared row for row (and their session count with the generator's truth)
before any figure is printed. Prepared bronze is kept under ``.cache/bench/sessionize`` for reruns.

    python -m bench.sessionize                               # 1M and 10M events
    python -m bench.sessionize --events 1000000 --events 20000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench._report import record

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "bench" / "sessionize"
TOPIC_PARTITIONS = {"user-events": 3, "transaction-data": 6, "ad-events": 3}
LAYOUT = "one-file-per-folder"  # part of the cache key: a change of layout prepares bronze anew
_TIMESTAMP_COLUMNS = ("session_start", "session_end")


def prepare(events: int, days: int, seed: int) -> Path:
    """Generated events laid out as bronze (cached): returns the folder holding bronze/ and truth/."""
    from simulator import FaultRates, GeneratorConfig, generate

    target = CACHE / f"events-{events}-days-{days}-seed-{seed}-{LAYOUT}"
    if (target / "READY").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    faults = FaultRates(duplicate=0.01, late=0.01, out_of_order=0.01, malformed=0.005, bot=0.02, pii=0.005)
    started = time.perf_counter()
    generate(GeneratorConfig(seed=seed, days=days, events=events, faults=faults), target / "sim")
    print(f"  generated {events:,} events in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    to_bronze(target / "sim" / "events", target / "bronze")
    print(f"  laid out as bronze in {time.perf_counter() - started:.0f} s", flush=True)
    shutil.rmtree(target / "sim" / "events")
    (target / "READY").write_text("")
    return target


def to_bronze(events: Path, bronze: Path) -> None:
    """The generator's event files as landing would have written them (Kafka timestamp = the
    simulated arrival, a partition by user key, an offset per row, the raw JSON value), one file
    per topic/dt/hour folder, as one landing batch writes (spark_jobs/landing/job.py)."""
    import duckdb

    from spark_jobs.common.lake_rules import LandingRules
    from spark_jobs.common.time_columns import instant, span
    from watershed.contract import EVENT_TYPES, topic_for
    from watershed.contract.tables import columns

    rules = LandingRules()
    names = [c.name for c in columns("events")]
    topic = "CASE " + " ".join(f"WHEN event_type = '{t}' THEN '{topic_for(t)}'" for t in EVENT_TYPES)
    topic += " ELSE 'user-events' END"
    partitions = "CASE kafka_topic " + " ".join(f"WHEN '{t}' THEN {n}" for t, n in TOPIC_PARTITIONS.items()) + " END"
    ref, occurred = "epoch_us(received_at)", "epoch_us(occurred_at)"
    believable = (
        f"occurred_at IS NOT NULL AND {occurred} >= {instant(rules.time.earliest)} "
        f"AND {occurred} >= {ref} - {span(rules.time.max_event_age)} "
        f"AND {occurred} <= {ref} + {span(rules.time.max_clock_skew)}"
    )
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 1")  # a partitioned COPY writes a file per folder and thread
    con.execute(f"""
COPY (
    WITH e AS (
        SELECT *, {topic} AS kafka_topic,
            CASE WHEN {believable} THEN occurred_at ELSE received_at END AS part_at,
            regexp_extract(filename, 'part-(\\d+)', 1)::BIGINT * 100000000 + file_row_number AS kafka_offset
        FROM read_parquet('{events}/*.parquet', filename = true, file_row_number = true)
    )
    SELECT {", ".join(names)},
        kafka_topic,
        (hash(coalesce(user_id, anonymous_id, '')) % {partitions})::INTEGER AS kafka_partition,
        kafka_offset,
        received_at AS kafka_timestamp,
        coalesce(user_id, anonymous_id) AS kafka_key,
        coalesce(raw_payload, to_json({{{", ".join(f"'{n}': {n}" for n in names)}}})) AS kafka_value,
        TIMESTAMPTZ '2026-01-01 00:00:00+00' AS ingested_at,
        CASE WHEN raw_payload IS NOT NULL THEN 'malformed_field' END AS parse_error,
        coalesce(({believable}) AND {ref} - {occurred} > {span(rules.late_after)}, false) AS is_late,
        kafka_topic AS _topic, strftime(part_at, '%Y-%m-%d') AS dt, lpad(hour(part_at)::VARCHAR, 2, '0') AS hour
    FROM e
) TO '{bronze}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (_topic, dt, hour), FILENAME_PATTERN 'part-{{i}}')
""")
    for folder in bronze.glob("_topic=*"):
        folder.rename(bronze / folder.name.removeprefix("_topic="))


def run_spark(data: Path, out: Path) -> dict[str, float]:
    """In this (fresh) process: start Spark (local[2]), sessionize all of bronze, write sessions."""
    started = time.perf_counter()
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    from spark_jobs.batch.transforms.dedup import deduplicate
    from spark_jobs.batch.transforms.sessions import sessionize, sessions
    from spark_jobs.batch.transforms.validate import valid_events, with_quarantine_reason
    from spark_jobs.common.bronze import bronze_schema
    from spark_jobs.common.lake_rules import SessionRules, TimeRules
    from spark_jobs.landing.job import TOPICS
    from spark_jobs.session import spark_session
    from watershed.settings import load_settings

    # local[2] unless bench.spark_cluster runs this job on its standalone cluster
    settings = load_settings().model_copy(update={"spark_master": os.environ.get("BENCH_SPARK_MASTER", "local[2]")})
    spark = spark_session(settings, "bench-sessionize")
    jvm = time.perf_counter() - started
    jvm_pid = spark.sparkContext._gateway.proc.pid  # type: ignore[union-attr]

    def read_bronze() -> DataFrame:
        frames = [
            spark.read.schema(bronze_schema())
            .option("basePath", str(data / "bronze" / t))
            .parquet(str(data / "bronze" / t))
            for t in TOPICS
            if (data / "bronze" / t).exists()
        ]
        bronze = frames[0]
        for frame in frames[1:]:
            bronze = bronze.unionByName(frame)
        return bronze

    def job(target: str) -> float:
        """Seconds to read (list) bronze, plan, and write the sessions: the job."""
        started = time.perf_counter()
        valid = valid_events(with_quarantine_reason(read_bronze(), TimeRules()))
        sessions(sessionize(deduplicate(valid), SessionRules())).write.mode("overwrite").parquet(target)
        return time.perf_counter() - started

    jvm_stats = _JvmStats(spark)
    cpu, jit, gc = _process_cpu(jvm_pid), jvm_stats.jit(), jvm_stats.gc()
    elapsed = job(str(out))
    cpu, jit, gc = _process_cpu(jvm_pid) - cpu, jvm_stats.jit() - jit, jvm_stats.gc() - gc
    # the same job again in the now warm JVM: the difference to the first run is warm-up (JIT
    # compilation, class loading), which every fresh Spark application pays
    warm_out = out.with_name(out.name + "-warm")
    warm = job(str(warm_out))
    shutil.rmtree(warm_out)
    # Spark's floor on the same files, in the same (warm) JVM: scanning only the columns the
    # sessions are made of and shuffling and sorting them by user, with no validation,
    # deduplication, windows or aggregation; no job that sessionizes can take less
    started = time.perf_counter()
    needed = read_bronze().select(*_SESSION_INPUTS).withColumn("user_key", F.coalesce("user_id", "anonymous_id"))
    needed.repartition("user_key").sortWithinPartitions("user_key", "occurred_at", "event_id").write.format(
        "noop"
    ).mode("overwrite").save()
    floor = time.perf_counter() - started
    spark.stop()
    return {"jvm_start": jvm, "job": elapsed, "cpu": cpu, "jit": jit, "gc": gc, "warm": warm, "floor": floor}


class _JvmStats:
    """The driver JVM's own accounting (java.lang.management): seconds spent compiling by the JIT
    (summed over its compiler threads) and collecting garbage, so far."""

    def __init__(self, spark: Any) -> None:
        self._beans = spark.sparkContext._jvm.java.lang.management.ManagementFactory  # type: ignore[union-attr]

    def jit(self) -> float:
        return self._beans.getCompilationMXBean().getTotalCompilationTime() / 1000

    def gc(self) -> float:
        return sum(bean.getCollectionTime() for bean in self._beans.getGarbageCollectorMXBeans()) / 1000


# the columns silver sessions are computed from (validation reads more)
_SESSION_INPUTS = (
    "event_id", "event_type", "user_id", "anonymous_id", "occurred_at", "received_at", "page_url", "device",
    "user_agent", "revenue", "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp",
)  # fmt: skip


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_duckdb(data: Path, out: Path) -> dict[str, float]:
    import resource

    import duckdb

    from bench.sessionize.duckdb_sql import sessions_sql

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET TimeZone = 'UTC'")
    query = sessions_sql(str(data / "bronze" / "*" / "*" / "*" / "*.parquet"))
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    con.execute(f"COPY ({query}) TO '{out}' (FORMAT parquet)")
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"job": elapsed, "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


def compare(spark_out: Path, duckdb_out: Path, truth: Path) -> int:
    """Rows of the two outputs that differ (must be 0); also checks the session count with the
    generator's truth. Returns the number of sessions."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    columns = (
        "session_id, user_key, user_id, anonymous_id, epoch_us(session_start::TIMESTAMPTZ) AS s, "
        "epoch_us(session_end::TIMESTAMPTZ) AS e, duration_seconds, event_count, unique_pages, page_views, "
        "product_views, add_to_carts, begin_checkouts, purchases, revenue, entry_page, exit_page, device, "
        "is_bounce, is_bot"
    )
    a = f"SELECT {columns} FROM read_parquet('{spark_out}/*.parquet')"
    b = f"SELECT {columns} FROM read_parquet('{duckdb_out}')"
    differ = con.execute(
        f"SELECT (SELECT count(*) FROM ({a} EXCEPT ALL {b})) + (SELECT count(*) FROM ({b} EXCEPT ALL {a}))"
    )
    different = differ.fetchone()[0]  # type: ignore[index]
    if different:
        raise SystemExit(f"Spark and DuckDB disagree on {different} session rows")
    count = con.execute(f"SELECT count(*) FROM ({b})").fetchone()[0]  # type: ignore[index]
    expected = json.loads((truth / "summary.json").read_text())["sessions"]
    if count != expected:
        raise SystemExit(f"{count} sessions, the generator's truth has {expected}")
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, action="append", help="events per run (repeatable; default 1M and 10M)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--spark-only", nargs=2, metavar=("DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.spark_only:  # the child process of a Spark run
        print(json.dumps(run_spark(Path(args.spark_only[0]), Path(args.spark_only[1]))))
        return

    rows = []
    for events in args.events or [1_000_000, 10_000_000]:
        print(f"{events:,} events:", flush=True)
        data = prepare(events, args.days, args.seed)
        out = data / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        load = os.getloadavg()[0]
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-m", "bench.sessionize", "--spark-only", str(data), str(out / "spark")],
            capture_output=True,
            text=True,
            check=False,
        )
        whole = time.perf_counter() - started
        if child.returncode:
            raise SystemExit(child.stderr[-3000:])
        spark = json.loads(child.stdout.strip().splitlines()[-1])
        whole -= spark["warm"] + spark["floor"]  # the warm rerun and the floor run in the same process, after the job
        duck_run = run_duckdb(data, out / "duckdb.parquet")
        duck = duck_run["job"]
        sessions = compare(out / "spark", out / "duckdb.parquet", data / "sim" / "truth")
        rows_read = int(json.loads((data / "sim" / "truth" / "summary.json").read_text())["rows"])
        row = {
            "events": rows_read,
            "sessions": sessions,
            "spark": spark["job"],
            "jvm": spark["jvm_start"],
            "floor": spark["floor"],
            "warm": spark["warm"],
            "jit": spark["jit"],
            "gc": spark["gc"],
            "whole": whole,
            "duckdb": duck,
            "spark_cpu": spark["cpu"],
            "duckdb_cpu": duck_run["cpu"],
            "load": (load, os.getloadavg()[0]),
        }
        rows.append(row)
        print(
            f"  Spark {row['spark']:.1f} s (+ {row['jvm']:.1f} s JVM start; whole process {whole:.1f} s; "
            f"warm rerun {row['warm']:.1f} s; floor {row['floor']:.1f} s; "
            f"JIT {row['jit']:.0f} s, GC {row['gc']:.0f} s), "
            f"DuckDB {duck:.1f} s, ratio {row['spark'] / duck:.2f}; CPU s Spark {spark['cpu']:.0f}, "
            f"DuckDB {duck_run['cpu']:.0f}; {sessions:,} sessions, identical",
            flush=True,
        )
    body = _table(rows)
    print(body)
    record("sessionize", "Sessionization: Spark local[2] against DuckDB on the same bronze", body)


def _table(rows: list[dict]) -> str:
    lines = [
        "| events | sessions | Spark job (s) | JVM start (s) | Spark whole process (s) | DuckDB (s) | Spark / DuckDB "
        "| Spark s per M events | DuckDB s per M events | CPU s Spark / DuckDB | Spark JIT / GC (s) "
        "| Spark job, warm JVM (s) | Spark floor (s) "
        "| load average before, after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        m = r["events"] / 1e6
        lines.append(
            f"| {r['events']:,} | {r['sessions']:,} | {r['spark']:.1f} | {r['jvm']:.1f} | {r['whole']:.1f} "
            f"| {r['duckdb']:.1f} | {r['spark'] / r['duckdb']:.2f} | {r['spark'] / m:.2f} | {r['duckdb'] / m:.2f} "
            f"| {r['spark_cpu']:.0f} / {r['duckdb_cpu']:.0f} | {r['jit']:.0f} / {r['gc']:.0f} | {r['warm']:.1f} "
            f"| {r['floor']:.1f} "
            f"| {r['load'][0]:.1f}, {r['load'][1]:.1f} |"
        )
    lines += [
        "",
        "Both engines run the whole sessionization job on every day of bronze at once: validation (the contract's "
        "rules, quarantined rows left out), first-received deduplication by event_id, the 30-minute session rule, "
        "the session summaries, written as Parquet. The outputs are compared row for row before the figures are "
        "kept, and the session count equals the generator's ground truth. Spark: `local[2]`, a fresh process per "
        "size; 'Spark job' excludes the JVM start, 'whole process' includes it and Python's imports; CPU seconds are "
        "the JVM's (Spark) and the process's (DuckDB) user + system time during the job; 'JIT / GC' are the seconds "
        "the Spark JVM reports (java.lang.management) for JIT compilation, summed over its compiler threads, and "
        "for garbage collection during the job; 'warm JVM' is the same job run again in the same process, so the "
        "difference to 'Spark job' is warm-up a fresh Spark application always pays. DuckDB: 2 "
        "threads, in process. Events: `watershed generate`, 7 days, seed 1, faults on (duplicates 1%, late 1%, "
        "out of order 1%, malformed 0.5%, bots 2%). Goal: at 10M events Spark within 4x of DuckDB (job, "
        "without the JVM start) and the whole Spark job under 90 s. 'Spark floor': in the same warm JVM, only "
        "scanning the 14 columns the sessions are made of and shuffling and sorting them by user (no validation, "
        "deduplication, windows or aggregation), the least any Spark sessionization of these files costs. "
        "Bronze: one file per topic/dt/hour folder, as one landing batch writes. This machine has "
        f"{os.cpu_count()} cores: a load average above that means other processes shared them.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
