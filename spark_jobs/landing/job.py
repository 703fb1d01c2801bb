"""Landing: Kafka (user-events, transaction-data, ad-events) -> bronze Parquet, exactly once.

A Structured Streaming query reads the topics and hands each micro-batch to :class:`BronzeBatchWriter`
(foreachBatch). Spark records a batch's offset range in the checkpoint before running it and marks
it committed after the writer returns; after a crash the last uncommitted batch is replayed with
the same offsets, so the same rows. The writer makes that replay harmless:

1. the batch's rows are written to ``bronze/_staging/batch=<id>/`` (one file per topic/dt/hour,
   rows sorted by topic, partition, offset);
2. each staged file is moved to ``bronze/<topic>/dt=YYYY-MM-DD/hour=HH/part-<id>.<ext>``: its name
   depends only on the batch id and its folder, so a replay replaces the files of the first attempt
   instead of adding copies;
3. a manifest ``_landing/batches/batch=<id>.json`` records the files, counts and the batch's
   ingested_at, which a replay reuses so the rows are identical.

Readers list the dt=/hour= folders directly (no ``_spark_metadata`` log is involved); a reader that
lists a folder while a replay is moving files can miss that batch's file for that moment only.
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from spark_jobs.common.lake_rules import LandingRules
from spark_jobs.landing import bounds
from watershed import lake
from watershed.contract.families import Family
from watershed.lake.hadoop import LakeFS
from watershed.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

TOPICS: tuple[str, ...] = tuple(f.value for f in Family)
_STAGED = re.compile(r"/_topic=(?P<topic>[^/]+)/dt=(?P<dt>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/[^/]+\.parquet$")


@dataclass
class LandingPaths:
    bronze: str
    staging: str
    batches: str
    checkpoint: str
    reports: str

    @classmethod
    def of(cls, settings: Settings, checkpoint: str | None = None) -> LandingPaths:
        return cls(
            bronze=lake.path(settings, "bronze"),
            staging=lake.path(settings, "bronze", "_staging"),
            batches=lake.path(settings, "_landing", "batches"),
            checkpoint=checkpoint or lake.path(settings, "_checkpoints", "landing"),
            reports=lake.path(settings, "_reports", "landing"),
        )


@dataclass
class BatchSummary:
    batch_id: int
    rows: int
    unparseable: int
    late: int
    files: list[str]
    late_partitions: dict[str, int]  # "<topic>/dt=.../hour=HH" -> late rows
    rows_by_topic: dict[str, int]
    ingested_at: str
    replayed: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class BronzeBatchWriter:
    """The foreachBatch function: an idempotent write of one micro-batch (see the module doc)."""

    paths: LandingPaths
    rules: LandingRules = field(default_factory=LandingRules)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    echo: Callable[[str], None] = lambda _: None
    summaries: list[BatchSummary] = field(default_factory=list)

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        from pyspark.sql import functions as F

        from spark_jobs.common.bronze import to_bronze

        fs = LakeFS(batch.sparkSession)
        manifest_uri = f"{self.paths.batches}/batch={batch_id:010d}.json"
        previous = _read_manifest(fs, manifest_uri)
        if previous and "ingested_at" in previous:
            ingested_at = datetime.fromisoformat(previous["ingested_at"])
        else:
            ingested_at = self.clock().astimezone(UTC).replace(microsecond=0)
            fs.write_text(manifest_uri, json.dumps({"batch_id": batch_id, "ingested_at": ingested_at.isoformat()}))

        rows = to_bronze(batch, ingested_at, self.rules).persist()
        try:
            counts = (
                rows.groupBy("kafka_topic", "dt", "hour")
                .agg(
                    F.count(F.lit(1)).alias("rows"),
                    F.count(F.when(F.col("is_late"), 1)).alias("late"),
                    F.count(F.when(F.col("parse_error").isNotNull(), 1)).alias("unparseable"),
                )
                .collect()
            )
            staging = f"{self.paths.staging}/batch={batch_id:010d}"
            fs.delete(staging)
            if counts:
                self._stage(rows, staging)
            files = self._publish(fs, staging, batch_id)
        finally:
            rows.unpersist()
        stale = sorted(set((previous or {}).get("files", [])) - set(files))
        for uri in stale:  # a first attempt that wrote files this attempt does not (never expected)
            fs.delete(uri)
        fs.delete(staging)

        def folder(r: Any) -> str:
            return f"{r['kafka_topic']}/dt={r['dt'].isoformat()}/hour={r['hour']:02d}"

        by_topic: dict[str, int] = {}
        for r in counts:
            by_topic[r["kafka_topic"]] = by_topic.get(r["kafka_topic"], 0) + r["rows"]
        summary = BatchSummary(
            batch_id=batch_id,
            rows=sum(r["rows"] for r in counts),
            unparseable=sum(r["unparseable"] for r in counts),
            late=sum(r["late"] for r in counts),
            files=files,
            late_partitions={folder(r): r["late"] for r in sorted(counts, key=folder) if r["late"]},
            rows_by_topic=dict(sorted(by_topic.items())),
            ingested_at=ingested_at.isoformat(),
            replayed=bool(previous),
        )
        fs.write_text(manifest_uri, json.dumps(summary.as_dict(), indent=2))
        self.summaries.append(summary)
        self.echo(
            f"batch {batch_id}: {summary.rows} rows ({summary.late} late, {summary.unparseable} unparseable) "
            f"in {len(files)} files{' (replayed)' if summary.replayed else ''}"
        )

    @staticmethod
    def _stage(rows: DataFrame, staging: str) -> None:
        from pyspark.sql import functions as F

        keys = ["_topic", "dt", "hour"]
        (
            rows.withColumn("_topic", F.col("kafka_topic"))
            .withColumn("hour", F.lpad(F.col("hour").cast("string"), 2, "0"))
            .repartition(*keys)  # all rows of one folder in one task: one file per folder
            .sortWithinPartitions(*keys, "kafka_partition", "kafka_offset")
            .write.mode("overwrite")
            .partitionBy(*keys)
            .parquet(staging)
        )

    def _publish(self, fs: LakeFS, staging: str, batch_id: int) -> list[str]:
        """Move the staged files to their bronze folders under names derived from the batch id."""
        by_folder: dict[tuple[str, str, str], list[str]] = {}
        for uri in fs.files(staging):
            match = _STAGED.search(uri)
            if match:
                by_folder.setdefault((match["topic"], match["dt"], match["hour"]), []).append(uri)
        published = []
        for (topic, dt, hour), staged in sorted(by_folder.items()):
            for index, source in enumerate(sorted(staged)):
                suffix = "" if index == 0 else f"-{index}"
                target = f"{self.paths.bronze}/{topic}/dt={dt}/hour={hour}/part-{batch_id:010d}{suffix}.zstd.parquet"
                fs.move(source, target)
                published.append(target)
        return published


def _read_manifest(fs: LakeFS, uri: str) -> dict[str, Any] | None:
    """A batch's manifest, or None when there is none (manifests are written whole, but one
    written by hand or by an older version may be damaged: then it is ignored and rewritten)."""
    try:
        value = json.loads(fs.read_text(uri) or "null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def kafka_stream(
    spark: SparkSession,
    settings: Settings,
    *,
    topics: Sequence[str] = TOPICS,
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
) -> DataFrame:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
        .option("subscribe", ",".join(topics))
        .option("startingOffsets", starting_offsets)
        .option("failOnDataLoss", "true")
    )
    if max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(max_offsets_per_trigger))
    return reader.load()


def start_landing(
    spark: SparkSession,
    settings: Settings,
    *,
    continuous: bool = False,
    trigger_interval: str = "10 seconds",
    topics: Sequence[str] = TOPICS,
    starting_offsets: str = "earliest",
    max_offsets_per_trigger: int | None = None,
    checkpoint: str | None = None,
    rules: LandingRules | None = None,
    echo: Callable[[str], None] = lambda _: None,
) -> tuple[StreamingQuery, BronzeBatchWriter]:
    """Start the landing query: `continuous` runs micro-batches every `trigger_interval` until
    stopped; otherwise it lands everything available now and stops (availableNow)."""
    paths = LandingPaths.of(settings, checkpoint)
    rules = rules or LandingRules(late_after=timedelta(seconds=settings.late_after_seconds))
    writer = BronzeBatchWriter(paths, rules, echo=echo)
    stream = kafka_stream(
        spark,
        settings,
        topics=topics,
        starting_offsets=starting_offsets,
        max_offsets_per_trigger=max_offsets_per_trigger,
    )
    query_writer = (
        stream.writeStream.queryName("landing").foreachBatch(writer).option("checkpointLocation", paths.checkpoint)
    )
    query_writer = (
        query_writer.trigger(processingTime=trigger_interval) if continuous else query_writer.trigger(availableNow=True)
    )
    return query_writer.start(), writer


def run_landing(
    spark: SparkSession,
    settings: Settings,
    *,
    until: datetime | None = None,
    backfill: bool = False,
    **options: Any,
) -> dict[str, Any]:
    """Run landing to completion (availableNow, or continuous until SIGTERM/SIGINT) and write the
    run report to ``_reports/landing/run-<started>.json``; return the report.

    `until` is the end of the run's data interval (:mod:`spark_jobs.landing.bounds`). A
    `backfill` run that finds bronze already holding every record Kafka received before it
    lands nothing; any other run lands what is available (which includes everything before it)."""
    started = datetime.now(UTC)
    paths = LandingPaths.of(settings, options.get("checkpoint"))
    fs = LakeFS(spark)
    if backfill and until is not None:
        wanted = bounds.offsets_at(settings, options.get("topics", TOPICS), until)
        committed = bounds.committed_offsets(fs, paths.checkpoint)
        if committed is not None and not bounds.behind(committed, wanted):
            report = landing_report([], started, datetime.now(UTC)) | {
                "until": until.isoformat(),
                "skipped": "bronze already holds every record Kafka received before until",
            }
            fs.write_text(f"{paths.reports}/run-{started:%Y%m%dT%H%M%SZ}.json", json.dumps(report, indent=2))
            return report
    query, writer = start_landing(spark, settings, **options)
    stop = threading.Event()
    if options.get("continuous") and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    while query.isActive and not stop.is_set():
        query.awaitTermination(1)
    if stop.is_set():
        query.stop()  # an interrupted batch is not committed: the next start replays it
    query.awaitTermination()
    report = landing_report(writer.summaries, started, datetime.now(UTC))
    if until is not None:  # availableNow lands everything Kafka held at the start, so `until` too
        report["until"] = until.isoformat()
    fs.write_text(f"{paths.reports}/run-{started:%Y%m%dT%H%M%SZ}.json", json.dumps(report, indent=2))
    return report


def landing_report(summaries: Sequence[BatchSummary], started: datetime, finished: datetime) -> dict[str, Any]:
    late_partitions: dict[str, int] = {}
    by_topic: dict[str, int] = {}
    for s in summaries:
        for key, n in s.late_partitions.items():
            late_partitions[key] = late_partitions.get(key, 0) + n
        for key, n in s.rows_by_topic.items():
            by_topic[key] = by_topic.get(key, 0) + n
    return {
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "batches": [s.batch_id for s in summaries],
        "replayed_batches": [s.batch_id for s in summaries if s.replayed],
        "rows": sum(s.rows for s in summaries),
        "rows_by_topic": dict(sorted(by_topic.items())),
        "late": sum(s.late for s in summaries),
        "late_partitions": dict(sorted(late_partitions.items())),
        "unparseable": sum(s.unparseable for s in summaries),
        "files": sum(len(s.files) for s in summaries),
    }
