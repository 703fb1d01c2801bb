"""The collector's HTTP API (FastAPI): write-key authentication, limits, validation against the
contract, pseudonymisation, and Kafka acknowledgement before any 2xx.

``create_app(settings, sink)`` builds the app; ``watershed collector serve`` runs
:func:`app_from_environment` under uvicorn. Each request is checked in this order, and the first
failure answers: write key (401), rate limit (429), content type (415), size (413), JSON (400),
batch shape (422/413), event count against the rate limit (429), the key's permission for the
event families (403), then the contract (422 for a single event; dead letter for a batch event),
and last Kafka's acknowledgement (503). Error bodies are ``{"error", "message"}`` plus
``errors`` where there is a list; they never contain a submitted value.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from collectors.auth import TokenBucket, presented_key, retry_after_seconds
from collectors.events import Accepted, EventProcessor
from collectors.metrics import Metrics, MetricsMiddleware
from collectors.settings import CollectorSettings, WriteKey, load_collector_settings
from collectors.sink import KafkaSink, Record, Sink, SinkUnavailable
from collectors.version import COLLECTOR_VERSION as __version__
from watershed.contract import INVALID_TOPIC, Family, FieldError, Source
from watershed.pii import Pseudonymiser

log = logging.getLogger("watershed.collector")

_JSON = "application/json"
_CHALLENGE = 'Bearer realm="watershed-collector", Basic realm="watershed-collector"'


# ---- errors -----------------------------------------------------------------------------------


class CollectorError(Exception):
    """An answer other than 2xx: status, error code (also the metrics reason) and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors, self.headers = status, code, message, errors, headers

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=_JSON, headers=headers)


# ---- documentation models (the handlers build their answers directly) -----------------------


class FieldErrorBody(BaseModel):
    field: str = Field(description="Dotted path of the field ('' for the event as a whole).")
    message: str


class IndexedErrors(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    errors: list[FieldErrorBody]


class EventAccepted(BaseModel):
    accepted: int = Field(description="1: the event is in Kafka.")
    rejected: int
    errors: list[IndexedErrors]
    event_id: str = Field(description="The event's id (the client's, or the one the collector gave it).")


class BatchResult(BaseModel):
    accepted: int = Field(description="Events acknowledged by Kafka.")
    rejected: int = Field(description="Invalid events, written to events-invalid with their errors.")
    errors: list[IndexedErrors]


class ErrorBody(BaseModel):
    error: str = Field(description="Machine-readable reason, also the metrics label.")
    message: str
    errors: list[dict[str, Any]] | None = Field(
        None, description="Field errors (422 of one event) or per-index errors (403/422 of a batch)."
    )


class HealthBody(BaseModel):
    status: str
    version: str


class ReadyBody(BaseModel):
    ready: bool
    detail: str


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "Malformed JSON or request.",
        401: "No write key, or an unknown one.",
        403: "The write key's source may not send this event family.",
        413: "Body, event or event count over the limit.",
        415: "Content-Type is not application/json.",
        422: "The event (or the batch's shape) does not match the contract.",
        429: "The write key is over its rate limit; see Retry-After.",
        503: "Kafka did not acknowledge in time; nothing was accepted; see Retry-After.",
    }
    retry = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
    return {
        status: {
            "model": ErrorBody,
            "description": described[status],
            **({"headers": retry} if status in (429, 503) else {}),
        }
        for status in statuses
    }


# ---- state and dependencies -------------------------------------------------------------------


@dataclass
class Client:
    """The authenticated sender of a request."""

    source: Source
    bucket: TokenBucket


class Collector:
    """Everything a request needs; one per app (per worker process)."""

    def __init__(self, settings: CollectorSettings, sink: Sink, pseudonymiser: Pseudonymiser, metrics: Metrics) -> None:
        self.settings, self.sink, self.metrics = settings, sink, metrics
        self.processor = EventProcessor(pseudonymiser, __version__)
        rate, burst = settings.per_worker()
        self.rate = rate
        self.buckets: dict[WriteKey, TokenBucket] = {key: TokenBucket(rate, burst) for key in settings.write_keys}

    def client(self, key: str) -> Client | None:
        write_key = self.settings.find_key(key)
        return None if write_key is None else Client(write_key.source, self.buckets[write_key])


async def get_collector(request: Request) -> Collector:
    collector: Collector = request.app.state.collector
    return collector


async def get_sink(request: Request) -> Sink:
    sink: Sink = request.app.state.collector.sink
    return sink


async def authenticate(request: Request) -> Client:
    """The sender of the request, from its write key (401 without a known one)."""
    header = request.headers.get("authorization")
    if not header:
        raise CollectorError(
            401,
            "unauthorized",
            "a write key is required: send Authorization: Bearer <key>, or Basic with the key as user name",
            headers={"WWW-Authenticate": _CHALLENGE},
        )
    key = presented_key(header)
    client = None if key is None else request.app.state.collector.client(key)
    if client is None:
        message = "unknown write key" if key is not None else "malformed Authorization header: use Bearer or Basic"
        raise CollectorError(401, "unauthorized", message, headers={"WWW-Authenticate": _CHALLENGE})
    return client


SinkDep = Annotated[Sink, Depends(get_sink)]
ClientDep = Annotated[Client, Depends(authenticate)]


# ---- request checks ---------------------------------------------------------------------------


def _rate_limited(collector: Collector, client: Client, wait: float) -> CollectorError:
    seconds = retry_after_seconds(wait)
    return CollectorError(
        429,
        "rate_limited",
        f"the write key of {client.source.value} is over its limit of {collector.settings.rate_limit:g} events/s; "
        f"retry after {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def _check_content_type(request: Request) -> None:
    given = request.headers.get("content-type")
    media, _, params = (given or "").partition(";")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media.strip().lower() != _JSON or charset not in ("", "utf-8", "utf8"):
        shown = "none" if given is None else repr(given[:60])
        raise CollectorError(415, "unsupported_media_type", f"send Content-Type: application/json (got {shown})")
    encoding = request.headers.get("content-encoding")
    if encoding is not None and encoding.strip().lower() != "identity":
        raise CollectorError(
            415, "unsupported_media_type", "Content-Encoding is not supported: send the body uncompressed"
        )


async def _read_body(request: Request, limit: int, what: str) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise CollectorError(400, "malformed_request", "Content-Length is not a number")
        if int(length) > limit:
            raise CollectorError(
                413, "payload_too_large", f"{what} is {int(length)} bytes; at most {limit} bytes are accepted"
            )
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise CollectorError(
                    413, "payload_too_large", f"{what} is more than {limit} bytes; at most {limit} bytes are accepted"
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise CollectorError(400, "malformed_request", "the client left before sending the whole body") from None
    return b"".join(chunks)


def _parse(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise CollectorError(
            400,
            "malformed_json",
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        ) from None


async def _store(collector: Collector, sink: Sink, records: list[Record]) -> None:
    try:
        await sink.store(records)
    except SinkUnavailable as error:
        seconds = collector.settings.unavailable_retry_after
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


# ---- the app ----------------------------------------------------------------------------------


def create_app(
    settings: CollectorSettings,
    sink: Sink,
    pseudonymiser: Pseudonymiser | None = None,
    metrics: Metrics | None = None,
) -> FastAPI:
    if pseudonymiser is None:
        from watershed.settings import load_settings

        pseudonymiser = Pseudonymiser.from_settings(load_settings())
    metrics = metrics or Metrics()
    collector = Collector(settings, sink, pseudonymiser, metrics)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await collector.sink.start()
        if settings.uses_dev_keys:
            log.warning("using the development write keys (WATERSHED_ENV=local only)")
        try:
            yield
        finally:
            await collector.sink.close()

    app = FastAPI(
        title="Watershed collector",
        version=__version__,
        description="Events over HTTP into Kafka: authenticated, validated against the event contract, "
        "pseudonymised, acknowledged by Kafka before any 2xx. See docs/collector.md.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.collector = collector

    @app.exception_handler(CollectorError)
    async def _collector_error(_request: Request, error: CollectorError) -> Response:
        collector.metrics.reject(error.code)
        return _json(error.body(), error.status, error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "malformed_request")
        collector.metrics.reject(code)
        return _json({"error": code, "message": str(error.detail)}, error.status_code, error.headers)

    @app.post(
        "/v1/events",
        summary="Send one event",
        response_model=EventAccepted,
        responses=_responses(400, 401, 403, 413, 415, 422, 429, 503),
        openapi_extra={"requestBody": _body_doc("#/components/schemas/Event")},
    )
    async def post_event(request: Request, client: ClientDep, sink: SinkDep) -> Response:
        """One event; 200 once Kafka acknowledged it. An invalid event is answered 422 with every
        error (and written to events-invalid)."""
        if wait := client.bucket.empty():
            raise _rate_limited(collector, client, wait)
        _check_content_type(request)
        payload = _parse(await _read_body(request, collector.settings.max_event_bytes, "the event"))
        if wait := client.bucket.take(1):
            raise _rate_limited(collector, client, wait)
        forbidden = collector.processor.permission_error(payload, client.source)
        if forbidden is not None:
            raise CollectorError(
                403, "forbidden", forbidden.message, errors=collector.processor.error_dicts([forbidden])
            )
        received_at = datetime.now(UTC)
        result = collector.processor.prepare(payload, received_at)
        if not isinstance(result, Accepted):
            await _dead_letter_single(collector, sink, payload, result, client.source, received_at)
            raise CollectorError(
                422,
                "invalid_event",
                "the event does not match the contract",
                errors=collector.processor.error_dicts(result),
            )
        await _store(collector, sink, [result.record])
        collector.metrics.accept(result.record.topic)
        return _json({"accepted": 1, "rejected": 0, "errors": [], "event_id": result.event_id})

    @app.post(
        "/v1/batch",
        summary="Send a batch of events",
        response_model=BatchResult,
        responses=_responses(400, 401, 403, 413, 415, 422, 429, 503),
        openapi_extra={"requestBody": _body_doc("#/components/schemas/Batch")},
    )
    async def post_batch(request: Request, client: ClientDep, sink: SinkDep) -> Response:
        """Up to 500 events as ``{"events": [...]}``. Valid events go to their topics, invalid ones to
        events-invalid with their errors; 200 once Kafka acknowledged all of them."""
        settings = collector.settings
        if wait := client.bucket.empty():
            raise _rate_limited(collector, client, wait)
        _check_content_type(request)
        body = await _read_body(request, settings.max_batch_bytes, "the batch")
        events = _batch_events(_parse(body), settings.max_batch_events)
        if wait := client.bucket.take(len(events)):
            raise _rate_limited(collector, client, wait)
        if len(body) > settings.max_event_bytes:  # only then can one event be over the limit
            for index, event in enumerate(events):
                size = len(orjson.dumps(event))
                if size > settings.max_event_bytes:
                    raise CollectorError(
                        413,
                        "payload_too_large",
                        f"event {index} is {size} bytes; at most {settings.max_event_bytes} bytes are accepted",
                    )
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
        await _store(collector, sink, records)
        _count(collector, records)
        if errors:
            collector.metrics.reject("invalid_event", len(errors))
        return _json({"accepted": len(events) - len(errors), "rejected": len(errors), "errors": errors})

    @app.get("/health", summary="Liveness", response_model=HealthBody)
    async def health() -> Response:
        """200 while the process answers (Kafka is not asked: see /ready)."""
        return _json({"status": "ok", "version": __version__})

    @app.get(
        "/ready",
        summary="Readiness",
        response_model=ReadyBody,
        responses={503: {"model": ReadyBody, "description": "Kafka unreachable or topics missing."}},
    )
    async def ready(sink: SinkDep) -> Response:
        """200 when Kafka answers and every topic the collector writes exists, else 503."""
        state = await sink.is_healthy()
        collector.metrics.kafka_ready.set(1 if state.ok else 0)
        return _json({"ready": state.ok, "detail": state.detail}, 200 if state.ok else 503)

    @app.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics_endpoint() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(collector.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


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


def _batch_events(document: Any, limit: int) -> list[Any]:
    if not isinstance(document, dict) or "events" not in document:
        raise CollectorError(
            422,
            "invalid_batch",
            'a batch is a JSON object {"events": [...]}',
            errors=[{"field": "events", "message": "is required"}],
        )
    extra = sorted(k for k in document if k != "events")
    if extra:
        raise CollectorError(
            422,
            "invalid_batch",
            'a batch is a JSON object {"events": [...]}',
            errors=[{"field": name[:100], "message": "is not a field of a batch"} for name in extra[:20]],
        )
    events = document["events"]
    if not isinstance(events, list) or not events:
        raise CollectorError(
            422,
            "invalid_batch",
            'a batch is a JSON object {"events": [...]}',
            errors=[{"field": "events", "message": f"must be a list of 1 to {limit} events"}],
        )
    if len(events) > limit:
        raise CollectorError(
            413, "payload_too_large", f"the batch holds {len(events)} events; at most {limit} are accepted"
        )
    return events


# ---- OpenAPI ----------------------------------------------------------------------------------


def _body_doc(ref: str) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": {"$ref": ref}}}}


def _openapi(app: FastAPI, settings: CollectorSettings) -> dict[str, Any]:
    """FastAPI's schema plus the event contract's JSON Schema for the request bodies and the two
    ways of presenting a write key."""
    if app.openapi_schema:
        return app.openapi_schema
    from pydantic import TypeAdapter

    from watershed.contract import Event

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    event_schema = TypeAdapter(Event).json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(event_schema.pop("$defs", {}))
    schemas["Event"] = event_schema
    schemas["Batch"] = {
        "type": "object",
        "required": ["events"],
        "additionalProperties": False,
        "properties": {
            "events": {
                "type": "array",
                "minItems": 1,
                "maxItems": settings.max_batch_events,
                "items": {"$ref": "#/components/schemas/Event"},
            }
        },
    }
    components["securitySchemes"] = {
        "writeKeyBearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <write key>"},
        "writeKeyBasic": {"type": "http", "scheme": "basic", "description": "The write key as user name."},
    }
    for path in ("/v1/events", "/v1/batch"):
        schema["paths"][path]["post"]["security"] = [{"writeKeyBearer": []}, {"writeKeyBasic": []}]
    app.openapi_schema = schema
    return schema


def kafka_sink(bootstrap: str, settings: CollectorSettings) -> KafkaSink:
    """The Kafka sink with the collector's timeouts, requiring the family topics and events-invalid."""
    return KafkaSink(
        bootstrap,
        required_topics=[*(family.value for family in Family), INVALID_TOPIC],
        timeout=settings.kafka_timeout,
        linger_ms=settings.kafka_linger_ms,
        ready_cache_seconds=settings.ready_cache_seconds,
        ready_timeout=settings.ready_timeout,
    )


def app_from_environment() -> FastAPI:
    """The app as `watershed collector serve` runs it (uvicorn factory), configured from the
    environment: WATERSHED_COLLECTOR_* and the platform's Kafka and PII settings."""
    from watershed.settings import load_settings

    platform = load_settings()
    settings = load_collector_settings()
    return create_app(settings, kafka_sink(platform.kafka_bootstrap, settings), Pseudonymiser.from_settings(platform))
