"""The alert of a failed checkpoint: one Slack-compatible webhook message (``text`` plus a
``section`` block, the format of :func:`watershed.alerts.slack_payload`) naming every failed
expectation with its counts and sample values. Delivery failures are logged, never raised: a
broken webhook must not hide the gate's own verdict."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from watershed.alerts import post, slack_payload

if TYPE_CHECKING:
    from quality.results import CheckpointOutcome

log = logging.getLogger(__name__)
MAX_LINES = 20  # Slack truncates long sections; the result file has everything


def payload(outcome: CheckpointOutcome) -> dict[str, Any]:
    failures = outcome.failures
    title = (
        f"Watershed quality: checkpoint {outcome.checkpoint} failed for {outcome.date} "
        f"({len(failures)} of {outcome.evaluated} expectations failed, score {outcome.score:.3f})"
    )
    lines = [f.explain() for f in failures[:MAX_LINES]]
    if len(failures) > MAX_LINES:
        lines.append(f"... and {len(failures) - MAX_LINES} more")
    lines += outcome.notes[:5]
    if outcome.result_path:
        lines.append(f"result: {outcome.result_path}")
    if outcome.data_docs:
        lines.append(f"Data Docs: {outcome.data_docs}")
    return slack_payload(title, lines, severity="error")


def send(url: str | None, outcome: CheckpointOutcome, timeout: float = 10.0) -> bool:
    """POST the alert to `url`; True when the webhook answered 2xx."""
    if not url:
        log.warning("quality alert (no webhook configured): %s failed for %s", outcome.checkpoint, outcome.date)
        return False
    return post(url, payload(outcome), timeout=timeout, what="quality alert")
