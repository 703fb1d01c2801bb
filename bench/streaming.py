"""Benchmark of the real-time job: sustained events/s, micro-batch durations, consumer lag and
freshness (window end -> its metrics record on the `real-time-metrics` topic).

A dedicated Kafka broker and Redis (own state folder and ports) are started; a producer process sends
generator-shaped events stamped with the current time at a fixed rate to the three source topics;
`watershed stream run` runs as a separate process, as in production. The job's heartbeat is
polled to collect every micro-batch, the broker is asked for the lag, and the metrics topic is
read back for freshness. Figures go to BENCHMARKS.md.

    python bench/streaming.py --rate 10000 --duration 600     # the issue's goal: 10 minutes
    python bench/streaming.py --rate 10000 --duration 120     # a shorter run
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._report import record  # noqa: E402


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def produce(bootstrap: str, rate: int, seconds: float, counter: Any) -> None:
    """Send `rate` events/s for `seconds`, occurred_at = now (runs in its own process)."""
    from confluent_kafka import Producer

    from simulator import GeneratorConfig, simulate
    from simulator.wire import dumps, payloads
    from watershed.contract import topic_for

    pool = payloads(simulate(GeneratorConfig(seed=3, days=1, events=20_000)).events.table(), received_at=True)
    routes = [topic_for(p["event_type"]) for p in pool]
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "compression.type": "lz4", "acks": 1})
    start = time.monotonic()
    sent = 0
    tick = 0.05
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(rate * min(elapsed + tick, seconds)) - sent
        stamp = _now_iso()
        for i in range(sent, sent + due):
            template = pool[i % len(pool)]
            payload = {**template, "event_id": str(uuid.uuid4()), "occurred_at": stamp, "received_at": stamp}
            key = payload.get("user_id") or payload.get("anonymous_id")
            while True:
                try:
                    producer.produce(routes[i % len(pool)], dumps(payload), key=key)
                    break
                except BufferError:
                    producer.poll(0.05)
        sent += due
        counter.value = sent
        producer.poll(0)
        time.sleep(max(0.0, start + elapsed + tick - time.monotonic()))
    producer.flush(60)
    counter.value = sent


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=10_000, help="events per second sent")
    parser.add_argument("--duration", type=float, default=120, help="seconds of traffic")
    parser.add_argument("--warmup", type=float, default=30, help="first seconds left out of the figures")
    parser.add_argument("--window", default="1 minute")
    parser.add_argument("--watermark", default="10 seconds")
    parser.add_argument("--trigger", default="10 seconds")
    args = parser.parse_args()

    from spark_jobs.streaming.config import StreamConfig, seconds
    from spark_jobs.streaming.job import read_json
    from spark_jobs.streaming.supervise import lag_from, latest_offsets
    from watershed.settings import Settings
    from watershed.stack import Stack
    from watershed.stack.process import free_port

    state = Path(tempfile.mkdtemp(prefix="watershed-bench-stream-"))
    env = {
        "WATERSHED_STATE_DIR": str(state),
        "WATERSHED_KAFKA_PORT": str(free_port(29092)),
        "WATERSHED_KAFKA_CONTROLLER_PORT": str(free_port(29093)),
        "WATERSHED_KAFKA_METRICS_PORT": str(free_port(29404)),
        "WATERSHED_REALTIME_UI_PORT": str(free_port(24041)),
        "WATERSHED_REDIS_PORT": str(free_port(26379)),  # the job's ad counters
        "WATERSHED_SPARK_DRIVER_MEMORY": "3g",
    }
    os.environ.update(env)
    load_before = os.getloadavg()[0]
    settings = Settings()
    stack = Stack(settings, ["kafka", "redis"])
    stack.up(echo=lambda _: None)
    config = StreamConfig.for_settings(settings)
    job_log = open(state / "job.log", "wb")  # noqa: SIM115
    job = subprocess.Popen(
        [sys.executable, "-m", "watershed.cli", "stream", "run", "--window", args.window,
         "--watermark", args.watermark, "--trigger", args.trigger, "--starting-offsets", "latest"],
        stdout=job_log, stderr=subprocess.STDOUT, env={**os.environ, **env},
    )  # fmt: skip
    try:
        while read_json(config.heartbeat).get("status") != "running":
            if job.poll() is not None:
                raise SystemExit(f"the job exited: see {state / 'job.log'}")
            time.sleep(0.5)
        time.sleep(3)  # the queries' first (empty) batches
        counter = multiprocessing.Value("q", 0)
        producer = multiprocessing.Process(
            target=produce, args=(settings.kafka_bootstrap, args.rate, args.duration, counter)
        )
        t0 = time.monotonic()
        producer.start()
        batches: dict[int, dict[str, Any]] = {}
        ad_batches: dict[int, dict[str, Any]] = {}
        lags: list[tuple[float, int]] = []
        next_lag = t0
        while producer.is_alive() or time.monotonic() - t0 < args.duration + 2 * seconds(args.trigger):
            beats = read_json(config.heartbeat).get("queries", {})
            for seen, beat in ((batches, beats.get("metrics", {})), (ad_batches, beats.get("ad_counters", {}))):
                if beat.get("last_batch_id", -1) >= 0:
                    seen.setdefault(beat["last_batch_id"], {**beat, "seen": time.monotonic() - t0})
            beat = beats.get("metrics", {})
            if time.monotonic() >= next_lag:
                try:
                    lag = lag_from(beat.get("end_offsets", {}), latest_offsets(settings, config.source_topics))
                    lags.append((time.monotonic() - t0, sum(lag.values())))
                except Exception as error:  # an overloaded broker: a missed sample, not a failed run
                    print(f"lag sample skipped: {error}", file=sys.stderr)
                next_lag += 5
            if job.poll() is not None:
                raise SystemExit(f"the job died: see {state / 'job.log'}")
            time.sleep(0.25)
        producer.join()
        time.sleep(seconds(args.watermark) + 3 * seconds(args.trigger))  # the last windows close
        metrics = read_topic(settings.kafka_bootstrap, config.metrics_topic)
    finally:
        job.terminate()
        try:
            job.wait(60)
        except subprocess.TimeoutExpired:
            job.kill()
        stack.down(echo=lambda _: None)

    sent = counter.value
    load_after = os.getloadavg()[0]
    measured = [b for b in batches.values() if b["seen"] >= args.warmup and b.get("input_rows", 0) > 0]
    durations = [b["batch_duration_ms"] / 1000 for b in measured]
    rows = sum(b["input_rows"] for b in measured)
    span = (max(b["seen"] for b in measured) - min(b["seen"] for b in measured)) if len(measured) > 1 else float("nan")
    per_batch_rate = [b["processed_rows_per_second"] or 0 for b in measured]
    fresh = [
        (datetime.fromisoformat(m["emitted_at"]) - datetime.fromisoformat(m["window_end"])).total_seconds()
        for m in metrics
    ]
    # freshness in two parts: when the batch that emitted a window started (its trigger time), after
    # the window's end, and how long after that start the record was on the topic
    started = {i: datetime.fromisoformat(b["batch_timestamp"]) for i, b in batches.items() if b.get("batch_timestamp")}
    emitted_by = [(m, started[m["batch_id"]]) for m in metrics if m.get("batch_id") in started]
    start_after_end = [(at - datetime.fromisoformat(m["window_end"])).total_seconds() for m, at in emitted_by]
    record_after_start = [(datetime.fromisoformat(m["emitted_at"]) - at).total_seconds() for m, at in emitted_by]
    # where a metrics batch's time goes (median ms per phase), and the other query's batches
    phases = sorted({k for b in measured for k in b.get("phase_ms", {})})
    phase_p50 = {k: statistics.median(b.get("phase_ms", {}).get(k, 0) for b in measured) for k in phases}
    state_commit_p50 = statistics.median(b.get("state_commit_ms", 0) for b in measured) if measured else None
    ads = [
        b["batch_duration_ms"] / 1000 for b in ad_batches.values() if b["seen"] >= args.warmup and b.get("input_rows")
    ]
    steady_lags = [lag for at, lag in lags if at >= args.warmup]
    trigger_s, watermark_s = seconds(args.trigger), seconds(args.watermark)
    result = {
        "rate_sent": args.rate,
        "events_sent": sent,
        "duration_s": args.duration,
        "batches_measured": len(measured),
        "rows_in_measured_batches": rows,
        "sustained_events_per_s": rows / span if span and span == span else None,
        "median_batch_processing_rate": statistics.median(per_batch_rate) if per_batch_rate else None,
        "p50_batch_s": pct(durations, 0.5),
        "p95_batch_s": pct(durations, 0.95),
        "max_batch_s": max(durations) if durations else None,
        "trigger_s": trigger_s,
        "metrics_phase_p50_ms": phase_p50,
        "metrics_state_commit_p50_ms": state_commit_p50,
        "ad_counters_p50_p95_batch_s": [pct(ads, 0.5), pct(ads, 0.95)],
        "lag_samples": steady_lags,
        "max_lag_after_warmup": max(steady_lags) if steady_lags else None,
        "windows_published": len(metrics),
        "events_in_published_windows": sum(m["total_events"] for m in metrics),
        "freshness_p50_s": pct(fresh, 0.5),
        "freshness_p95_s": pct(fresh, 0.95),
        "freshness_goal_s": watermark_s + 2 * trigger_s,
        "emitting_batch_start_after_window_end_p50_p95_s": [pct(start_after_end, 0.5), pct(start_after_end, 0.95)],
        "record_after_emitting_batch_start_p50_p95_s": [pct(record_after_start, 0.5), pct(record_after_start, 0.95)],
        "load_average_1m_before_after": [load_before, load_after],
    }
    print(json.dumps(result, indent=1))
    body = f"""Settings: window {args.window}, watermark {args.watermark}, trigger {args.trigger}; {args.rate} events/s
offered for {args.duration:.0f} s (first {args.warmup:.0f} s left out); job in its own process
(`watershed stream run`, driver 3g, RocksDB state), dedicated local Kafka broker and Redis, producer in a
third process, all on this machine. 1-minute load average {load_before:.1f} before, {load_after:.1f} after
(other engineers' jobs share the machine).

| figure | value |
|---|---|
| events sent | {sent} |
| sustained events/s (rows of measured batches / their span) | {_f(result["sustained_events_per_s"], 0)} |
| micro-batch duration p50 / p95 / max | {_f(result["p50_batch_s"])} / {_f(result["p95_batch_s"])} / {_f(result["max_batch_s"])} s (trigger {trigger_s:g} s) |
| metrics batch, median ms per phase | {", ".join(f"{k} {v:.0f}" for k, v in phase_p50.items())} (state commits {_f(state_commit_p50, 0)}) |
| ad-counters batch duration p50 / p95 | {_f(result["ad_counters_p50_p95_batch_s"][0])} / {_f(result["ad_counters_p50_p95_batch_s"][1])} s |
| consumer lag after warm-up (records, sampled every 5 s) | max {result["max_lag_after_warmup"]}, last {steady_lags[-1] if steady_lags else None} |
| windows published / events in them | {len(metrics)} / {result["events_in_published_windows"]} |
| freshness (window end -> metrics record) p50 / p95 | {_f(result["freshness_p50_s"])} / {_f(result["freshness_p95_s"])} s (goal <= {result["freshness_goal_s"]:g} s) |
| of which: emitting batch's trigger time after the window end, p50 / p95 | {_f(result["emitting_batch_start_after_window_end_p50_p95_s"][0])} / {_f(result["emitting_batch_start_after_window_end_p50_p95_s"][1])} s |
| of which: record on the topic after that batch's trigger time, p50 / p95 | {_f(result["record_after_emitting_batch_start_p50_p95_s"][0])} / {_f(result["record_after_emitting_batch_start_p50_p95_s"][1])} s |
"""  # noqa: E501
    name = "streaming" if args.rate == 10_000 else f"streaming-{args.rate}"
    record(name, f"Real-time job at {args.rate} events/s offered (bench/streaming.py)", body)


def _f(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def read_topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex})
    _low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out: list[dict[str, Any]] = []
    while len(out) < high:
        message = consumer.poll(5.0)
        if message is None:
            break
        if not message.error():
            out.append(json.loads(message.value()))
    consumer.close()
    return out


if __name__ == "__main__":
    main()
