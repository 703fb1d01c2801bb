"""Events to the collector over HTTP: ``POST {base}/v1/batch`` with up to 500 events of one
source, authorised by that source's write key.

Several batches are in flight at once (``concurrency``), the send rate is capped (``rate``
events per second), and a 429 or 503 answer is retried after its ``Retry-After`` (a network
error after a growing pause), so nothing is lost. A batch retried after a timeout may reach
the collector twice; the pipeline removes such duplicates by event_id like any client retry.
Other error answers stop the run with the collector's message.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from simulator.assemble import EventStream
from simulator.config import GeneratorError
from simulator.sinks import sources, windows
from simulator.wire import dumps, payloads

BATCH_PATH = "/v1/batch"
MAX_BATCH = 500
RETRY_STATUSES = frozenset({429, 503})
_KEPT_ERRORS = 20


@dataclass(frozen=True)
class Batch:
    source: str
    first_position: int  # arrival position of the batch's first event
    positions: tuple[int, ...]
    body: bytes


@dataclass
class _Tally:
    total: int
    accepted: int = 0
    rejected: int = 0
    batches: int = 0
    retries: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class HttpSink:
    base_url: str
    write_keys: Mapping[str, str]  # source -> write key
    concurrency: int = 4
    rate: float | None = None  # events per second; None: as fast as the collector answers
    batch_size: int = MAX_BATCH
    max_retries: int = 50
    timeout: float = 30.0
    progress: Callable[[int, int], None] | None = None  # (events just sent, events in all)
    transport: httpx.AsyncBaseTransport | None = None  # tests plug a mock transport here

    def send(self, events: EventStream) -> dict[str, Any]:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise GeneratorError(f"batch size must be between 1 and {MAX_BATCH} (got {self.batch_size})")
        missing = sorted(set(sources(np.unique(events.event_types))) - set(self.write_keys))
        if missing:
            raise GeneratorError(
                "no write key for source(s) "
                + ", ".join(missing)
                + ": pass --write-key SOURCE=KEY or set "
                + ", ".join(f"WATERSHED_WRITE_KEY_{s.upper()}" for s in missing)
            )
        tally = asyncio.run(self._send_all(events))
        return {
            "sink": "http",
            "url": self.base_url.rstrip("/") + BATCH_PATH,
            "accepted": tally.accepted,
            "rejected": tally.rejected,
            "batches": tally.batches,
            "retries": tally.retries,
            "first_errors": tally.errors,
        }

    async def _send_all(self, events: EventStream) -> _Tally:
        tally = _Tally(total=events.rows)
        queue: asyncio.Queue[Batch | None] = asyncio.Queue(maxsize=2 * self.concurrency)
        pacer = _Pacer(self.rate)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, transport=self.transport) as client:
            workers = [asyncio.create_task(self._worker(client, queue, pacer, tally)) for _ in range(self.concurrency)]
            try:
                async for batch in batches(events, self.batch_size):
                    await _put(queue, batch, workers)
                for _ in workers:
                    await _put(queue, None, workers)
                await asyncio.gather(*workers)
            finally:
                for worker in workers:
                    worker.cancel()
        return tally

    async def _worker(
        self, client: httpx.AsyncClient, queue: asyncio.Queue[Batch | None], pacer: _Pacer, tally: _Tally
    ) -> None:
        while (batch := await queue.get()) is not None:
            await pacer.wait(len(batch.positions))
            answer = await self._post(client, batch, tally)
            tally.accepted += int(answer.get("accepted", 0))
            tally.rejected += int(answer.get("rejected", 0))
            tally.batches += 1
            for error in answer.get("errors", []):
                if len(tally.errors) < _KEPT_ERRORS:
                    index = int(error.get("index", -1))
                    position = batch.positions[index] if 0 <= index < len(batch.positions) else None
                    tally.errors.append({"position": position, "errors": error.get("errors", [])})
            if self.progress is not None:
                self.progress(len(batch.positions), tally.total)

    async def _post(self, client: httpx.AsyncClient, batch: Batch, tally: _Tally) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.write_keys[batch.source]}", "Content-Type": "application/json"}
        for attempt in range(self.max_retries + 1):
            try:
                response = await client.post(BATCH_PATH, content=batch.body, headers=headers)
            except httpx.TransportError as error:
                wait, reason = min(0.5 * 2**attempt, 10.0), f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    answer: dict[str, Any] = response.json()
                    return answer
                if response.status_code not in RETRY_STATUSES:
                    raise GeneratorError(
                        f"collector answered {response.status_code} to a {batch.source} batch "
                        f"(first event at position {batch.first_position}): {response.text[:300]}"
                    )
                wait = retry_after(response.headers.get("Retry-After"), default=min(0.5 * 2**attempt, 10.0))
                reason = f"HTTP {response.status_code}"
            if attempt < self.max_retries:
                tally.retries += 1
                await asyncio.sleep(wait)
        raise GeneratorError(
            f"gave up on a {batch.source} batch after {self.max_retries} retries ({reason}); events from position "
            f"{batch.first_position} on were not all delivered"
        )


async def batches(events: EventStream, size: int) -> AsyncIterator[Batch]:
    """Batches of one source each, in arrival order within the source, built window by window
    so that memory stays flat for large runs."""
    start = 0
    for window, types in windows(events):
        pending: dict[str, list[tuple[int, bytes]]] = {}
        for offset, (payload, source) in enumerate(
            zip(payloads(window, received_at=False), sources(types), strict=True)
        ):
            group = pending.setdefault(source, [])
            group.append((start + offset, dumps(payload)))
            if len(group) == size:
                yield _batch(source, pending.pop(source))
        for source, group in pending.items():
            yield _batch(source, group)
        start += window.num_rows
        await asyncio.sleep(0)  # let the workers run between windows


def _batch(source: str, group: list[tuple[int, bytes]]) -> Batch:
    body = b'{"events":[' + b",".join(raw for _, raw in group) + b"]}"
    positions = tuple(p for p, _ in group)
    return Batch(source, positions[0], positions, body)


async def _put(queue: asyncio.Queue[Batch | None], item: Batch | None, workers: list[asyncio.Task[None]]) -> None:
    """queue.put that surfaces a worker's failure instead of waiting forever for room."""
    while True:
        for worker in workers:
            if worker.done() and worker.exception() is not None:
                raise worker.exception()  # type: ignore[misc]
        try:
            await asyncio.wait_for(queue.put(item), timeout=0.2)
            return
        except TimeoutError:
            continue


def retry_after(value: str | None, *, default: float) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, moment.timestamp() - time.time())


class _Pacer:
    """Spaces sends so that at most `rate` events per second leave (None: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self._rate = rate
        self._next = 0.0

    async def wait(self, events: int) -> None:
        if not self._rate:
            return
        now = time.monotonic()
        start = max(now, self._next)
        self._next = start + events / self._rate
        if start > now:
            await asyncio.sleep(start - now)
