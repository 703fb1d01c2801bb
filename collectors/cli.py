"""`watershed collector serve`: the collector under uvicorn (uvloop, httptools)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import click

from watershed.logs import configure_service, log_format_option


@click.group()
def collector() -> None:
    """The event collector (HTTP -> Kafka); see docs/collector.md."""


@collector.command()
@click.option("--host", help="Address to listen on [WATERSHED_COLLECTOR_HOST, default 127.0.0.1].")
@click.option("--port", type=int, help="Port [WATERSHED_COLLECTOR_PORT, default 8000].")
@click.option("--workers", type=int, help="Worker processes [WATERSHED_COLLECTOR_WORKERS, default 1].")
@log_format_option()
def serve(host: str | None, port: int | None, workers: int | None, log_format: str) -> None:
    """Serve POST /v1/events, POST /v1/batch, /health, /ready, /metrics and /docs."""
    import uvicorn

    # JSON lines at INFO; uvicorn applies the same setup in each worker process (and its own
    # loggers, at WATERSHED_COLLECTOR_LOG_LEVEL, go through the same handler)
    log_config = configure_service(log_format)

    from collectors.settings import load_collector_settings
    from watershed.settings import load_settings

    # Options override the environment; the worker processes read the environment, so that is
    # where the options go. Checking both settings here turns a mistake into one line at once.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"WATERSHED_COLLECTOR_{name}"] = str(value)
    platform = load_settings()
    settings = load_collector_settings()
    from watershed.pii import Pseudonymiser

    try:
        Pseudonymiser.from_settings(platform)
    except ValueError as error:
        from watershed.errors import ConfigError

        raise ConfigError(f"WATERSHED_PII_HASH_KEY / WATERSHED_PII_HASH_KEY_ID: {error}") from None

    metrics_dir = None
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        metrics_dir = tempfile.mkdtemp(prefix="watershed-collector-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    started = {
        "listen": f"http://{settings.host}:{settings.port}",
        "workers": settings.workers,
        "kafka": platform.kafka_bootstrap,
        "write_keys": settings.describe()["write_key_sources"],
        "dev_write_keys": settings.uses_dev_keys,
    }
    click.echo("collector: " + json.dumps(started))
    try:
        uvicorn.run(
            "collectors.app:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop",
            http="httptools",
            log_config=log_config,
            log_level=settings.log_level,
            access_log=settings.access_log,
            server_header=False,
            # a worker importing under heavy load may take longer than uvicorn's 5 s to answer its
            # supervisor, which would then kill and restart it
            timeout_worker_healthcheck=30,
            # let requests in flight get their Kafka acknowledgement on shutdown
            timeout_graceful_shutdown=int(settings.kafka_timeout) + 5,
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
