"""Collector throughput and latency on loopback, next to Kafka's own producer perf tool.

Starts a dedicated Kafka broker (or uses ``--bootstrap``) and ``watershed collector serve`` with
``--workers`` processes, then drives it with wrk (C, one thread) for a bounded time per
scenario:

* ``single``: POST /v1/events, one event per request, ``--single-connections`` connections;
* ``batch100``: POST /v1/batch, 100 events per request, ``--batch-connections`` connections.

Bodies are realistic valid events (bench/collector/events.py). After each scenario the topics'
end offsets are compared with the number of events answered 2xx: every accepted event must be in
Kafka. Then ``org.apache.kafka.tools.ProducerPerformance`` runs on the same broker with the same
record size (the mean size of the records the collector wrote), acks=all, idempotence and
linger; the collector's events/s are printed as a ratio of the tool's records/s.

    python -m bench.collector.load                    # figures to BENCHMARKS.md
    python -m bench.collector.load --seconds 5 --no-record
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.collector._broker import broker
from bench.collector.events import make_events
from watershed.settings import Settings
from watershed.stack.process import free_port

HERE = Path(__file__).resolve().parent
KEY = "bench-web-analytics-write-key-000"
TOPICS = ("user-events", "transaction-data", "ad-events", "events-invalid")
LINGER_MS = 2
GOALS = {"single": ("requests/s", 3000, 25.0), "batch100": ("events/s", 25000, None)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: a dedicated one in a temp dir)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=15, help="measured seconds per scenario (after 3 s warm-up)")
    parser.add_argument("--single-connections", type=int, default=32)
    parser.add_argument("--batch-connections", type=int, default=8)
    parser.add_argument("--perf-records", type=int, default=500_000)
    parser.add_argument("--no-record", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    load_before = os.getloadavg()
    with broker(args.bootstrap) as bootstrap, tempfile.TemporaryDirectory(prefix="collector-bench-") as tmp:
        bodies = _bodies(Path(tmp))
        with _collector(bootstrap, args.workers) as (url, pid):
            results = []
            for name, path, per_request, connections in (
                ("single", "/v1/events", 1, args.single_connections),
                ("batch100", "/v1/batch", 100, args.batch_connections),
            ):
                _wrk(url, path, bodies[name], connections, 3)  # warm-up
                before = _end_offsets(bootstrap)
                cpu_before = _cpu_seconds(pid)
                result = _wrk(url, path, bodies[name], connections, args.seconds)
                cpu = _cpu_seconds(pid) - cpu_before
                stored = sum(_end_offsets(bootstrap).values()) - sum(before.values())
                accepted = (result["requests"] - result["non2xx"]) * per_request
                result.update(
                    scenario=name,
                    connections=connections,
                    events_per_request=per_request,
                    requests_per_s=result["requests"] / result["seconds"],
                    events_per_s=accepted / result["seconds"],
                    accepted=accepted,
                    stored=stored,
                    collector_cpu_us_per_event=1e6 * cpu / max(accepted, 1),
                )
                print(json.dumps(result), flush=True)
                results.append(result)
            record_size = round(_mean_record_size(bootstrap))
        perf = _producer_performance(bootstrap, record_size, args.perf_records)
        print(json.dumps(perf), flush=True)
    load_after = os.getloadavg()
    body = _report(results, perf, record_size, args, load_before, load_after)
    print(body)
    if not args.no_record:
        from bench._report import record

        record(
            "collector-load",
            "Collector: throughput and latency on loopback",
            body,
            command=f"python -m bench.collector.load --workers {args.workers} --seconds {args.seconds}",
        )


# ---- the pieces ------------------------------------------------------------------------------


def _bodies(folder: Path) -> dict[str, Path]:
    events = make_events(20_000)
    single, batch = folder / "single.ndjson", folder / "batch100.ndjson"
    single.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    batch.write_bytes(
        b"".join(orjson.dumps({"events": events[i : i + 100]}) + b"\n" for i in range(0, len(events), 100))
    )
    return {"single": single, "batch100": batch}


class _collector:
    """`watershed collector serve` in its own process group, stopped on exit."""

    def __init__(self, bootstrap: str, workers: int) -> None:
        self.port = free_port(28123)
        self.env = {
            **os.environ,
            "WATERSHED_ENV": "local",
            "WATERSHED_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "WATERSHED_COLLECTOR_WRITE_KEYS": f"web_analytics={KEY}",
            "WATERSHED_COLLECTOR_RATE_LIMIT": "0",
            "WATERSHED_COLLECTOR_LOG_LEVEL": "warning",
            "WATERSHED_COLLECTOR_KAFKA_LINGER_MS": str(LINGER_MS),
        }
        self.command = [
            str(Path(sys.executable).parent / "watershed"), "collector", "serve",
            "--port", str(self.port), "--workers", str(workers),
        ]  # fmt: skip

    def __enter__(self) -> tuple[str, int]:
        self.process = subprocess.Popen(
            self.command, env=self.env, start_new_session=True, cwd=Path(__file__).resolve().parents[2]
        )
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    return url, self.process.pid
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the collector did not become ready")
            time.sleep(0.3)

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def _wrk(url: str, path: str, bodies: Path, connections: int, seconds: int) -> dict[str, Any]:
    env = {**os.environ, "WRK_BODIES": str(bodies), "WRK_PATH": path, "WRK_KEY": KEY}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(HERE / "post.lua"), url],
        env=env, capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    status = re.search(r"STATUS non2xx=(\d+) errors=(\d+)", out)
    total = re.search(r"TOTAL requests=(\d+) seconds=([\d.]+)", out)
    latency = dict(re.findall(r"LATENCY p([\d.]+)=([\d.]+)", out))
    if not (status and total):
        raise SystemExit(f"unexpected wrk output:\n{out}")
    return {
        "requests": int(total[1]),
        "seconds": float(total[2]),
        "non2xx": int(status[1]),
        "socket_errors": int(status[2]),
        "p50_ms": float(latency["50"]),
        "p90_ms": float(latency["90"]),
        "p99_ms": float(latency["99"]),
    }


def _end_offsets(bootstrap: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "collector-bench"})
    try:
        metadata = consumer.list_topics(timeout=10)
        return {
            (t, p): consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
            for t in TOPICS
            for p in metadata.topics[t].partitions
        }
    finally:
        consumer.close()


def _mean_record_size(bootstrap: str, sample: int = 2000) -> float:
    """Mean value size of the latest records the collector wrote to user-events."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "collector-bench-size"})
    try:
        partitions = consumer.list_topics(timeout=10).topics["user-events"].partitions
        starts = []
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition("user-events", p), timeout=10)
            starts.append(TopicPartition("user-events", p, max(low, high - sample // len(partitions))))
        consumer.assign(starts)
        sizes = [len(m.value()) for m in consumer.consume(sample, timeout=10) if m.error() is None]
        return sum(sizes) / len(sizes)
    finally:
        consumer.close()


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children still running (the uvicorn workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid, *_children(pid)]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in children:
            out += [int(child), *_children(int(child))]
    return out


def _producer_performance(bootstrap: str, record_size: int, records: int) -> dict[str, Any]:
    jars = Settings().jars_dir / "kafka"
    topic = "user-events"
    out = subprocess.run(
        [
            "java", "-Xmx512m", "-cp", f"{jars}/*", "org.apache.kafka.tools.ProducerPerformance",
            "--topic", topic, "--num-records", str(records), "--record-size", str(record_size),
            "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}", "acks=all",
            "enable.idempotence=true", f"linger.ms={LINGER_MS}",
        ],
        capture_output=True, text=True, check=True, timeout=600,
    ).stdout  # fmt: skip
    final = out.strip().splitlines()[-1]
    match = re.search(
        r"(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max "
        r"latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th",
        final,
    )
    if not match:
        raise SystemExit(f"unexpected ProducerPerformance output: {final}")
    return {
        "records": int(match[1]),
        "records_per_s": float(match[2]),
        "mb_per_s": float(match[3]),
        "p50_ms": int(match[6]),
        "p99_ms": int(match[8]),
        "summary": final,
    }


def _report(
    results: list[dict[str, Any]],
    perf: dict[str, Any],
    record_size: int,
    args: argparse.Namespace,
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    lines = [
        f"`watershed collector serve --workers {args.workers}` (uvloop, httptools) and a single-node Kafka broker "
        "on the same machine, driven by wrk (1 thread) on loopback; realistic web_analytics events "
        f"(~{record_size} bytes each once enriched and pseudonymised); {args.seconds} s per scenario after a 3 s "
        f"warm-up. Load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f} (other work on the machine "
        "shares the 2 cores).",
        "",
        "| scenario | connections | requests/s | events/s | p50 ms | p90 ms | p99 ms | non-2xx | accepted | "
        "in Kafka | collector CPU µs/event | vs ProducerPerformance |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = r["events_per_s"] / perf["records_per_s"]
        lines.append(
            f"| {r['scenario']} | {r['connections']} | {r['requests_per_s']:,.0f} | {r['events_per_s']:,.0f} "
            f"| {r['p50_ms']:.1f} | {r['p90_ms']:.1f} | {r['p99_ms']:.1f} | {r['non2xx']} | {r['accepted']:,} "
            f"| {r['stored']:,} | {r['collector_cpu_us_per_event']:.0f} | {ratio:.3f} ({ratio:.1%}) |"
        )
    lines += [
        "",
        f"Kafka's `ProducerPerformance` on the same broker (record size {record_size} B, acks=all, "
        f"enable.idempotence=true, linger.ms={LINGER_MS}, {perf['records']:,} records): "
        f"**{perf['records_per_s']:,.0f} records/s**, p50 {perf['p50_ms']} ms, p99 {perf['p99_ms']} ms.",
        "",
        "Goals (2 cores, broker local): batch endpoint >= 25,000 events/s; single events >= 3,000 requests/s "
        "with p99 <= 25 ms.",
    ]
    single = next(r for r in results if r["scenario"] == "single")
    batch = next(r for r in results if r["scenario"] == "batch100")
    lines.append(
        f"Measured: batch {batch['events_per_s']:,.0f} events/s "
        f"({'met' if batch['events_per_s'] >= 25000 else 'missed'}); single {single['requests_per_s']:,.0f} "
        f"requests/s with p99 {single['p99_ms']:.1f} ms "
        f"({'met' if single['requests_per_s'] >= 3000 and single['p99_ms'] <= 25 else 'missed'})."
    )
    lines.append(f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
