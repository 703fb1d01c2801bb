"""Every DAG imports cleanly and quickly, follows the house rules and has the expected shape.

Connections and variables come from AIRFLOW_CONN_* / AIRFLOW_VAR_* environment variables, as in
production secrets backends; nothing touches a metadata database.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))


# dag_id -> {task_id: downstream task ids}
EXPECTED_GRAPHS: dict[str, dict[str, set[str]]] = {
    "ecommerce_daily": {
        "land_events": {"bronze_checkpoint"},
        "bronze_checkpoint": {"sessionize", "publish_run_metrics", "notify"},
        "sessionize": {"gold"},
        "gold": {"silver_checkpoint"},
        "silver_checkpoint": {"warehouse_load", "publish_run_metrics", "notify"},
        "warehouse_load": {"dbt_staging"},
        "dbt_staging": {"dbt_intermediate"},
        "dbt_intermediate": {"dbt_marts"},
        "dbt_marts": {"marts_checkpoint"},
        "marts_checkpoint": {"ledger_check", "stream_vs_batch", "publish_run_metrics", "notify"},
        "stream_vs_batch": set(),
        "ledger_check": {"publish_run_metrics", "notify"},
        "publish_run_metrics": {"notify"},
        "notify": set(),
    },
    "ecommerce_streaming": {"supervise": {"alert"}, "alert": set()},
    "ad_campaign_daily": {
        "extract_google_ads": {"ads_checkpoint", "warehouse_load", "notify"},
        "extract_meta_ads": {"ads_checkpoint", "warehouse_load", "notify"},
        "ads_checkpoint": {"warehouse_load", "notify"},
        "warehouse_load": {"dbt_ads"},
        "dbt_ads": {"ad_marts_checkpoint"},
        "ad_marts_checkpoint": {"notify"},
        "notify": set(),
    },
}


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), safe_mode=False)


def test_the_dags_folder_holds_the_expected_dags(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) >= set(EXPECTED_GRAPHS)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_in_under_a_second(dag_file: Path) -> None:
    # a fresh interpreter with Airflow's SDK already loaded: what is measured is the file's own cost
    code = (
        "import time, importlib.util, airflow.sdk, airflow.providers.standard.operators.bash\n"
        f"spec = importlib.util.spec_from_file_location('dag_under_test', {str(dag_file)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "start = time.perf_counter(); spec.loader.exec_module(module)\n"
        "seconds = time.perf_counter() - start\n"
        "import sys, json; heavy = [m for m in ('pyspark', 'pandas', 'great_expectations', 'duckdb', 'dbt') "
        "if m in sys.modules]\n"
        "print('RESULT ' + json.dumps({'seconds': seconds, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    result = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["seconds"] < 1.0, f"{dag_file.name} took {result['seconds']:.2f}s to import"
    assert result["heavy"] == [], f"{dag_file.name} imports heavy libraries at parse time: {result['heavy']}"


def test_every_dag_follows_the_house_rules(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.catchup is False, f"{dag_id} has catchup on"
        assert dag.start_date is not None and dag.start_date.tzinfo is not None, f"{dag_id}: naive start_date"
        assert dag.doc_md and len(dag.doc_md) > 100, f"{dag_id} has no documentation"
        for task in dag.tasks:
            assert task.owner not in ("", "airflow"), f"{dag_id}.{task.task_id} has no owner"
            assert task.retries >= 2, f"{dag_id}.{task.task_id} retries {task.retries}"
            assert task.execution_timeout is not None and task.execution_timeout <= timedelta(hours=1)
            assert task.on_failure_callback, f"{dag_id}.{task.task_id} sends no failure alert"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_GRAPHS))
def test_task_graph(dagbag, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags[dag_id]
    assert {t.task_id: set(t.downstream_task_ids) for t in dag.tasks} == EXPECTED_GRAPHS[dag_id]


def test_daily_run_has_a_deadline_that_alerts(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["ecommerce_daily"]
    assert dag.dagrun_timeout == timedelta(hours=2)
    assert dag.on_failure_callback is not None
    assert dag.max_active_runs == 1


def test_daily_spark_steps_use_the_spark_connection(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["ecommerce_daily"]
    spark_tasks = {t.task_id: t for t in dag.tasks if t.task_type == "SparkSubmitOperator"}
    assert set(spark_tasks) == {"land_events", "sessionize", "gold"}
    assert {t._conn_id for t in spark_tasks.values()} == {"spark_default"}
    assert spark_tasks["sessionize"].application_args == ["sessionize", "--date", "{{ ds }}"]
    assert [o.uri for o in spark_tasks["sessionize"].outlets] == ["watershed://lake/silver/sessions"]


def test_a_scheduled_daily_run_processes_the_day_that_just_ended(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.timetables.base import TimeRestriction

    dag = dagbag.dags["ecommerce_daily"]
    start = dag.start_date
    first = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(earliest=start, latest=None, catchup=True)
    )
    assert first is not None
    # the run for 2026-11-01 ({{ ds }}) covers that whole day and starts when it is over
    assert (first.data_interval.start, first.data_interval.end) == (start, start + timedelta(days=1))
    assert first.logical_date == start
    assert first.run_after == start + timedelta(days=1)


def test_land_events_is_bound_to_its_data_interval_and_run_type(dagbag) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime
    from types import SimpleNamespace

    import pendulum

    from spark_jobs.cli import land

    task = dagbag.dags["ecommerce_daily"].get_task("land_events")
    context = {
        "data_interval_end": pendulum.datetime(2026, 12, 5, tz="UTC"),
        "dag_run": SimpleNamespace(run_type="backfill"),
    }
    args = task.render_template(task.application_args, context)
    assert args == ["land", "--until", "2026-12-05T00:00:00+00:00", "--run-type", "backfill"]
    params = land.make_context("land", args[1:]).params  # what the job will be given, parsed, not run
    assert (params["until"], params["run_type"]) == (datetime(2026, 12, 5, tzinfo=UTC), "backfill")


def test_the_ad_dag_runs_at_two_for_the_day_before_in_the_api_pool(dagbag) -> None:  # type: ignore[no-untyped-def]
    from airflow.timetables.base import TimeRestriction

    dag = dagbag.dags["ad_campaign_daily"]
    first = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=dag.start_date, latest=None, catchup=True),
    )
    assert first is not None
    # the run at 02:00 on 2026-11-02 has ds 2026-11-01: the UTC day that ended two hours before
    assert first.run_after.isoformat() == "2026-11-02T02:00:00+00:00"
    assert first.logical_date.date().isoformat() == "2026-11-01"
    extract = {t.task_id: t for t in dag.tasks if t.task_id.startswith("extract_")}
    assert {t.pool for t in extract.values()} == {"ad_platform_api"}
    assert {o.uri for t in extract.values() for o in t.outlets} == {"watershed://lake/silver/ad_platform"}
    assert dag.dagrun_timeout == timedelta(hours=2) and dag.on_failure_callback is not None
    assert dag.get_task("dbt_ads").bash_command == "watershed warehouse build --select ads"
