"""`watershed quality run <checkpoint> --date D`, `watershed quality list`, `watershed quality docs`,
`watershed quality stream-vs-batch --date D`.

Light to import: pandas and Great Expectations load inside the commands. A failing checkpoint
prints its report and exits 1; a configuration or IO problem exits 2 with one line.
"""

from __future__ import annotations

import json
from datetime import datetime

import click

CHECKPOINTS = ("bronze", "silver", "ads", "marts", "ad_marts", "ledger")


class CheckpointFailed(click.ClickException):
    exit_code = 1


@click.group()
def quality() -> None:
    """Data quality gates (Great Expectations) for every layer; see docs/quality.md."""


@quality.command("run")
@click.argument("checkpoint", type=click.Choice(CHECKPOINTS))
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="The day (UTC) to check.")
@click.option("--no-alert", is_flag=True, help="Do not post to the webhook when the checkpoint fails.")
@click.option("--no-docs", is_flag=True, help="Skip updating the Data Docs site.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole outcome as JSON instead of the report.")
def run(checkpoint: str, day: datetime, no_alert: bool, no_docs: bool, as_json: bool) -> None:
    """Run CHECKPOINT on one day; exit 1 (and alert) when an expectation fails."""
    from quality.runner import run_checkpoint

    outcome = run_checkpoint(checkpoint, day.date(), alert=not no_alert, data_docs=not no_docs)
    if as_json:
        click.echo(json.dumps(outcome.to_dict(), indent=2, default=str))
    else:
        click.echo("\n".join(outcome.report()))
    if not outcome.success:
        raise CheckpointFailed(
            f"checkpoint {checkpoint} failed for {outcome.date}: {len(outcome.failures)} of {outcome.evaluated} "
            f"expectations ({', '.join(outcome.failed_names[:5])}{', ...' if len(outcome.failures) > 5 else ''})"
        )


@quality.command("list")
@click.option("--checks", "show_checks", is_flag=True, help="Also list every expectation of every suite.")
def list_(show_checks: bool) -> None:
    """The checkpoints, their suites and (with --checks) their expectations."""
    from quality import suites
    from quality.settings import load_quality_settings
    from quality.suites.marts import AD_MARTS

    qs = load_quality_settings()
    rules = suites.Rules.from_settings(qs)
    by_checkpoint: dict[str, dict[str, list[suites.Check]]] = {
        "bronze": {"bronze.events": suites.bronze_event_checks(rules)},
        "silver": {"silver.events": suites.silver_event_checks(), "silver.sessions": suites.silver_session_checks()},
        "ads": {"ads.ad_platform_daily": suites.ad_row_checks()},
        "marts": {f"marts.{s.table}": suites.mart_checks(s) for s in suites.load_marts(qs.marts_file)},
        "ad_marts": {f"marts.{s.table}": suites.mart_checks(s) for s in AD_MARTS},
        "ledger": {"ledger.reconciliation": []},
    }
    for name, by_suite in by_checkpoint.items():
        click.echo(name)
        for suite, found in by_suite.items():
            click.echo(f"  {suite}: {len(found) or 'one per measured step'} expectations")
            if show_checks:
                for check in found:
                    click.echo(f"    {check.name}: {check.description}")


@quality.command("docs")
def docs() -> None:
    """Rebuild the Data Docs site and print where its index is."""
    from quality import engine
    from quality.settings import load_quality_settings
    from watershed.settings import load_settings

    ctx = engine.context(load_quality_settings().quality_dir(load_settings()))
    ctx.build_data_docs()
    click.echo(engine.data_docs_index(ctx) or "no Data Docs site configured")


@quality.command("stream-vs-batch")
@click.option("--date", "day", type=click.DateTime(formats=["%Y-%m-%d"]), required=True, help="A closed day (UTC).")
@click.option(
    "--counters-key", default="watershed:ad_counters", show_default=True, help="The live counters' key prefix."
)
@click.option("--json", "as_json", is_flag=True, help="Print the reconciliation as JSON.")
def stream_vs_batch(day: datetime, counters_key: str, as_json: bool) -> None:
    """The live ad counters of a closed day against marts.ad_events_daily; exit 1 on any difference."""
    from quality import stream_batch
    from quality.settings import load_quality_settings
    from watershed.settings import load_settings

    settings = load_settings()
    stream_batch.require_closed(day.date())
    live = stream_batch.live_rows(settings, counters_key, day.date()) or []
    batch = stream_batch.batch_rows(settings, load_quality_settings().marts_schema, day.date())
    outcome = stream_batch.compare(day.date(), live, batch)
    click.echo(json.dumps(outcome.to_dict(), indent=2) if as_json else "\n".join(outcome.report()))
    if not outcome.agree:
        raise CheckpointFailed(f"stream and batch differ for {outcome.date}: {len(outcome.differences)} figures")
