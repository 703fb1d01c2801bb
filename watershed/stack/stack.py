"""The services of the local stack and the `Stack` that starts, checks and stops them.

A service knows its command line, its ports, how to prepare its data directory, how to tell it is
healthy and what to provision once it is (topics, a bucket). `Stack` does the rest the same way
for every service: refuse a port held by someone else, start, wait for health, provision, record
the pid; and on `down`, stop exactly the processes it recorded.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watershed.errors import StackError
from watershed.paths import conf_dir, dags_dir
from watershed.settings import Settings
from watershed.stack.java import require_java
from watershed.stack.process import PidFile, port_free, port_open, spawn, terminate

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Status:
    name: str
    state: str  # "running", "unhealthy" or "stopped"
    pid: int | None
    address: str
    detail: str = ""


class Service(ABC):
    name: str
    startup_timeout: float = 120.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir / self.name
        self.log = settings.state_dir / "logs" / f"{self.name}.log"
        self.pidfile = PidFile(settings.state_dir / "run" / f"{self.name}.pid")

    @property
    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Every port the service listens on, by role ("broker", "controller", "s3")."""

    @property
    @abstractmethod
    def address(self) -> str: ...

    def check_installed(self) -> None:
        """Raise StackError naming the missing piece when the service cannot run here."""

    def prepare(self) -> None:
        """Create data directories and configuration before the first start."""

    @abstractmethod
    def command(self) -> list[str]: ...

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    @abstractmethod
    def healthy(self) -> bool: ...

    def provision(self) -> None:
        """Create what the platform needs inside the running service (idempotent)."""

    def detail(self) -> str:
        return ""


class Kafka(Service):
    """A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM)."""

    name = "kafka"

    @property
    def ports(self) -> dict[str, int]:
        return {"broker": self.settings.kafka_port, "controller": self.settings.kafka_controller_port}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    @property
    def jars(self) -> Path:
        return self.settings.jars_dir / "kafka"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    def check_installed(self) -> None:
        if not any(self.jars.glob("kafka_2.13-*.jar")):
            raise StackError(f"the Kafka jars are missing from {self.jars}: run `make setup`")
        self.java = require_java()

    def prepare(self) -> None:
        s = self.settings
        data = self.home / "data"
        self.home.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{s.kafka_controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{s.kafka_port},CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{s.kafka_port}",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "inter.broker.listener.name=PLAINTEXT",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=3",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.retention.hours=168",
                    "",
                ]
            )
        )
        if not (data / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
            result = subprocess.run(
                [self.java, "-cp", f"{self.jars}/*", "kafka.tools.StorageTool", "format",
                 f"--cluster-id={cluster_id}", "-c", str(self.properties)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise StackError(f"formatting the Kafka log directory failed: {result.stdout}{result.stderr}"[:500])

    def command(self) -> list[str]:
        heap = self.settings.kafka_heap
        return [
            self.java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={conf_dir() / 'kafka-log4j2.properties'}",
            f"-Dkafka.logs.dir={self.settings.state_dir / 'logs'}",
            "-cp", f"{self.jars}/*", "kafka.Kafka", str(self.properties),
        ]  # fmt: skip

    def _admin(self) -> Any:
        from confluent_kafka.admin import AdminClient

        return AdminClient({"bootstrap.servers": self.address, "socket.timeout.ms": 2000})

    def healthy(self) -> bool:
        if not port_open(self.settings.kafka_port):
            return False
        try:
            metadata = self._admin().list_topics(timeout=2)
        except Exception:
            return False
        return bool(metadata.brokers)

    def provision(self) -> None:
        from confluent_kafka.admin import NewPartitions, NewTopic

        admin = self._admin()
        existing = admin.list_topics(timeout=10).topics
        wanted = self.settings.kafka_topics
        new = [NewTopic(name, num_partitions=n, replication_factor=1)
               for name, n in wanted.items() if name not in existing]  # fmt: skip
        grow = [NewPartitions(name, n) for name, n in wanted.items()
                if name in existing and len(existing[name].partitions) < n]  # fmt: skip
        futures = {**(admin.create_topics(new) if new else {}), **(admin.create_partitions(grow) if grow else {})}
        for topic, future in futures.items():
            try:
                future.result(timeout=30)
            except Exception as error:  # TOPIC_ALREADY_EXISTS when two `up`s race is fine
                if "TOPIC_ALREADY_EXISTS" not in str(error):
                    raise StackError(f"creating Kafka topic {topic} failed: {error}") from None

    def detail(self) -> str:
        try:
            topics = self._admin().list_topics(timeout=2).topics
        except Exception:
            return ""
        wanted = self.settings.kafka_topics
        parts = [f"{name}:{len(topics[name].partitions) if name in topics else 'missing'}" for name in wanted]
        return "topics " + " ".join(parts)


class ObjectStore(Service):
    """MinIO, the S3-compatible server the lake's s3a:// mode is tested against locally."""

    name = "s3"

    @property
    def ports(self) -> dict[str, int]:
        return {"s3": self.settings.s3_port}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.s3_port}"

    @property
    def binary(self) -> Path:
        return self.settings.cache_dir / "bin" / "minio"

    def check_installed(self) -> None:
        if not self.binary.exists():
            raise StackError(f"the MinIO server is missing at {self.binary}: run `make setup` (builds it with Go)")

    def prepare(self) -> None:
        (self.home / "data").mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [str(self.binary), "server", str(self.home / "data"), "--quiet",
                "--address", f"127.0.0.1:{self.settings.s3_port}"]  # fmt: skip

    def environment(self) -> dict[str, str]:
        creds = self.settings.s3_credentials
        assert creds is not None  # local mode always has credentials
        return {
            **os.environ,
            "MINIO_ROOT_USER": creds[0],
            "MINIO_ROOT_PASSWORD": creds[1],
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
            "MINIO_REGION": self.settings.s3_region,
        }

    def healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.address}/minio/health/live", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def provision(self) -> None:
        from watershed.lake import s3_client

        client = s3_client(self.settings)
        buckets = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        if self.settings.s3_bucket not in buckets:
            client.create_bucket(Bucket=self.settings.s3_bucket)

    def detail(self) -> str:
        return f"bucket {self.settings.s3_bucket}"


class Redis(Service):
    """Debian's redis-server: the store of the real-time job's live ad counters.

    Persistence: the append-only file is on (fsync every second, RDB snapshots off), so the
    counters survive a restart of Redis and stay in step with the Spark checkpoints that decide
    which batches were applied; a crash of the machine may lose the last second.
    """

    name = "redis"
    startup_timeout = 30.0

    @property
    def ports(self) -> dict[str, int]:
        return {"redis": self.settings.redis_port}

    @property
    def address(self) -> str:
        return f"redis://127.0.0.1:{self.settings.redis_port}"

    def check_installed(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StackError(
                "redis-server is missing (the live ad counters need it): run `make setup` as root, "
                "or install Debian's package: apt-get install redis-server"
            )
        self.binary = binary

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [self.binary, "--bind", "127.0.0.1", "--port", str(self.settings.redis_port),
                "--dir", str(self.home), "--daemonize", "no", "--logfile", "",
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]  # fmt: skip

    def _client(self) -> Any:
        import redis

        return redis.Redis(port=self.settings.redis_port, socket_connect_timeout=2, socket_timeout=2)

    def healthy(self) -> bool:
        import redis

        if not port_open(self.settings.redis_port):
            return False
        client = self._client()
        try:
            return bool(client.ping())
        except redis.RedisError:  # e.g. LOADING while it replays the append-only file
            return False
        finally:
            client.close()

    def detail(self) -> str:
        import redis

        client = self._client()
        try:
            return f"{client.dbsize()} keys, appendonly {client.config_get('appendonly')['appendonly']}"
        except redis.RedisError:
            return ""
        finally:
            client.close()


class Airflow(Service):
    """Airflow 3 (`airflow standalone`: api-server, scheduler, dag-processor, triggerer) with this
    repository's dags/, SQLite metadata under the state folder and user `admin`."""

    name = "airflow"
    startup_timeout = 240.0

    @property
    def ports(self) -> dict[str, int]:
        return {"api": self.settings.airflow_port, "log-server": self.settings.airflow_log_server_port}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.settings.airflow_port}"

    @property
    def executable(self) -> Path:
        return Path(sys.executable).parent / "airflow"

    def check_installed(self) -> None:
        if not self.executable.exists():
            raise StackError(f"Airflow is not installed next to {sys.executable}: run `make setup`")

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({"admin": self.settings.airflow_password}))

    def command(self) -> list[str]:
        return [str(self.executable), "standalone"]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            # standalone starts its components as `airflow ...` found on the PATH
            "PATH": f"{self.executable.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_dir()),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # several processes write one SQLite file: wait for its lock, don't fail after 5 s
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "watershed.stack.airflow_db.SQLITE_CONNECT_ARGS",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "watershed.stack.airflow_db.SQLITE_CONNECT_ARGS_ASYNC",
            # LocalExecutor starts one worker per slot: 32 by default, far too many for a laptop
            "AIRFLOW__CORE__PARALLELISM": str(max(4, 2 * (os.cpu_count() or 2))),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.settings.airflow_port),
            # task workers report to the execution API; its default assumes port 8080
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.address}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.settings.airflow_log_server_port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "passwords.json"),
            # every task sees the same Watershed settings as the CLI that started Airflow
            "WATERSHED_STATE_DIR": str(self.settings.state_dir),
            # the Spark steps' connection: the configured master unless one is given
            "AIRFLOW_CONN_SPARK_DEFAULT": os.environ.get("AIRFLOW_CONN_SPARK_DEFAULT")
            or json.dumps({"conn_type": "spark", "host": self.settings.spark_master_url}),
        }

    def healthy(self) -> bool:
        import httpx

        try:
            health = httpx.get(f"{self.address}/api/v2/monitor/health", timeout=3).json()
        except (httpx.HTTPError, ValueError):
            return False
        parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all(health.get(p, {}).get("status") == "healthy" for p in parts)

    def detail(self) -> str:
        return "user admin"


SERVICES: dict[str, type[Service]] = {"kafka": Kafka, "s3": ObjectStore, "redis": Redis, "airflow": Airflow}
# What `stack up` starts when no service is named; the others are started by name or --all.
# Redis is one of them: the real-time job writes its ad counters there wherever it runs.
DEFAULT_SERVICES = ("kafka", "s3", "redis")


_PORT_VARIABLES = {
    ("kafka", "broker"): "KAFKA_PORT",
    ("kafka", "controller"): "KAFKA_CONTROLLER_PORT",
    ("s3", "s3"): "S3_PORT",
    ("redis", "redis"): "REDIS_PORT",
    ("airflow", "api"): "AIRFLOW_PORT",
    ("airflow", "log-server"): "AIRFLOW_LOG_SERVER_PORT",
}


class Stack:
    """The set of local services; every method is safe to call repeatedly."""

    def __init__(self, settings: Settings, names: Iterable[str] | None = None, *, every: bool = False) -> None:
        if settings.env != "local":
            raise StackError("the local stack only runs with WATERSHED_ENV=local (prod uses your own services)")
        chosen = list(names) if names else list(SERVICES if every else DEFAULT_SERVICES)
        unknown = [n for n in chosen if n not in SERVICES]
        if unknown:
            raise StackError(f"unknown service {unknown[0]!r}: choose from {', '.join(SERVICES)}")
        self.settings = settings
        self.services = [SERVICES[n](settings) for n in chosen]

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
                terminate(pid)
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
                terminate(pid)
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
            terminate(pid)
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
