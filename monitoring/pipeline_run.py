"""The daily pipeline's own steps: publish the run's metrics, tell people how the run went.

Everything else the `ecommerce_daily` DAG runs lives with its component (spark_jobs, quality,
warehouse); these two close the run. Pure builders plus thin IO, light to import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from watershed.settings import Settings, load_settings


def run_metrics_text(ds: str, outcomes: list[dict[str, Any]]) -> str:
    """Prometheus text exposition of one run: per checkpoint its score and verdict."""
    lines = [
        "# HELP watershed_pipeline_checkpoint_score Share of expectations met by the run's checkpoint.",
        "# TYPE watershed_pipeline_checkpoint_score gauge",
    ]
    for o in outcomes:
        lines.append(f'watershed_pipeline_checkpoint_score{{checkpoint="{o["checkpoint"]}",date="{ds}"}} {o["score"]}')
    lines += [
        "# HELP watershed_pipeline_run_success 1 when every checkpoint of the run passed.",
        "# TYPE watershed_pipeline_run_success gauge",
        f'watershed_pipeline_run_success{{date="{ds}"}} {int(all(o["success"] for o in outcomes))}',
    ]
    return "\n".join(lines) + "\n"


def metrics_file(settings: Settings) -> Path:
    return settings.state_dir / "metrics" / "watershed_pipeline.prom"


def publish_metrics(ds: str, outcomes: list[dict[str, Any]], settings: Settings | None = None) -> str:
    """Write the run's metrics for the textfile collector (atomically); return the file's path."""
    settings = settings or load_settings()
    target = metrics_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".prom.tmp")
    temporary.write_text(run_metrics_text(ds, outcomes))
    os.replace(temporary, target)
    return str(target)


def summary_lines(ds: str, outcomes: list[dict[str, Any]], metrics_path: str) -> list[str]:
    lines = [f"{o['checkpoint']}: {'passed' if o['success'] else 'FAILED'} (score {o['score']:.3f})" for o in outcomes]
    return [f"date {ds}", *lines, f"metrics: {metrics_path}"]


def notify(ds: str, outcomes: list[dict[str, Any]], metrics_path: str) -> None:
    """Post the run's summary to the alert webhook (info level: the run succeeded to get here)."""
    from watershed.alerts import send

    send(f"Watershed: ecommerce_daily {ds} done", summary_lines(ds, outcomes, metrics_path), severity="info")
