"""The collector's HTTP API (FastAPI): write-key authentication, limits, validation against the
contract, pseudonymisation, and Kafka acknowledgement before any 2xx.

``create_app(settings, sink)`` assembles the app: the per-app state (:class:`~collectors.deps.Collector`),
the lifespan that starts and closes the sink, the routers of :mod:`collectors.routes`, the
exception handlers of :mod:`collectors.errors`, the metrics middleware and the OpenAPI schema;
``watershed collector serve`` runs :func:`app_from_environment` under uvicorn. The order of the
checks of a request is in :mod:`collectors.routes`. Error bodies are ``{"error", "message"}``
plus ``errors`` where there is a list; they never contain a submitted value.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from collectors.decoding import request_schemas
from collectors.deps import Collector
from collectors.errors import add_exception_handlers
from collectors.metrics import Metrics, MetricsMiddleware
from collectors.routes import ingest, service
from collectors.settings import CollectorSettings, load_collector_settings
from collectors.sink import KafkaSink, Sink
from collectors.version import COLLECTOR_VERSION
from watershed.contract import INVALID_TOPIC, Family
from watershed.pii import Pseudonymiser

log = logging.getLogger("watershed.collector")


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
        version=COLLECTOR_VERSION,
        description="Events over HTTP into Kafka: authenticated, validated against the event contract, "
        "pseudonymised, acknowledged by Kafka before any 2xx. See docs/collector.md.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.collector = collector
    add_exception_handlers(app)
    app.include_router(ingest)
    app.include_router(service)
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _openapi(app: FastAPI, settings: CollectorSettings) -> dict[str, Any]:
    """FastAPI's schema plus the event contract's JSON Schema for the request bodies and the two
    ways of presenting a write key."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).update(request_schemas(settings.max_batch_events))
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
