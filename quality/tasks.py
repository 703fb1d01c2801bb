"""Quality gates as Airflow tasks: call :func:`checkpoint_task` from a ``@task``.

It returns a small dict for XCom (verdict, score, failed expectations, result path) and, when the
checkpoint fails, raises ``AirflowFailException``: the task fails without retries (the same data
fails the same way) and, with the default ``all_success`` trigger rule, nothing downstream runs.
The alert naming the failed expectations has been posted by then. Airflow is imported only when a
gate fails, so this module is cheap to import.
"""

from __future__ import annotations

from datetime import date
from typing import Any


def checkpoint_task(checkpoint: str, ds: str | date) -> dict[str, Any]:
    from quality.runner import run_checkpoint

    day = ds if isinstance(ds, date) else date.fromisoformat(str(ds))
    outcome = run_checkpoint(checkpoint, day)
    if not outcome.success:
        from airflow.sdk.exceptions import AirflowFailException

        from quality.runner import QualityGateFailed

        raise AirflowFailException(str(QualityGateFailed(outcome)))
    return outcome.summary()
