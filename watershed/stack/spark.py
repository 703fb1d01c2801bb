"""A Spark standalone cluster in the local stack: a master and two workers on loopback.

Each is a plain JVM started with pyspark's own ``bin/spark-class`` (the pip package ships the
standalone master and worker classes, not the ``sbin/start-*.sh`` scripts). `watershed stack up
spark-worker-1 spark-worker-2` starts the master first; the jobs use it with
``WATERSHED_SPARK_MASTER=spark://127.0.0.1:7077``, and the stack's Airflow passes the same master
to its ``spark_default`` connection. Executors start the Python of ``WATERSHED_SPARK_PYTHON``
(default: this interpreter, right when driver and workers share the machine or the image).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from watershed.errors import StackError
from watershed.stack.java import require_java
from watershed.stack.process import port_open
from watershed.stack.service import Service


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def master_state(ui_port: int) -> dict[str, Any] | None:
    """The master's own view (its UI's JSON): status, workers, applications; None if unreachable."""
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{ui_port}/json/", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return None


class _SparkJvm(Service):
    """A JVM of the cluster, started with pyspark's bin/spark-class."""

    startup_timeout = 60.0

    def check_installed(self) -> None:
        self.java = require_java()
        if not (spark_home() / "bin" / "spark-class").is_file():
            raise StackError(f"pyspark's bin/spark-class is missing from {spark_home()}: run `make setup`")

    def environment(self) -> dict[str, str]:
        return {**os.environ, "SPARK_HOME": str(spark_home()), "SPARK_LOG_DIR": str(self.home),
                "SPARK_NO_DAEMONIZE": "1", "JAVA_HOME": str(Path(self.java).resolve().parents[1])}  # fmt: skip


class SparkMaster(_SparkJvm):
    name = "spark-master"

    @property
    def ports(self) -> dict[str, int]:
        return {"master": self.settings.spark_master_port, "ui": self.settings.spark_master_ui_port}

    @property
    def address(self) -> str:
        return f"spark://127.0.0.1:{self.settings.spark_master_port}"

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        s = self.settings
        return [str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master",
                "--host", "127.0.0.1", "--port", str(s.spark_master_port),
                "--webui-port", str(s.spark_master_ui_port)]  # fmt: skip

    def healthy(self) -> bool:
        if not port_open(self.settings.spark_master_port):
            return False
        state = master_state(self.settings.spark_master_ui_port)
        return bool(state and state.get("status") == "ALIVE")

    def detail(self) -> str:
        state = master_state(self.settings.spark_master_ui_port) or {}
        alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
        return f"{len(alive)} workers, {sum(w.get('cores', 0) for w in alive)} cores; UI http://127.0.0.1:{self.settings.spark_master_ui_port}"


class SparkWorker(_SparkJvm):
    """One worker of the cluster (the stack runs two: ``spark-worker-1`` and ``spark-worker-2``)."""

    index = 0
    requires = ("spark-master",)

    @property
    def ui_port(self) -> int:
        return self.settings.spark_master_ui_port + self.index

    @property
    def ports(self) -> dict[str, int]:
        return {"ui": self.ui_port}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def prepare(self) -> None:
        (self.home / "work").mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        s = self.settings
        return [str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker",
                "--host", "127.0.0.1", "--cores", str(s.spark_worker_cores), "--memory", s.spark_worker_memory,
                "--webui-port", str(self.ui_port), "--work-dir", str(self.home / "work"),
                f"spark://127.0.0.1:{s.spark_master_port}"]  # fmt: skip

    def healthy(self) -> bool:
        """Registered with the master and alive (the master lists it by its UI address)."""
        state = master_state(self.settings.spark_master_ui_port) or {}
        return any(
            w.get("state") == "ALIVE" and w.get("webuiaddress", "").endswith(f":{self.ui_port}")
            for w in state.get("workers", [])
        )

    def detail(self) -> str:
        return f"{self.settings.spark_worker_cores} cores, {self.settings.spark_worker_memory}"


class SparkWorker1(SparkWorker):
    name = "spark-worker-1"
    index = 1


class SparkWorker2(SparkWorker):
    name = "spark-worker-2"
    index = 2
