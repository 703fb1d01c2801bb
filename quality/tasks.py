"""Quality gates as Airflow tasks: call :func:`checkpoint_task` from a ``@task``.

It returns a small dict for XCom (verdict, score, failed expectations, result path) and, when the
checkpoint fails, raises ``AirflowFailException``: the task fails without retries (the same data
fails the same way) and, with the default ``all_success`` trigger rule, nothing downstream runs.
The alert naming the failed expectations has been posted by then. Airflow is imported only when a
gate fails, so this module is cheap to import.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

log = logging.getLogger(__name__)


def checkpoint_task(checkpoint: str, ds: str | date) -> dict[str, Any]:
    from quality.runner import run_checkpoint

    day = ds if isinstance(ds, date) else date.fromisoformat(str(ds))
    outcome = run_checkpoint(checkpoint, day)
    if not outcome.success:
        from airflow.sdk.exceptions import AirflowFailException

        from quality.runner import QualityGateFailed

        raise AirflowFailException(str(QualityGateFailed(outcome)))
    return outcome.summary()


def stream_batch_task(ds: str | date) -> dict[str, Any]:
    """ecommerce_daily's last check: the real-time job's live ad counters of the day against
    ``marts.ad_events_daily`` (quality/stream_batch.py). Skipped, with the reason, when the
    counter store cannot be reached or holds nothing for the day (the real-time job was not
    running); fails when they differ, naming the first differences (the task's failure alert
    carries them; the task log has every one)."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from quality import stream_batch
    from quality.settings import load_quality_settings
    from spark_jobs.streaming.counters import DEFAULT_KEY, CounterStoreError
    from watershed.settings import load_settings

    day = ds if isinstance(ds, date) else date.fromisoformat(str(ds))
    settings = load_settings()
    try:
        live = stream_batch.live_rows(settings, DEFAULT_KEY, day, required=False)
    except CounterStoreError as error:
        raise AirflowSkipException(f"nothing to reconcile: {error}") from None
    if live is None:
        raise AirflowSkipException(
            f"nothing to reconcile: no live ad counters for {day} (the real-time job did not run that day)"
        )
    outcome = stream_batch.compare(
        day, live, stream_batch.batch_rows(settings, load_quality_settings().marts_schema, day)
    )
    if not outcome.agree:
        report = outcome.report()
        log.warning("%s", "\n".join(report))
        raise AirflowFailException("; ".join(report[:6]))
    return {"date": outcome.date, "campaigns": outcome.campaigns, "agree": True}
