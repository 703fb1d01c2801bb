"""
### ecommerce_daily

The daily batch pipeline for one data interval (one UTC day, `dt={{ ds }}`):

land events (Kafka -> bronze, exactly once) -> bronze checkpoint -> sessionize (silver) -> gold
-> silver checkpoint -> warehouse load -> dbt build (staging, intermediate, marts) -> marts
checkpoint -> ledger check -> publish run metrics -> notify; and after the marts checkpoint,
stream vs batch (the real-time job's live ad counters of the day against `ad_events_daily`;
skipped when the job did not count that day).

Every task owns the partition of its data interval and overwrites it, so a rerun of a date gives
identical tables. Spark steps run through `SparkSubmitOperator` on the `spark_default` connection
(`local[*]` locally, your cluster in production). A failing quality checkpoint stops everything
downstream; failures and a missed deadline post to `WATERSHED_ALERT_WEBHOOK_URL`.

This file only declares: the work lives in `spark_jobs`, `quality`, `warehouse` and
`monitoring.pipeline_run`.
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta

import pendulum
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Asset, chain, dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

# the file spark-submit runs, wherever the platform is installed (finding it imports no Spark)
SPARK_ENTRY = importlib.util.find_spec("spark_jobs.submit").origin  # type: ignore[union-attr]

BRONZE = Asset("watershed://lake/bronze/events")
SILVER = Asset("watershed://lake/silver/sessions")
GOLD = Asset("watershed://lake/gold")
WAREHOUSE_RAW = Asset("watershed://warehouse/raw")
MARTS = Asset("watershed://warehouse/marts")


def _spark_jars() -> str:
    from spark_jobs.session import extra_jars
    from watershed.settings import load_settings

    return ",".join(str(j) for j in extra_jars(load_settings()))


def _failed(context):  # type: ignore[no-untyped-def]
    from watershed.alerts import task_failed

    task_failed(context)


def _run_failed(context):  # type: ignore[no-untyped-def]
    from watershed.alerts import run_failed

    run_failed(context)


def spark_step(task_id: str, *args: str, outlets: list[Asset]) -> SparkSubmitOperator:
    return SparkSubmitOperator(
        task_id=task_id,
        conn_id="spark_default",
        application=SPARK_ENTRY,
        application_args=list(args),
        jars="{{ watershed_spark_jars() }}",
        conf={"spark.sql.session.timeZone": "UTC"},
        driver_memory="2g",
        name=f"watershed-{task_id}",
        outlets=outlets,
        execution_timeout=timedelta(minutes=30),
    )


@dag(
    # A day's run starts after the day ends and {{ ds }} is that day. (A plain "@daily" is Airflow
    # 3's CronTriggerTimetable: it runs at midnight with ds = the day just starting, still empty.)
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["watershed", "ecommerce", "batch"],
    doc_md=__doc__,
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(minutes=20),
        "on_failure_callback": _failed,
    },
    user_defined_macros={"watershed_spark_jars": _spark_jars},
    # The deadline: a run still going after 2 hours is failed and alerted. (Airflow 3.3.2's
    # DeadlineAlert breaks `airflow dags test` when the run finishes: docs/airflow.md.)
    dagrun_timeout=timedelta(hours=2),
    on_failure_callback=_run_failed,
)
def ecommerce_daily() -> None:
    # bound to the data interval: a backfill whose interval bronze already holds lands nothing
    land = spark_step(
        "land_events",
        "land",
        "--until",
        "{{ data_interval_end.isoformat() }}",
        "--run-type",
        "{{ dag_run.run_type }}",
        outlets=[BRONZE],
    )
    sessionize = spark_step("sessionize", "sessionize", "--date", "{{ ds }}", outlets=[SILVER])
    gold = spark_step("gold", "gold", "--date", "{{ ds }}", outlets=[GOLD])

    @task
    def bronze_checkpoint(ds: str | None = None) -> dict:
        from quality.tasks import checkpoint_task

        return checkpoint_task("bronze", ds)

    @task
    def silver_checkpoint(ds: str | None = None) -> dict:
        from quality.tasks import checkpoint_task

        return checkpoint_task("silver", ds)

    @task(outlets=[WAREHOUSE_RAW])
    def warehouse_load(ds: str | None = None) -> dict:
        from datetime import date

        from warehouse.loader import load_date
        from watershed.settings import load_settings

        return load_date(load_settings(), date.fromisoformat(ds))

    dbt_layers = [
        BashOperator(
            task_id=f"dbt_{layer}",
            bash_command=f"watershed warehouse build --date {{{{ ds }}}} --select {layer}",
            outlets=[MARTS] if layer == "marts" else [],
        )
        for layer in ("staging", "intermediate", "marts")
    ]

    @task
    def marts_checkpoint(ds: str | None = None) -> dict:
        from quality.tasks import checkpoint_task

        return checkpoint_task("marts", ds)

    @task
    def ledger_check(ds: str | None = None) -> dict:
        from quality.tasks import checkpoint_task

        return checkpoint_task("ledger", ds)

    @task
    def stream_vs_batch(ds: str | None = None) -> dict:
        """The live ad counters of the day against marts.ad_events_daily (skipped without them)."""
        from quality.tasks import stream_batch_task

        return stream_batch_task(ds)

    @task
    def publish_run_metrics(outcomes: list[dict], ds: str | None = None) -> str:
        from monitoring.pipeline_run import publish_metrics

        return publish_metrics(ds, outcomes)

    @task
    def notify(outcomes: list[dict], metrics_path: str, ds: str | None = None) -> None:
        from monitoring.pipeline_run import notify as send_summary

        send_summary(ds, outcomes, metrics_path)

    bronze, silver = bronze_checkpoint(), silver_checkpoint()
    loaded, marts, ledger = warehouse_load(), marts_checkpoint(), ledger_check()
    chain(land, bronze, sessionize, gold, silver, loaded, *dbt_layers, marts, ledger)
    marts >> stream_vs_batch()  # a leaf: its skip or failure does not hold back the summary
    outcomes = [bronze, silver, marts, ledger]
    notify(outcomes, publish_run_metrics(outcomes))


ecommerce_daily()
