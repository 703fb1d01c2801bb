"""The local Spark standalone cluster: a master and two workers from pyspark's own classes, on
loopback. A job submitted to it runs its Python on both workers' executors and computes what
local mode computes; the master records the application; `down` leaves nothing listening."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from watershed.settings import Settings
from watershed.stack import Stack
from watershed.stack.process import free_port, port_open
from watershed.stack.spark import master_state

pytestmark = pytest.mark.stack

JOB = textwrap.dedent(
    """
    import json, os, sys
    from spark_jobs.session import spark_session
    from watershed.settings import load_settings

    spark = spark_session(load_settings(), app_name="watershed-cluster-test")
    rdd = spark.sparkContext.parallelize(range(10_000), 8)
    # Python on the executors: each partition reports its process and the squares it summed
    parts = rdd.mapPartitions(lambda xs: [(os.getpid(), sum(x * x for x in xs))]).collect()
    print(json.dumps({"master": spark.sparkContext.master, "pids": sorted({p for p, _ in parts}),
                      "driver": os.getpid(), "sum": sum(s for _, s in parts)}))
    spark.stop()
    """
)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(
        env="local", state_dir=tmp_path / "state", spark_master_port=free_port(17077),
        spark_master_ui_port=free_port(18090), spark_worker_cores=1, spark_worker_memory="1g",
    )  # fmt: skip
    stack = Stack(settings, ["spark-worker-1", "spark-worker-2"])
    stack.up(echo=print)
    try:
        yield settings
    finally:
        stack.down(echo=print)


def test_a_job_runs_on_both_workers_and_computes_what_local_mode_does(cluster: Settings) -> None:
    master = f"spark://127.0.0.1:{cluster.spark_master_port}"
    state = master_state(cluster.spark_master_ui_port)
    assert state is not None and state["status"] == "ALIVE"
    assert sorted((w["state"], w["cores"]) for w in state["workers"]) == [("ALIVE", 1), ("ALIVE", 1)]

    env = {**os.environ, "WATERSHED_SPARK_MASTER": master, "WATERSHED_STATE_DIR": str(cluster.state_dir),
           "WATERSHED_SPARK_DRIVER_MEMORY": "1g"}  # fmt: skip
    ran = subprocess.run([sys.executable, "-c", JOB], env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    import json

    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["master"] == master
    assert result["sum"] == sum(x * x for x in range(10_000))  # what local mode computes
    assert len(result["pids"]) >= 2 and result["driver"] not in result["pids"]  # the workers' Python

    finished = master_state(cluster.spark_master_ui_port) or {}
    apps = [a for a in finished.get("completedapps", []) if a["name"] == "watershed-cluster-test"]
    assert [(a["state"], a["cores"]) for a in apps] == [("FINISHED", 2)]


def test_down_leaves_no_port_listening(tmp_path: Path) -> None:
    settings = Settings(
        env="local", state_dir=tmp_path / "state", spark_master_port=free_port(17177),
        spark_master_ui_port=free_port(18190), spark_worker_cores=1, spark_worker_memory="512m",
    )  # fmt: skip
    stack = Stack(settings, ["spark-worker-1"])
    stack.up(echo=lambda _: None)
    ports = [settings.spark_master_port, settings.spark_master_ui_port, settings.spark_master_ui_port + 1]
    assert all(port_open(p) for p in ports)
    stack.down(echo=lambda _: None)
    assert [p for p in ports if port_open(p)] == []
