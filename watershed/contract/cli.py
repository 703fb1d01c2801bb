"""`watershed contract`: publish the derived copies of the contract and check events against it."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def contract() -> None:
    """The event contract: export derived schemas, check them, validate event files."""


@contract.command()
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path.cwd,
    show_default="the current directory",
    help="Repository root to write under.",
)
def export(root: Path) -> None:
    """Write docs/schemas/ and dbt/models/staging/_sources.yml from the models."""
    from watershed.contract.export import write_artifacts

    changed = write_artifacts(root)
    for path in changed:
        click.echo(f"wrote {path}")
    click.echo(f"{len(changed)} file(s) changed")


@contract.command()
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path.cwd,
    show_default="the current directory",
    help="Repository root to check.",
)
def check(root: Path) -> None:
    """Fail when a generated copy differs from the models (run `watershed contract export`)."""
    from watershed.contract.export import stale_artifacts

    stale = stale_artifacts(root)
    if stale:
        raise click.ClickException(
            "out of date with watershed/contract (run `watershed contract export`): " + ", ".join(str(p) for p in stale)
        )
    click.echo("generated contract files are up to date")


@contract.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--show", default=20, show_default=True, help="How many invalid lines to print.")
def validate(path: Path, show: int) -> None:
    """Validate an NDJSON file of events (one JSON object per line)."""
    import json

    from watershed.contract.validation import FieldError, validate_event

    valid = invalid = 0
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            try:
                errors = validate_event(json.loads(line)).errors
            except json.JSONDecodeError as error:
                errors = (FieldError("", f"not JSON: {error.msg}"),)
            valid += not errors
            invalid += bool(errors)
            if errors and invalid <= show:
                click.echo(f"line {number}: " + "; ".join(f"{e.field or 'event'}: {e.message}" for e in errors))
    click.echo(f"{valid} valid, {invalid} invalid")
    if invalid:
        raise click.ClickException(f"{invalid} event(s) do not match the contract")
