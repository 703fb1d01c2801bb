"""`watershed monitor`: the platform's own metrics."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def monitor() -> None:
    """The platform's own metrics for Prometheus (docs/monitoring.md)."""


@monitor.command("exporter")
@click.option("--port", type=click.IntRange(1, 65535), help="Port on 127.0.0.1 [WATERSHED_EXPORTER_PORT, 9108].")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
def exporter_command(port: int | None, host: str) -> None:
    """Serve pipeline runs, consumer lag, the real-time job's heartbeat and the warehouse's
    freshness on /metrics, read from the stores at every scrape, until interrupted."""
    from monitoring.exporter import serve
    from watershed.settings import load_settings

    settings = load_settings()
    serve(settings, port or settings.exporter_port, host)


@monitor.command("sample")
def sample_command() -> None:
    """Print one scrape of the exporter's metrics (text exposition) and exit."""
    from prometheus_client import CollectorRegistry, generate_latest

    from monitoring.exporter import PlatformCollector
    from watershed.settings import load_settings

    registry = CollectorRegistry()
    registry.register(PlatformCollector(load_settings()))
    click.echo(generate_latest(registry).decode(), nl=False)


@monitor.command("alertmanager-config")
@click.option("--out", type=click.Path(dir_okay=False), help="Write it here (mode 600) instead of stdout.")
def alertmanager_config_command(out: str | None) -> None:
    """Alertmanager's configuration from the settings: the routes to Slack and PagerDuty, the
    inhibitions. The local stack writes the same at every start; compose's Alertmanager reads it."""
    import yaml

    from watershed.settings import load_settings
    from watershed.stack.monitoring import alertmanager_config
    from watershed.stack.service import write_private

    text = yaml.safe_dump(alertmanager_config(load_settings()), sort_keys=False)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_private(Path(out), text)
        click.echo(f"wrote {out}")
