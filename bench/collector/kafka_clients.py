"""Which Kafka client should the collector use? The three candidates, with the collector's
guarantees and call pattern, on the same broker.

Every client runs with acks=all, an idempotent producer, linger 2 ms, murmur2 partitioning
(the Java client's) and the collector's message shape (key = user id, ~600-byte JSON value).
The pattern is the collector's: many concurrent "requests" on one asyncio loop (uvloop), each
producing 1 or 100 messages and awaiting every acknowledgement. Figures per client: messages/s,
p50/p99 latency of a request (produce -> last ack) and CPU time of the process per message,
which is what the HTTP layer cannot use on a 2-core machine.

    python -m bench.collector.kafka_clients            # dedicated broker in a temp dir
    python -m bench.collector.kafka_clients --bootstrap 127.0.0.1:9092
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any

import orjson

TOPIC = "bench-clients"
PARTITIONS = 3
LINGER_MS = 2
SCENARIOS = {"single": (1, 64, 20_000), "batch100": (100, 8, 200_000)}  # per request, concurrency, messages
TIME_LIMIT_S = 20.0


class _Ack:
    """Counts the acknowledgements of one request and resolves its future once, from any thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None], count: int) -> None:
        self.loop, self.future, self.left, self.error = loop, future, count, None
        self.lock = threading.Lock()

    def __call__(self, err: Any, _msg: Any = None) -> None:
        with self.lock:
            # kafka-python calls back with the record's metadata on success, with an exception on failure
            if isinstance(err, BaseException) or (err is not None and not hasattr(err, "offset")):
                self.error = err
            self.left -= 1
            done = self.left == 0
        if done:
            self.loop.call_soon_threadsafe(_resolve, self.future, self.error)


def _resolve(future: asyncio.Future[None], error: Any) -> None:
    if not future.done():
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(RuntimeError(str(error)))


class ConfluentThreadClient:
    """confluent-kafka with a poll thread and one call_soon_threadsafe per request (the usual
    recipe; the collector's sink hands completed requests over in batches instead)."""

    name = "confluent-kafka (naive poll thread)"

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Producer

        self.producer = Producer({
            "bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
            "linger.ms": LINGER_MS, "partitioner": "murmur2_random",
        })  # fmt: skip
        self.running = True
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while self.running:
            self.producer.poll(0.05)

    async def send(self, records: list[tuple[bytes, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        ack = _Ack(loop, future, len(records))
        produce = self.producer.produce
        for key, value in records:
            produce(TOPIC, value, key, on_delivery=ack)
        await future

    async def close(self) -> None:
        self.producer.flush(10)
        self.running = False
        self.thread.join()


class CollectorSinkClient:
    """confluent-kafka as the collector uses it: collectors.sink.KafkaSink (delivery reports on a
    poll thread, completed requests handed to the loop in one call per poll())."""

    name = "confluent-kafka (collector sink)"

    def __init__(self, bootstrap: str) -> None:
        from collectors.sink import KafkaSink

        self.sink = KafkaSink(bootstrap, required_topics=[TOPIC], timeout=30, linger_ms=LINGER_MS)

    async def start(self) -> None:
        await self.sink.start()

    async def send(self, records: list[tuple[bytes, bytes]]) -> None:
        from collectors.sink import Record

        await self.sink.store([Record(TOPIC, key, value) for key, value in records])

    async def close(self) -> None:
        await self.sink.close()


class KafkaPythonClient:
    name = "kafka-python"

    def __init__(self, bootstrap: str) -> None:
        from kafka import KafkaProducer

        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=LINGER_MS
        )

    async def send(self, records: list[tuple[bytes, bytes]]) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        ack = _Ack(loop, future, len(records))
        for key, value in records:
            self.producer.send(TOPIC, value=value, key=key).add_callback(ack).add_errback(ack)
        await future

    async def close(self) -> None:
        self.producer.flush(10)
        self.producer.close(10)


class AioKafkaClient:
    name = "aiokafka"

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=LINGER_MS
        )
        await self.producer.start()

    async def send(self, records: list[tuple[bytes, bytes]]) -> None:
        futures = [await self.producer.send(TOPIC, value, key=key) for key, value in records]
        await asyncio.gather(*futures)

    async def close(self) -> None:
        await self.producer.stop()


CLIENTS = {c.name: c for c in (CollectorSinkClient, ConfluentThreadClient, KafkaPythonClient, AioKafkaClient)}


def records(n: int) -> list[tuple[bytes, bytes]]:
    from bench.collector.events import make_events

    out = []
    for event in make_events(n):
        event["received_at"] = event["occurred_at"]
        event["ip"] = "k1:" + "ab" * 32  # a pseudonymised value is this long
        out.append(((event.get("user_id") or event["anonymous_id"]).encode(), orjson.dumps(event)))
    return out


async def scenario(client: Any, data: list[tuple[bytes, bytes]], per_request: int, concurrency: int) -> dict:
    latencies: list[float] = []
    next_index = 0
    deadline = time.monotonic() + TIME_LIMIT_S

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(data) and time.monotonic() < deadline:
            chunk = data[next_index : next_index + per_request]
            next_index += per_request
            started = time.perf_counter()
            await client.send(chunk)
            latencies.append(time.perf_counter() - started)

    await client.send(data[:per_request])  # connect and fetch metadata outside the measurement
    cpu0, wall0 = _cpu(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall0, _cpu() - cpu0
    sent = len(latencies) * per_request
    latencies.sort()
    return {
        "messages": sent,
        "seconds": round(wall, 2),
        "msgs_per_s": round(sent / wall),
        "p50_ms": round(1000 * latencies[len(latencies) // 2], 2),
        "p99_ms": round(1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "cpu_us_per_msg": round(1e6 * cpu / sent, 1),
    }


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(name: str, bootstrap: str, which: str) -> dict:
    per_request, concurrency, total = SCENARIOS[which]
    client = CLIENTS[name](bootstrap)
    if hasattr(client, "start"):
        await client.start()
    try:
        return await scenario(client, records(total + per_request), per_request, concurrency)
    finally:
        await client.close()


def child(name: str, bootstrap: str, which: str) -> None:
    import uvloop

    print(json.dumps(uvloop.run(_measure(name, bootstrap, which))))


def run(bootstrap: str) -> list[dict]:
    """Each client and scenario in a fresh process, so that no client warms the next."""
    rows = []
    for which in SCENARIOS:
        for name in CLIENTS:
            command = [sys.executable, "-m", "bench.collector.kafka_clients", "--child", name, which]
            out = subprocess.run(
                [*command, "--bootstrap", bootstrap], capture_output=True, text=True, check=True, timeout=180
            )
            row = {"client": name, "scenario": which, **json.loads(out.stdout.strip().splitlines()[-1])}
            print(row, flush=True)
            rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| client | scenario | messages | msgs/s | p50 ms | p99 ms | client CPU µs/msg |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['client']} | {r['scenario']} | {r['messages']} | {r['msgs_per_s']:,} | {r['p50_ms']} "
            f"| {r['p99_ms']} | {r['cpu_us_per_msg']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing broker (default: a dedicated one in a temp dir)")
    parser.add_argument("--child", nargs=2, metavar=("CLIENT", "SCENARIO"), help=argparse.SUPPRESS)
    parser.add_argument("--no-record", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.bootstrap, args.child[1])
        return
    from bench.collector._broker import broker

    load = os.getloadavg()[0]
    with broker(args.bootstrap, {TOPIC: PARTITIONS}) as bootstrap:
        rows = run(bootstrap)
    body = table(rows)
    print(body)
    if not args.no_record:
        from bench._report import record

        record(
            "collector-kafka-clients",
            "Collector: Kafka client choice",
            "Same broker, acks=all, idempotent producer, linger 2 ms, murmur2 partitioning, the collector's "
            "message shape and call pattern (asyncio/uvloop; a request produces 1 or 100 messages and awaits "
            "every ack). `single`: 64 concurrent requests of 1 message; `batch100`: 8 concurrent requests of "
            f"100. Each run stops at its message count or after {TIME_LIMIT_S:.0f} s. Load average at the start: "
            f"{load:.1f} (2 cores; other work shares them).\n\n" + body,
            command="python -m bench.collector.kafka_clients",
        )


if __name__ == "__main__":
    main()
