"""The ecommerce_streaming DAG: short supervision runs every 5 minutes, supervise -> alert."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "ecommerce_streaming.py"


def test_streaming_dag_shape():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE), safe_mode=False)
    assert bag.import_errors == {}
    dag = bag.dags["ecommerce_streaming"]
    assert {t.task_id: set(t.downstream_task_ids) for t in dag.tasks} == {"supervise": {"alert"}, "alert": set()}
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert "streaming" in dag.tags
    for t in dag.tasks:  # short runs: no task can sit on a worker slot
        assert t.execution_timeout <= timedelta(minutes=2) and t.retries >= 2 and t.owner == "data-platform"
