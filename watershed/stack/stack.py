"""The services of the local stack and the `Stack` that starts, checks and stops them.

A service knows its command line, its ports, how to prepare its data directory, how to tell it is
healthy and what to provision once it is (topics, a bucket). `Stack` does the rest the same way
for every service: refuse a port held by someone else, start, wait for health, provision, record
the pid; and on `down`, stop exactly the processes it recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from watershed.errors import StackError
from watershed.settings import Settings
from watershed.stack.ad_apis import AdApis
from watershed.stack.airflow import Airflow
from watershed.stack.kafka import Kafka
from watershed.stack.monitoring import Alertmanager, Exporter, Prometheus, Pushgateway, StatsdExporter
from watershed.stack.object_store import ObjectStore
from watershed.stack.postgres import Postgres
from watershed.stack.process import port_free, spawn, terminate
from watershed.stack.redis import Redis
from watershed.stack.service import Echo, Service, Status
from watershed.stack.spark import SparkMaster, SparkWorker1, SparkWorker2

SERVICES: dict[str, type[Service]] = {
    "kafka": Kafka,
    "s3": ObjectStore,
    "redis": Redis,
    "postgres": Postgres,
    "pushgateway": Pushgateway,
    "alertmanager": Alertmanager,
    "exporter": Exporter,
    "statsd": StatsdExporter,
    "prometheus": Prometheus,
    "spark-master": SparkMaster,
    "spark-worker-1": SparkWorker1,
    "spark-worker-2": SparkWorker2,
    "ad-apis": AdApis,
    "airflow": Airflow,
}
# What `stack up` starts when no service is named; the others are started by name or --all.
# Redis is one of them: the real-time job writes its ad counters there wherever it runs.
DEFAULT_SERVICES = ("kafka", "s3", "redis")
# The Spark standalone cluster: three JVMs more, started only with --spark-cluster (or by name)
SPARK_CLUSTER = ("spark-master", "spark-worker-1", "spark-worker-2")


_PORT_VARIABLES = {
    ("kafka", "broker"): "KAFKA_PORT",
    ("kafka", "controller"): "KAFKA_CONTROLLER_PORT",
    ("kafka", "metrics"): "KAFKA_METRICS_PORT",
    ("s3", "s3"): "S3_PORT",
    ("redis", "redis"): "REDIS_PORT",
    ("postgres", "postgres"): "POSTGRES_PORT",
    ("pushgateway", "pushgateway"): "PUSHGATEWAY_PORT",
    ("alertmanager", "alertmanager"): "ALERTMANAGER_PORT",
    ("prometheus", "prometheus"): "PROMETHEUS_PORT",
    ("exporter", "exporter"): "EXPORTER_PORT",
    ("statsd", "web"): "STATSD_EXPORTER_PORT",
    ("spark-master", "master"): "SPARK_MASTER_PORT",
    ("spark-master", "ui"): "SPARK_MASTER_UI_PORT",
    ("spark-worker-1", "ui"): "SPARK_MASTER_UI_PORT",
    ("spark-worker-2", "ui"): "SPARK_MASTER_UI_PORT",
    ("ad-apis", "meta"): "AD_APIS_META_PORT",
    ("ad-apis", "google"): "AD_APIS_GOOGLE_PORT",
    ("airflow", "api"): "AIRFLOW_PORT",
    ("airflow", "log-server"): "AIRFLOW_LOG_SERVER_PORT",
}


class Stack:
    """The set of local services; every method is safe to call repeatedly."""

    def __init__(
        self,
        settings: Settings,
        names: Iterable[str] | None = None,
        *,
        every: bool = False,
        spark_cluster: bool = False,
    ) -> None:
        if settings.env != "local":
            raise StackError("the local stack only runs with WATERSHED_ENV=local (prod uses your own services)")
        if names:
            chosen = list(names)
        elif every:  # `up --all`: everything but the Spark cluster, unless asked for
            chosen = [n for n in SERVICES if n not in SPARK_CLUSTER]
        else:
            chosen = list(DEFAULT_SERVICES)
        if spark_cluster:
            chosen += [n for n in SPARK_CLUSTER if n not in chosen]
        unknown = [n for n in chosen if n not in SERVICES]
        if unknown:
            raise StackError(f"unknown service {unknown[0]!r}: choose from {', '.join(SERVICES)}")
        needed = set(chosen)
        while missing := {r for n in needed for r in SERVICES[n].requires} - needed:
            needed |= missing
        self.settings = settings
        self.services = [cls(settings) for name, cls in SERVICES.items() if name in needed]

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def up(self, echo: Echo = print) -> None:
        for service in self.services:  # a missing piece stops `up` before anything starts
            if service.pidfile.running_pid() is None:
                service.check_installed()
        for service in self.services:
            pid = service.pidfile.running_pid()
            if pid is not None and service.healthy():
                service.provision()
                echo(f"{service.name}: already running (pid {pid}) at {service.address}")
                continue
            if pid is not None:  # ours, but not answering: restart it
                terminate(pid, sig=service.stop_signal)
                service.pidfile.remove()
            self._start(service, echo)

    def _start(self, service: Service, echo: Echo) -> None:
        service.check_installed()
        for role, port in service.ports.items():
            if not port_free(port):
                var = _PORT_VARIABLES[(service.name, role)]
                raise StackError(
                    f"port {port} ({service.name} {role}) is already in use by another process: "
                    f"stop it or set WATERSHED_{var} to a free port"
                )
        service.prepare()
        started = time.monotonic()
        pid = spawn(service.command(), log=service.log, env=service.environment(), cwd=service.home)
        service.pidfile.write(pid)
        deadline = started + service.startup_timeout
        while not service.healthy():
            if service.pidfile.running_pid() is None:
                service.pidfile.remove()
                raise StackError(f"{service.name} exited during startup; last log lines:\n{self.tail(service, 15)}")
            if time.monotonic() > deadline:
                terminate(pid, sig=service.stop_signal)
                service.pidfile.remove()
                raise StackError(
                    f"{service.name} did not become healthy within {service.startup_timeout:.0f}s; see {service.log}"
                )
            time.sleep(0.5)
        service.provision()
        echo(f"{service.name}: started (pid {pid}) at {service.address} in {time.monotonic() - started:.1f}s")

    def down(self, echo: Echo = print) -> None:
        for service in reversed(self.services):
            pid = service.pidfile.running_pid()
            if pid is None:
                service.pidfile.remove()
                echo(f"{service.name}: not running")
                continue
            terminate(pid, sig=service.stop_signal)
            service.pidfile.remove()
            echo(f"{service.name}: stopped (pid {pid})")

    def status(self) -> list[Status]:
        result = []
        for service in self.services:
            pid = service.pidfile.running_pid()
            if pid is None:
                result.append(Status(service.name, "stopped", None, service.address))
            elif service.healthy():
                result.append(Status(service.name, "running", pid, service.address, service.detail()))
            else:
                result.append(Status(service.name, "unhealthy", pid, service.address, f"see {service.log}"))
        return result

    @staticmethod
    def tail(service: Service, lines: int = 50) -> str:
        if not service.log.exists():
            return ""
        return "\n".join(service.log.read_text(errors="replace").splitlines()[-lines:])
