"""The batch jobs' per-run figures: read from their reports, pushed to a real Pushgateway, one
group per job and day (a rerun replaces its day; other days stay)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from spark_jobs.metrics import JobRun, job_run, push
from watershed.settings import Settings
from watershed.stack import Stack
from watershed.stack.process import free_port

FINISHED = datetime(2026, 11, 21, 2, 10, tzinfo=UTC)
# the reports run_sessionize and run_gold return for tests/spark_jobs/test_jobs.py's day
SESSIONIZE = {
    "date": "2026-11-20",
    "session_gap_seconds": 1800.0,
    "silver_events": 6,
    "silver_sessions": 2,
    "quarantined": 2,
    "quarantine_reasons": {"missing_required_field:page_url": 1, "unparseable_json": 1},
    "valid_bronze_rows": 7,
    "duplicates_removed": 1,
}
GOLD = {"date": "2026-11-20", "product_interactions": 1}


def test_each_job_reports_what_it_read_wrote_and_set_aside() -> None:
    assert job_run("sessionize", SESSIONIZE, 41.5, FINISHED) == JobRun(
        "sessionize", "2026-11-20", 41.5, rows_in=9, quarantined=2, duplicates_removed=1,
        rows_out={"silver/events": 6, "silver/sessions": 2}, finished=FINISHED,
    )  # fmt: skip
    assert job_run("gold", GOLD, 12.0, FINISHED) == JobRun(
        "gold", "2026-11-20", 12.0, rows_out={"gold/product_interactions": 1}, finished=FINISHED
    )
    landed = {"rows": 120, "unparseable": 3, "late": 4, "until": "2026-11-21T00:00:00+00:00"}
    assert job_run("land", landed, 30.0, FINISHED) == JobRun(
        "land", "2026-11-21", 30.0, rows_in=123, rows_out={"bronze/events": 120}, quarantined=3, finished=FINISHED
    )
    # a run without --until is dated by the day it finished
    assert job_run("land", {"rows": 0, "unparseable": 0}, 5.0, FINISHED).date == "2026-11-21"
    with pytest.raises(ValueError, match=r"^no metrics for job 'silver' \(known: land, sessionize, gold\)$"):
        job_run("silver", GOLD, 1.0)


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    settings = Settings(env="local", state_dir=tmp_path, pushgateway_port=free_port())
    stack = Stack(settings, ["pushgateway"])
    stack.up(echo=lambda _: None)
    try:
        yield f"http://127.0.0.1:{settings.pushgateway_port}"
    finally:
        stack.down(echo=lambda _: None)


def pushed(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name.startswith("watershed_job_")
    }


def test_a_rerun_replaces_its_days_figures_and_other_days_stay(pushgateway: str) -> None:
    first = job_run("sessionize", SESSIONIZE, 41.5, FINISHED)
    rerun = job_run("sessionize", SESSIONIZE | {"silver_events": 5, "duplicates_removed": 2}, 38.0, FINISHED)
    next_day = job_run("sessionize", SESSIONIZE | {"date": "2026-11-21", "silver_events": 11}, 44.0, FINISHED)
    assert push(first, pushgateway) and push(rerun, pushgateway) and push(next_day, pushgateway)
    assert push(job_run("gold", GOLD, 12.0, FINISHED), pushgateway)

    got = pushed(pushgateway)

    def key(day: str, **extra: str) -> tuple[tuple[str, str], ...]:
        labels = {"job": "watershed_batch", "batch_job": "sessionize", "date": day, "instance": ""} | extra
        return tuple(sorted(labels.items()))

    assert got[("watershed_job_rows_out", key("2026-11-20", table="silver/events"))] == 5  # the rerun's
    assert got[("watershed_job_duplicates_removed", key("2026-11-20"))] == 2
    assert got[("watershed_job_duration_seconds", key("2026-11-20"))] == 38.0
    assert got[("watershed_job_rows_out", key("2026-11-21", table="silver/events"))] == 11
    assert got[("watershed_job_rows_in", key("2026-11-21"))] == 9
    assert got[("watershed_job_last_success_seconds", key("2026-11-21"))] == FINISHED.timestamp()
    gold = key("2026-11-20", batch_job="gold", table="gold/product_interactions")
    assert got[("watershed_job_rows_out", gold)] == 1
    # one series per job, day and table: nothing of the first run is left
    assert sorted(labels for name, labels in got if name == "watershed_job_rows_out") == sorted(
        [key("2026-11-20", table="silver/events"), key("2026-11-20", table="silver/sessions"),
         key("2026-11-21", table="silver/events"), key("2026-11-21", table="silver/sessions"), gold]
    )  # fmt: skip


def test_a_push_that_cannot_reach_the_gateway_is_logged_and_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with caplog.at_level(logging.ERROR, logger="spark_jobs.metrics"):
        assert push(job_run("gold", GOLD, 12.0, FINISHED), url) is False
    assert caplog.messages == [
        f"could not push the gold metrics of 2026-11-20 to {url}: <urlopen error [Errno 111] Connection refused>"
    ]
