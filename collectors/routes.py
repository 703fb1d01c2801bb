"""The collector's routes: ``ingest`` (``POST /v1/events``, ``POST /v1/batch``) and ``service``
(``/health``, ``/ready``, ``/metrics``), two :class:`~fastapi.APIRouter` that
:func:`collectors.app.create_app` includes.

An ingest request is checked in this order, and the first failure answers: write key (401, the
``ClientDep`` dependency), rate limit (429), content type (415), size (413), JSON (400), batch
shape (422/413), event count against the rate limit (429), the key's permission for the event
families (403), then the contract (422 for a single event; dead letter for a batch event), and
last Kafka's acknowledgement (503).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from collectors.auth import retry_after_seconds
from collectors.decoding import batch_events, body_doc, check_content_type, check_event_sizes, parse_json, read_body
from collectors.deps import Client, ClientDep, Collector, CollectorDep, SettingsDep, SinkDep
from collectors.errors import CollectorError, IndexedErrors, error_responses, json_response
from collectors.events import Accepted
from collectors.settings import CollectorSettings
from collectors.sink import Record, Sink, SinkUnavailable
from collectors.version import COLLECTOR_VERSION
from watershed.contract import INVALID_TOPIC, FieldError, Source

log = logging.getLogger("watershed.collector")

ingest = APIRouter()
service = APIRouter()


# ---- documentation models (the handlers build their answers directly) -----------------------


class EventAccepted(BaseModel):
    accepted: int = Field(description="1: the event is in Kafka.")
    rejected: int
    errors: list[IndexedErrors]
    event_id: str = Field(description="The event's id (the client's, or the one the collector gave it).")


class BatchResult(BaseModel):
    accepted: int = Field(description="Events acknowledged by Kafka.")
    rejected: int = Field(description="Invalid events, written to events-invalid with their errors.")
    errors: list[IndexedErrors]


class HealthBody(BaseModel):
    status: str
    version: str


class ReadyBody(BaseModel):
    ready: bool
    detail: str


# ---- ingest -----------------------------------------------------------------------------------


def _rate_limited(settings: CollectorSettings, client: Client, wait: float) -> CollectorError:
    seconds = retry_after_seconds(wait)
    return CollectorError(
        429,
        "rate_limited",
        f"the write key of {client.source.value} is over its limit of {settings.rate_limit:g} events/s; "
        f"retry after {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


async def _store(settings: CollectorSettings, sink: Sink, records: list[Record]) -> None:
    try:
        await sink.store(records)
    except SinkUnavailable as error:
        seconds = settings.unavailable_retry_after
        log.warning("answering 503: %s", error)
        raise CollectorError(
            503,
            "kafka_unavailable",
            f"{error}; nothing was accepted, retry after {seconds} s",
            headers={"Retry-After": str(seconds)},
        ) from None


def _count(collector: Collector, records: list[Record]) -> None:
    metrics = collector.metrics
    for record in records:
        if record.topic == INVALID_TOPIC:
            metrics.dead_letters.inc()
        else:
            metrics.accept(record.topic)


async def _dead_letter_single(
    collector: Collector,
    sink: Sink,
    payload: Any,
    errors: tuple[FieldError, ...],
    source: Source,
    received_at: datetime,
) -> None:
    """Keep a rejected single event in events-invalid; the client gets its 422 either way."""
    try:
        await sink.store([collector.processor.dead_letter(payload, errors, source, received_at)])
    except SinkUnavailable as error:
        log.warning("a rejected event could not be written to %s: %s", INVALID_TOPIC, error)
        collector.metrics.reject("dead_letter_failed")
    else:
        collector.metrics.dead_letters.inc()


@ingest.post(
    "/v1/events",
    summary="Send one event",
    response_model=EventAccepted,
    responses=error_responses(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra={"requestBody": body_doc("#/components/schemas/Event")},
)
async def post_event(
    request: Request, client: ClientDep, sink: SinkDep, settings: SettingsDep, collector: CollectorDep
) -> Response:
    """One event; 200 once Kafka acknowledged it. An invalid event is answered 422 with every
    error (and written to events-invalid)."""
    if wait := client.bucket.empty():
        raise _rate_limited(settings, client, wait)
    check_content_type(request)
    payload = parse_json(await read_body(request, settings.max_event_bytes, "the event"))
    if wait := client.bucket.take(1):
        raise _rate_limited(settings, client, wait)
    processor = collector.processor
    forbidden = processor.permission_error(payload, client.source)
    if forbidden is not None:
        raise CollectorError(403, "forbidden", forbidden.message, errors=processor.error_dicts([forbidden]))
    received_at = datetime.now(UTC)
    result = processor.prepare(payload, received_at)
    if not isinstance(result, Accepted):
        await _dead_letter_single(collector, sink, payload, result, client.source, received_at)
        raise CollectorError(
            422,
            "invalid_event",
            "the event does not match the contract",
            errors=processor.error_dicts(result),
        )
    await _store(settings, sink, [result.record])
    collector.metrics.accept(result.record.topic)
    return json_response({"accepted": 1, "rejected": 0, "errors": [], "event_id": result.event_id})


@ingest.post(
    "/v1/batch",
    summary="Send a batch of events",
    response_model=BatchResult,
    responses=error_responses(400, 401, 403, 413, 415, 422, 429, 503),
    openapi_extra={"requestBody": body_doc("#/components/schemas/Batch")},
)
async def post_batch(
    request: Request, client: ClientDep, sink: SinkDep, settings: SettingsDep, collector: CollectorDep
) -> Response:
    """Up to 500 events as ``{"events": [...]}``. Valid events go to their topics, invalid ones to
    events-invalid with their errors; 200 once Kafka acknowledged all of them."""
    if wait := client.bucket.empty():
        raise _rate_limited(settings, client, wait)
    check_content_type(request)
    body = await read_body(request, settings.max_batch_bytes, "the batch")
    events = batch_events(parse_json(body), settings.max_batch_events)
    if wait := client.bucket.take(len(events)):
        raise _rate_limited(settings, client, wait)
    check_event_sizes(events, len(body), settings.max_event_bytes)
    processor = collector.processor
    forbidden = [
        {"index": i, "errors": processor.error_dicts([e])}
        for i, event in enumerate(events)
        if (e := processor.permission_error(event, client.source)) is not None
    ]
    if forbidden:
        raise CollectorError(
            403,
            "forbidden",
            f"{len(forbidden)} of the events may not be sent with the write key of {client.source.value}; "
            "nothing was accepted",
            errors=forbidden,
        )
    received_at = datetime.now(UTC)
    records: list[Record] = []
    errors: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        result = processor.prepare(event, received_at)
        if isinstance(result, Accepted):
            records.append(result.record)
        else:
            errors.append({"index": index, "errors": processor.error_dicts(result)})
            records.append(processor.dead_letter(event, result, client.source, received_at, index))
    await _store(settings, sink, records)
    _count(collector, records)
    if errors:
        collector.metrics.reject("invalid_event", len(errors))
    return json_response({"accepted": len(events) - len(errors), "rejected": len(errors), "errors": errors})


# ---- health, readiness, metrics ---------------------------------------------------------------


@service.get("/health", summary="Liveness", response_model=HealthBody)
async def health() -> Response:
    """200 while the process answers (Kafka is not asked: see /ready)."""
    return json_response({"status": "ok", "version": COLLECTOR_VERSION})


@service.get(
    "/ready",
    summary="Readiness",
    response_model=ReadyBody,
    responses={503: {"model": ReadyBody, "description": "Kafka unreachable or topics missing."}},
)
async def ready(sink: SinkDep, collector: CollectorDep) -> Response:
    """200 when Kafka answers and every topic the collector writes exists, else 503."""
    state = await sink.is_healthy()
    collector.metrics.kafka_ready.set(1 if state.ok else 0)
    return json_response({"ready": state.ok, "detail": state.detail}, 200 if state.ok else 503)


@service.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics_endpoint(sink: SinkDep, collector: CollectorDep) -> Response:
    """The collector's metrics; the Kafka readiness gauge is refreshed first (the sink's cached
    check), so a scrape sees an outage even when nothing polls /ready."""
    from prometheus_client import CONTENT_TYPE_LATEST

    state = await sink.is_healthy()
    collector.metrics.kafka_ready.set(1 if state.ok else 0)
    return Response(collector.metrics.render(), media_type=CONTENT_TYPE_LATEST)
