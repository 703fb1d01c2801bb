"""`watershed config show`: the resolved configuration, secrets never shown."""

from __future__ import annotations

import json

import click

from watershed.settings import load_settings


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
def show() -> None:
    """Print the resolved settings as JSON (secret values are never printed)."""
    click.echo(json.dumps(load_settings().describe(), indent=2))
