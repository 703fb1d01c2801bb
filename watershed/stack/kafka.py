"""The Kafka broker of the local stack."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path
from typing import Any

from watershed.errors import StackError
from watershed.paths import conf_dir, monitoring_dir
from watershed.stack.java import require_java
from watershed.stack.process import port_open
from watershed.stack.service import Service


class Kafka(Service):
    """A single-node Apache Kafka broker in KRaft mode (broker and controller in one JVM)."""

    name = "kafka"

    @property
    def ports(self) -> dict[str, int]:
        s = self.settings
        return {"broker": s.kafka_port, "controller": s.kafka_controller_port, "metrics": s.kafka_metrics_port}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    @property
    def jars(self) -> Path:
        return self.settings.jars_dir / "kafka"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def metrics_agent(self) -> Path | None:
        """The Prometheus JMX exporter's java agent (`make setup` puts it beside the broker's jars)."""
        return next(iter(sorted((self.settings.jars_dir / "jmx").glob("jmx_prometheus_javaagent-*.jar"))), None)

    def check_installed(self) -> None:
        if not any(self.jars.glob("kafka_2.13-*.jar")):
            raise StackError(f"the Kafka jars are missing from {self.jars}: run `make setup`")
        if self.metrics_agent is None:
            raise StackError(
                f"the JMX exporter's agent is missing from {self.settings.jars_dir / 'jmx'}: run `make setup`"
            )
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
        heap, rules = self.settings.kafka_heap, monitoring_dir() / "kafka-jmx.yml"
        agent = f"{self.metrics_agent}=127.0.0.1:{self.settings.kafka_metrics_port}:{rules}"
        return [
            self.java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            # the broker's metrics on loopback for Prometheus (topic throughput, replication, latency)
            f"-javaagent:{agent}",
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
