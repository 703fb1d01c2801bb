"""Running a checkpoint for one day: read, validate, record, export, alert.

:func:`run_checkpoint` is what the CLI and Airflow call; :func:`execute` runs already prepared
validations (the tests give it frames they built). A run

1. validates each frame with its suite through a GX checkpoint (:mod:`quality.engine`), which
   also stores the GX result and updates the Data Docs;
2. writes the outcome to ``<quality dir>/results/<checkpoint>/dt=<day>.json`` (replaced by a
   rerun of the same day): every expectation with its counts and sample values, the score, notes;
3. writes the Prometheus textfile (and pushes to the Pushgateway when configured);
4. on failure, posts the alert to the webhook.

The score is the share of expectations met; a partition that is missing counts as one failed
expectation (``has_rows``) of its suite.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from quality.checkpoints import LOADERS, Prepared
from quality.results import CheckpointOutcome, ExpectationOutcome
from quality.settings import QualitySettings, load_quality_settings
from watershed.errors import WatershedError
from watershed.settings import Settings, load_settings

log = logging.getLogger(__name__)


class QualityGateFailed(WatershedError):
    """A checkpoint found data that must not go downstream; the message names the failures."""

    def __init__(self, outcome: CheckpointOutcome) -> None:
        self.outcome = outcome
        names = ", ".join(f.qualified_name for f in outcome.failures[:10])
        more = f" and {len(outcome.failures) - 10} more" if len(outcome.failures) > 10 else ""
        super().__init__(
            f"quality checkpoint {outcome.checkpoint} failed for {outcome.date}: {names}{more} "
            f"(score {outcome.score:.3f}; details in {outcome.result_path})"
        )


def outcome_of(
    checkpoint: str, day: str, expectations: list[ExpectationOutcome], prepared: Prepared
) -> CheckpointOutcome:
    evaluated = len(expectations)
    met = sum(1 for e in expectations if e.success)
    return CheckpointOutcome(
        checkpoint=checkpoint,
        date=day,
        success=evaluated > 0 and met == evaluated,
        evaluated=evaluated,
        met=met,
        score=round(met / evaluated, 6) if evaluated else 0.0,
        expectations=expectations,
        notes=list(prepared.notes),
        details=dict(prepared.details),
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    temporary.replace(path)


def execute(
    checkpoint: str,
    day: date | None,
    prepared: Prepared,
    *,
    settings: Settings | None = None,
    quality_settings: QualitySettings | None = None,
    alert: bool = True,
    data_docs: bool = True,
) -> CheckpointOutcome:
    """Validate `prepared` as checkpoint `checkpoint` of `day`; record, export, alert."""
    from quality import alerts, engine, metrics

    settings = settings or load_settings()
    qs = quality_settings or load_quality_settings()
    label = engine.day_label(day)
    directory = qs.quality_dir(settings)
    expectations = list(prepared.missing)
    docs = None
    if prepared.validations:
        ctx = engine.context(directory)
        expectations += engine.run(
            ctx, prepared.validations, run_name=f"{checkpoint}-{label}", samples=qs.samples, data_docs=data_docs
        )
        docs = engine.data_docs_index(ctx) if data_docs else None
    outcome = outcome_of(checkpoint, label, expectations, prepared)
    outcome.details["rows"] = {v.suite: len(v.frame) for v in prepared.validations}
    outcome.data_docs = docs
    result = directory / "results" / checkpoint / f"dt={label}.json"
    outcome.result_path = str(result)
    outcome.metrics_path = str(metrics.write_textfile(outcome, qs.metrics_dir(settings)))
    if qs.pushgateway_url:
        metrics.push(outcome, qs.pushgateway_url)
    if not outcome.success and alert:
        outcome.alert_sent = alerts.send(qs.webhook_url, outcome, qs.webhook_timeout_seconds)
    outcome.details["finished_at"] = datetime.now(UTC).isoformat()
    _write_json(result, outcome.to_dict())
    log.info("quality checkpoint %s for %s: %s", checkpoint, label, "passed" if outcome.success else "FAILED")
    return outcome


def run_checkpoint(
    checkpoint: str,
    day: date,
    *,
    settings: Settings | None = None,
    quality_settings: QualitySettings | None = None,
    alert: bool = True,
    data_docs: bool = True,
) -> CheckpointOutcome:
    """Read `day`'s data for `checkpoint` (one of :data:`quality.checkpoints.LOADERS`) and run it."""
    if checkpoint not in LOADERS:
        raise WatershedError(f"unknown checkpoint {checkpoint!r}; expected one of {', '.join(LOADERS)}")
    settings = settings or load_settings()
    qs = quality_settings or load_quality_settings()
    prepared = LOADERS[checkpoint](settings, qs, day)
    return execute(checkpoint, day, prepared, settings=settings, quality_settings=qs, alert=alert, data_docs=data_docs)


def gate(checkpoint: str, day: date, **options: Any) -> CheckpointOutcome:
    """:func:`run_checkpoint`, raising :class:`QualityGateFailed` when the checkpoint fails."""
    outcome = run_checkpoint(checkpoint, day, **options)
    if not outcome.success:
        raise QualityGateFailed(outcome)
    return outcome
