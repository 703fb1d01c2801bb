"""Supervision of the detached streaming job: is it running, is it alive, how far behind is it,
and (re)start it when not. Used by `watershed stream status|supervise` and the
``ecommerce_streaming`` DAG, whose runs are short: check, act, return.

Light to import (no pyspark); confluent_kafka loads inside :func:`consumer_lag`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from spark_jobs.streaming.config import StreamConfig
from spark_jobs.streaming.heartbeat import QUERIES
from spark_jobs.streaming.state import read_json
from watershed.settings import Settings


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited child not yet reaped) is not running
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def running_pid(config: StreamConfig) -> int | None:
    try:
        pid = int(config.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def heartbeat_age(heartbeat: dict[str, Any], now: datetime | None = None) -> float | None:
    """Seconds since the job last wrote its heartbeat (None: never)."""
    stamp = heartbeat.get("updated_at")
    if not stamp:
        return None
    written = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return ((now or datetime.now(UTC)) - written).total_seconds()


def lag_from(end_offsets: dict[str, dict[str, int]], latest: dict[str, dict[str, int]]) -> dict[str, int]:
    """Records per topic the job has not read yet: broker's latest offset - job's end offset
    (a partition the job has not read at all counts whole)."""
    return {
        topic: sum(max(0, high - int(end_offsets.get(topic, {}).get(part, 0))) for part, high in parts.items())
        for topic, parts in latest.items()
    }


def latest_offsets(
    settings: Settings, topics: tuple[str, ...], *, timeout: float = 10.0, quiet: bool = False
) -> dict[str, dict[str, int]]:
    """The broker's end offset of every partition of `topics`. `quiet`: librdkafka's own
    connection errors are not printed (the caller reports the failure once)."""
    from confluent_kafka import Consumer, TopicPartition

    config: dict[str, Any] = {"bootstrap.servers": settings.kafka_bootstrap, "group.id": "watershed-stream-lag"}
    if quiet:
        config["log_level"] = 2  # syslog critical: not the "connection refused" errors of a retry loop
    consumer = Consumer(config)
    try:
        metadata = consumer.list_topics(timeout=timeout)
        out: dict[str, dict[str, int]] = {}
        for topic in topics:
            for part in metadata.topics[topic].partitions if topic in metadata.topics else {}:
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, part), timeout=timeout)
                out.setdefault(topic, {})[str(part)] = int(high)
        return out
    finally:
        consumer.close()


def status(
    settings: Settings, config: StreamConfig, *, with_lag: bool = True, lag_timeout: float = 10.0, quiet: bool = False
) -> dict[str, Any]:
    heartbeat = read_json(config.heartbeat)
    queries = heartbeat.get("queries", {})
    report: dict[str, Any] = {
        "pid": running_pid(config),
        "status": heartbeat.get("status", "never started"),
        "heartbeat_age_s": heartbeat_age(heartbeat),
        "dropped_by_watermark": {name: queries.get(name, {}).get("dropped_by_watermark_total", 0) for name in QUERIES},
        "watermark": queries.get("metrics", {}).get("watermark"),
        "last_batch_ms": queries.get("metrics", {}).get("batch_duration_ms"),
    }
    report["running"] = report["pid"] is not None
    if with_lag:
        try:
            latest = latest_offsets(settings, config.source_topics, timeout=lag_timeout, quiet=quiet)
            report["consumer_lag"] = lag_from(queries.get("metrics", {}).get("end_offsets", {}), latest)
        except Exception as error:  # the broker being down is a finding, not a crash
            report["consumer_lag"] = None
            report["lag_error"] = str(error)[:200]
    return report


def start_detached(config: StreamConfig, args: list[str] | None = None) -> int:
    """Start `watershed stream run` in its own session (it outlives the caller); return its pid."""
    config.home.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "watershed.cli", "stream", "run", "--home", str(config.home), *(args or [])]
    with open(config.log_file, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    config.pid_file.write_text(str(process.pid))  # the job rewrites it with the same pid
    return process.pid


def stop(config: StreamConfig, grace: float = 30.0) -> bool:
    """SIGTERM (the job stops its queries cleanly), then SIGKILL after `grace` seconds."""
    pid = running_pid(config)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.5)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def supervise(
    settings: Settings,
    config: StreamConfig,
    *,
    max_heartbeat_age: float = 120.0,
    max_lag: int = 500_000,
    args: list[str] | None = None,
) -> dict[str, Any]:
    """One supervision round: start the job if it is not running, restart it if its heartbeat is
    stale, and say whether the consumer lag is above `max_lag`. Returns what it found and did
    (``action``: none | started | restarted; ``problems``: what deserves an alert)."""
    report = status(settings, config)
    problems: list[str] = []
    action = "none"
    if not report["running"]:
        if report["status"] not in ("never started", "stopped"):
            problems.append(f"the streaming job was not running (last status: {report['status']})")
        report["new_pid"] = start_detached(config, args)
        action = "started"
    elif report["heartbeat_age_s"] is not None and report["heartbeat_age_s"] > max_heartbeat_age:
        problems.append(f"no heartbeat for {report['heartbeat_age_s']:.0f} s: restarted the job")
        stop(config)
        report["new_pid"] = start_detached(config, args)
        action = "restarted"
    lag = report.get("consumer_lag")
    if lag is not None and sum(lag.values()) > max_lag:
        problems.append(f"consumer lag {sum(lag.values())} records > {max_lag}: {lag}")
    return {**report, "action": action, "problems": problems}
