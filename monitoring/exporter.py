"""The platform's own state as Prometheus metrics, read from the real stores at every scrape.

`watershed monitor exporter` serves them on ``WATERSHED_EXPORTER_PORT`` (9108); the local stack
runs it as the ``exporter`` service and Prometheus scrapes it as job ``watershed``. Each source
reads one store; one that cannot be read (the broker down, the warehouse busy, Airflow's
database missing) sets ``watershed_exporter_source_up{source}`` to 0 and leaves its series out
of that scrape, so a gap is visible and never reads as zero lag or a fresh warehouse.

* ``airflow``: Airflow's metadata database (the stack's PostgreSQL, or
  ``WATERSHED_MONITORING_AIRFLOW_DB_URL``): ``pipeline_success_total`` and
  ``pipeline_failure_total`` (DAG runs by final state), ``pipeline_duration_seconds`` and
  ``pipeline_last_run_success`` (the last finished run), ``pipeline_task_failures_total`` and
  ``pipeline_task_retries_total``, per ``pipeline`` (the DAG id). The totals count the runs the
  table holds: ``airflow db clean`` deleting old ones lowers them, which ``rate()`` reads as a
  counter reset.
* ``kafka``: ``watershed_consumer_lag_records{consumer, topic}``, the broker's end offsets minus
  what landing's checkpoint committed (``consumer="landing"``) and what the real-time job's last
  progress reached (``consumer="realtime"``); a partition never read counts whole.
* ``realtime``: ``watershed_realtime_running`` and ``watershed_realtime_heartbeat_age_seconds``
  (the job's pid and heartbeat files; no broker call).
* ``warehouse``: ``watershed_data_freshness_seconds{store="marts"}``, now minus the newest event
  in ``marts.fct_user_events`` (DuckDB opened read-only, or Snowflake); the real-time job's
  ``{store="realtime"}`` is now minus its watermark.
* ``disk``: ``watershed_state_disk_size_bytes`` and ``watershed_state_disk_free_bytes`` of the
  disk holding the state folder.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from watershed.settings import Settings

log = logging.getLogger(__name__)

Source = Callable[[Settings, float], Iterable[Metric]]


# ---- airflow ---------------------------------------------------------------------------------------

RUNS_SQL = "select dag_id, state, count(*) from dag_run where state in ('success', 'failed') group by dag_id, state"
LAST_RUN_SQL = """
select dag_id, state, start_date, end_date,
       (select min(ti.start_date) from task_instance ti
        where ti.dag_id = finished.dag_id and ti.run_id = finished.run_id) as first_task_start
from (
    select dag_id, run_id, state, start_date, end_date,
           row_number() over (partition by dag_id order by end_date desc) as n
    from dag_run where state in ('success', 'failed') and start_date is not null and end_date is not null
) as finished where n = 1
"""
TASKS_SQL = """
select dag_id,
       sum(case when state = 'failed' then 1 else 0 end),
       sum(case when try_number > 1 then try_number - 1 else 0 end)
from task_instance group by dag_id
"""


def airflow_db_url(settings: Settings) -> str:
    """The metadata database: the setting, else the local stack's PostgreSQL."""
    if settings.monitoring_airflow_db_url is not None:
        return settings.monitoring_airflow_db_url.get_secret_value()
    from watershed.stack.postgres import Postgres

    return Postgres(settings).url("airflow")


def airflow_metrics(settings: Settings, now: float) -> list[Metric]:
    import sqlalchemy

    engine = sqlalchemy.create_engine(airflow_db_url(settings), poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as con:
            runs: list[Any] = [tuple(r) for r in con.execute(sqlalchemy.text(RUNS_SQL))]
            last: list[Any] = [tuple(r) for r in con.execute(sqlalchemy.text(LAST_RUN_SQL))]
            tasks: list[Any] = [tuple(r) for r in con.execute(sqlalchemy.text(TASKS_SQL))]
    finally:
        engine.dispose()
    return pipeline_families(runs, last, tasks)


def pipeline_families(
    runs: Iterable[tuple[str, str, int]],
    last: Iterable[tuple[str, str, Any, Any, Any]],
    tasks: Iterable[tuple[str, int | None, int | None]],
) -> list[Metric]:
    """The pipeline metrics from the rows of RUNS_SQL, LAST_RUN_SQL and TASKS_SQL (pure)."""
    success = CounterMetricFamily("pipeline_success", "DAG runs that succeeded.", labels=["pipeline"])
    failure = CounterMetricFamily("pipeline_failure", "DAG runs that failed.", labels=["pipeline"])
    counts: dict[tuple[str, str], int] = {(dag, state): int(n) for dag, state, n in runs}
    for dag in sorted({dag for dag, _ in counts}):
        success.add_metric([dag], counts.get((dag, "success"), 0))
        failure.add_metric([dag], counts.get((dag, "failed"), 0))
    duration = GaugeMetricFamily(
        "pipeline_duration_seconds", "Duration of the pipeline's last finished DAG run.", labels=["pipeline"]
    )
    outcome = GaugeMetricFamily(
        "pipeline_last_run_success", "1 when the pipeline's last finished DAG run succeeded, 0 when it failed.",
        labels=["pipeline"],
    )  # fmt: skip
    for dag, state, start, end, first_task in sorted(last, key=lambda row: row[0]):
        # from the later of the run's start and its first task's: `airflow dags test` records
        # the logical date as the run's start
        began = max(_instant(start), _instant(first_task)) if first_task is not None else _instant(start)
        duration.add_metric([dag], (_instant(end) - began).total_seconds())
        outcome.add_metric([dag], 1 if state == "success" else 0)
    failed = CounterMetricFamily("pipeline_task_failures", "Task instances that failed.", labels=["pipeline"])
    retries = CounterMetricFamily("pipeline_task_retries", "Task attempts after the first.", labels=["pipeline"])
    for dag, failures, extra in sorted(tasks, key=lambda row: row[0]):
        failed.add_metric([dag], int(failures or 0))
        retries.add_metric([dag], int(extra or 0))
    return [success, failure, duration, outcome, failed, retries]


def _instant(value: Any) -> datetime:
    """A timestamp column (datetime, or ISO text from SQLite) as an aware UTC datetime."""
    stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp


# ---- landing and the real-time job -------------------------------------------------------------------


KAFKA_TIMEOUT = 3.0  # per broker call: two sources stay inside Prometheus's 10 s scrape timeout


def lag_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "watershed_consumer_lag_records",
        "Records on the topic the consumer has not processed yet (end offsets minus its offsets).",
        labels=["consumer", "topic"],
    )


def kafka_metrics(settings: Settings, now: float) -> list[Metric]:
    """Lag of landing (its checkpoint's committed offsets) and of the real-time job (the end
    offsets of its last progress), against one reading of the broker's end offsets."""
    from spark_jobs.landing import bounds
    from spark_jobs.landing.job import TOPICS, LandingPaths
    from spark_jobs.streaming.config import StreamConfig
    from spark_jobs.streaming.state import read_json
    from spark_jobs.streaming.supervise import lag_from, latest_offsets

    stream = StreamConfig.for_settings(settings)
    latest = latest_offsets(
        settings, tuple(sorted({*TOPICS, *stream.source_topics})), timeout=KAFKA_TIMEOUT, quiet=True
    )
    committed = bounds.committed_offsets(_ArrowLake(settings), LandingPaths.of(settings).checkpoint) or {}
    landed: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in committed.items():
        landed.setdefault(topic, {})[str(partition)] = offset
    streamed = read_json(stream.heartbeat).get("queries", {}).get("metrics", {}).get("end_offsets", {})
    lag = lag_family()
    for consumer, reached, topics in (("landing", landed, TOPICS), ("realtime", streamed, stream.source_topics)):
        behind = lag_from(reached, {t: parts for t, parts in latest.items() if t in topics})
        for topic, records in sorted(behind.items()):
            lag.add_metric([consumer, topic], records)
    return [lag]


def realtime_metrics(settings: Settings, now: float) -> list[Metric]:
    """The real-time job's process and heartbeat (its home folder; no broker call)."""
    from spark_jobs.streaming.config import StreamConfig
    from spark_jobs.streaming.supervise import status

    report = status(settings, StreamConfig.for_settings(settings), with_lag=False)
    running = GaugeMetricFamily("watershed_realtime_running", "1 while the real-time job's process is alive.")
    running.add_metric([], 1 if report["running"] else 0)
    out: list[Metric] = [running]
    if report.get("heartbeat_age_s") is not None:
        age = GaugeMetricFamily("watershed_realtime_heartbeat_age_seconds", "Seconds since the job's last heartbeat.")
        age.add_metric([], float(report["heartbeat_age_s"]))
        out.append(age)
    if report.get("watermark"):
        fresh = freshness_family()
        fresh.add_metric(["realtime"], max(0.0, now - _instant(report["watermark"]).timestamp()))
        out.append(fresh)
    return out


class _ArrowLake:
    """What `bounds.committed_offsets` reads (file names, a file's text) through pyarrow's
    filesystem: the exporter reads the checkpoint without a JVM."""

    def __init__(self, settings: Settings) -> None:
        from watershed.lake.arrow import filesystem

        self.fs, self.root = filesystem(settings)
        self.uri = settings.lake.rstrip("/")

    def _path(self, uri: str) -> str:
        relative = uri.removeprefix(self.uri).lstrip("/")
        return f"{self.root.rstrip('/')}/{relative}" if self.root else relative

    def files(self, uri: str) -> list[str]:
        from pyarrow import fs as pafs

        selector = pafs.FileSelector(self._path(uri), allow_not_found=True)
        return [info.path for info in self.fs.get_file_info(selector) if info.type == pafs.FileType.File]

    def read_text(self, uri: str) -> str | None:
        try:
            with self.fs.open_input_stream(self._path(uri)) as f:
                return f.read().decode()
        except FileNotFoundError:
            return None


# ---- the warehouse -------------------------------------------------------------------------------------


def freshness_family() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "watershed_data_freshness_seconds", "Seconds since the newest event the store holds.", labels=["store"]
    )


NEWEST_EVENT_SQL = "select max(occurred_at) from marts.fct_user_events"


def warehouse_metrics(settings: Settings, now: float) -> list[Metric]:
    """The marts' newest event, read where they are: DuckDB (read-only) or Snowflake (one small
    query per scrape on the configured warehouse)."""
    from warehouse.reader import open_marts

    with open_marts(settings) as marts:
        if marts is None:
            raise FileNotFoundError(f"no warehouse file at {settings.duckdb_file}")
        newest = marts.one(NEWEST_EVENT_SQL)
    fresh = freshness_family()
    if newest and newest[0] is not None:
        fresh.add_metric(["marts"], max(0.0, now - _instant(newest[0]).timestamp()))
    return [fresh]


# ---- the state folder's disk ---------------------------------------------------------------------------


def disk_metrics(settings: Settings, now: float) -> list[Metric]:
    """Size and free bytes of the disk holding the state folder (Kafka's log, the local lake, the
    warehouse file, checkpoints): the alert rule StateDiskFilling reads both."""
    usage = shutil.disk_usage(settings.state_dir)
    path = [str(settings.state_dir)]
    size = GaugeMetricFamily("watershed_state_disk_size_bytes", "Size of the state folder's disk.", labels=["path"])
    size.add_metric(path, usage.total)
    free = GaugeMetricFamily(
        "watershed_state_disk_free_bytes", "Bytes free for the platform on the state folder's disk.", labels=["path"]
    )
    free.add_metric(path, usage.free)
    return [size, free]


# ---- the collector Prometheus scrapes -------------------------------------------------------------------

SOURCES: dict[str, Source] = {
    "airflow": airflow_metrics,
    "kafka": kafka_metrics,
    "realtime": realtime_metrics,
    "warehouse": warehouse_metrics,
    "disk": disk_metrics,
}


class PlatformCollector(Collector):
    """Reads every source at each scrape; a source that fails is reported down, not raised."""

    def __init__(
        self, settings: Settings, sources: dict[str, Source] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings, self.sources, self.clock = settings, dict(sources or SOURCES), clock
        self.errors: dict[str, str] = {}

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        up = GaugeMetricFamily("watershed_exporter_source_up", "1 when the source could be read.", labels=["source"])
        merged: dict[str, Metric] = {}
        for name, source in self.sources.items():
            try:
                families = list(source(self.settings, now))
            except Exception as error:  # a store that cannot be read is a finding, not a crash
                message = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:300]
                if self.errors.get(name) != message:
                    log.warning("exporter: source %s cannot be read: %s", name, message)
                self.errors[name] = message
                up.add_metric([name], 0)
                continue
            self.errors.pop(name, None)
            up.add_metric([name], 1)
            for family in families:  # one family per name (the realtime and warehouse freshness)
                if family.name in merged:
                    merged[family.name].samples.extend(family.samples)
                else:
                    merged[family.name] = family
        yield up
        yield from merged.values()


def serve(settings: Settings, port: int, host: str = "127.0.0.1") -> None:
    """Serve /metrics until interrupted."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(PlatformCollector(settings))
    server, thread = start_http_server(port, addr=host, registry=registry)
    log.info("exporter: serving http://%s:%s/metrics", host, port)
    try:
        thread.join()
    finally:
        server.shutdown()
