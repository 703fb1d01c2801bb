"""docker-compose.yml keeps its promises: the services, healthchecks, ordered start-up, pinned
images, a KRaft Kafka with the platform's topics, the lake bucket, the repository mounted into
Airflow, and monitoring wired to the collector.

No Docker engine is needed: the file is parsed with PyYAML. Where a Docker CLI with the compose
plugin exists, `docker compose config` validates it as well (it only parses; no engine needed).

Each check is a function returning the problems it found, so the tests below also prove that the
checks fail on a broken file (a removed healthcheck, an unpinned image, ...), not only that they
pass on the real one.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from watershed.settings import DEFAULT_TOPICS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
PROMETHEUS = ROOT / "docker" / "prometheus" / "prometheus.yml"
JMX_POM = ROOT / "jars" / "jmx" / "pom.xml"
GRAFANA = ROOT / "docker" / "grafana"

AIRFLOW = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
ONE_SHOT = {"kafka-init", "minio-init", "airflow-init", "alertmanager-config"}
LONG_RUNNING = {
    "kafka",
    "minio",
    "redis",
    "postgres",
    "collector",
    "ad-apis",
    "prometheus",
    "alertmanager",
    "statsd-exporter",
    "pushgateway",
    "exporter",
    "grafana",
} | AIRFLOW
EXPECTED_SERVICES = LONG_RUNNING | ONE_SHOT

# The topics of the platform, as the issue lists them (watershed.settings.DEFAULT_TOPICS too).
EXPECTED_TOPICS = {
    "user-events": 3,
    "transaction-data": 6,
    "ad-events": 3,
    "events-invalid": 1,
    "real-time-metrics": 1,
    "alerts": 1,
}

# A concrete version: 1.2, v3.5.0, 16.10, 3.3.2-python3.11, or a MinIO RELEASE.<timestamp>.
CONCRETE_TAG = re.compile(r"^(v?\d+(\.\d+)+([-.][\w.-]+)?|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)$")


# ---- helpers -----------------------------------------------------------------------------------


def load_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


# ${VAR...} but not the escaped $${VAR}, which Compose passes to the container as ${VAR}
_VAR = re.compile(r"(?<!\$)\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, with `env` as the .env file."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group("name"), m.group("op"), m.group("arg")
        if env.get(name):
            return env[name]
        if op in (":-", "-"):
            return arg or ""
        raise KeyError(f"${{{name}}} has no value and no default")

    return _VAR.sub(one, str(value)).replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=VALUE list form
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def image_ref(image: str) -> tuple[str, str | None]:
    """('registry/name', tag) of an image reference; tag None when there is none."""
    name = image.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
        return repo, tag
    return name, None


def dockerfile_images() -> list[str]:
    """Images the Dockerfile starts FROM (stage names excluded)."""
    images, stages = [], set()
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.IGNORECASE)
        if m:
            if m.group(1) not in stages:
                images.append(m.group(1))
            if m.group(2):
                stages.add(m.group(2))
    return images


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command") or ""
    return command if isinstance(command, str) else "\n".join(map(str, command))


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of each bind mount (short syntax ./x:/y[:ro] or long syntax)."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                mounts.append((volume["source"], volume["target"]))
            continue
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


# ---- checks: each returns the problems found -----------------------------------------------------


def check_services(compose: dict[str, Any]) -> list[str]:
    services = set(compose.get("services", {}))
    problems = [f"missing service {name}" for name in sorted(EXPECTED_SERVICES - services)]
    problems += [f"unexpected service {name} (add it to this test)" for name in sorted(services - EXPECTED_SERVICES)]
    return problems


def check_healthchecks(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name in sorted(LONG_RUNNING & set(compose["services"])):
        check = compose["services"][name].get("healthcheck") or {}
        if check.get("disable"):
            problems.append(f"{name}: healthcheck disabled")
        test = check.get("test")
        if not test or test in (["NONE"], "NONE") or (isinstance(test, list) and len(test) < 2):
            problems.append(f"{name}: healthcheck has no test")
        if not check.get("interval"):
            problems.append(f"{name}: healthcheck has no interval")
        if not isinstance(check.get("retries"), int) or check["retries"] < 1:
            problems.append(f"{name}: healthcheck has no retries")
    return problems


def check_restart_policies(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        restart = service.get("restart", "no")
        if name in ONE_SHOT and restart not in ("no", "on-failure"):
            problems.append(f"{name}: a one-shot job must not restart when it exits 0 (restart: {restart})")
        if name in LONG_RUNNING and restart == "no":
            problems.append(f"{name}: a long-running service should restart")
    return problems


def check_depends_on(compose: dict[str, Any]) -> list[str]:
    problems = []
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on")
        if depends is None:
            continue
        if not isinstance(depends, dict):
            problems.append(f"{name}: depends_on is a list; give each dependency a condition")
            continue
        for target, spec in depends.items():
            condition = (spec or {}).get("condition")
            if target not in services:
                problems.append(f"{name}: depends on unknown service {target}")
            elif target in ONE_SHOT and condition != "service_completed_successfully":
                problems.append(f"{name} -> {target}: one-shot job needs service_completed_successfully")
            elif target not in ONE_SHOT and condition != "service_healthy":
                problems.append(f"{name} -> {target}: needs condition service_healthy, got {condition}")
    # the start-up order the platform needs
    needs = {
        **{svc: {"postgres", "airflow-init", "kafka-init", "minio-init"} for svc in AIRFLOW},
        "airflow-init": {"postgres"},
        "kafka-init": {"kafka"},
        "minio-init": {"minio"},
        "collector": {"kafka", "kafka-init"},
        "grafana": {"prometheus"},
        "alertmanager": {"alertmanager-config"},
    }
    for name, required in needs.items():
        have = set(services.get(name, {}).get("depends_on") or {})
        for missing in sorted(required - have):
            problems.append(f"{name} must wait for {missing}")
    return problems


def check_images(compose: dict[str, Any]) -> list[str]:
    problems = []
    for name, service in compose["services"].items():
        image = service.get("image")
        if "build" in service:
            continue  # built here: its base images are checked in the Dockerfile below
        if not image:
            problems.append(f"{name}: no image")
            continue
        tag = image_ref(str(image))[1]
        if "$" in str(image):
            problems.append(f"{name}: image {image} comes from a variable; pin it in the file")
        elif tag is None:
            problems.append(f"{name}: image {image} has no tag")
        elif tag == "latest" or not CONCRETE_TAG.match(tag):
            problems.append(f"{name}: image {image} is not pinned to a concrete version")
    for image in dockerfile_images():
        tag = image_ref(image)[1]
        if tag is None or tag == "latest" or not CONCRETE_TAG.match(tag):
            problems.append(f"docker/Dockerfile: FROM {image} is not pinned to a concrete version")
    return problems


def check_kafka(compose: dict[str, Any], env_file: dict[str, str]) -> list[str]:
    problems = []
    services = compose["services"]
    for name, service in services.items():
        if "zookeeper" in name.lower() or "zookeeper" in str(service.get("image", "")).lower():
            problems.append(f"{name}: ZooKeeper has no place in a KRaft setup")
    kafka = environment(services["kafka"])
    if any("ZOOKEEPER" in key for key in kafka):
        problems.append("kafka: ZooKeeper settings present")
    roles = {r.strip() for r in kafka.get("KAFKA_PROCESS_ROLES", "").split(",")}
    if roles != {"broker", "controller"}:
        problems.append(f"kafka: KAFKA_PROCESS_ROLES must be broker,controller (got {sorted(roles)})")
    if not kafka.get("CLUSTER_ID"):
        problems.append("kafka: CLUSTER_ID missing (KRaft formats its log directory with it)")
    node = kafka.get("KAFKA_NODE_ID")
    controller = kafka.get("KAFKA_CONTROLLER_LISTENER_NAMES", "")
    listeners = {
        entry.split("://")[0]: entry.split("://")[1] for entry in kafka.get("KAFKA_LISTENERS", "").split(",") if entry
    }
    voters = kafka.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")
    if controller not in listeners:
        problems.append(f"kafka: the controller listener {controller!r} is not in KAFKA_LISTENERS")
    elif not re.fullmatch(rf"{node}@kafka:{listeners[controller].rsplit(':', 1)[-1]}", voters):
        problems.append(f"kafka: quorum voters {voters!r} must name node {node} at the controller listener")
    # every Watershed process must bootstrap from an advertised listener
    advertised = {
        interpolate(entry.split("://")[1], env_file)
        for entry in kafka.get("KAFKA_ADVERTISED_LISTENERS", "").split(",")
        if entry
    }
    for name, service in services.items():
        bootstrap = environment(service).get("WATERSHED_KAFKA_BOOTSTRAP_SERVERS")
        if bootstrap and bootstrap not in advertised:
            problems.append(f"{name}: {bootstrap} is not one of Kafka's advertised listeners {sorted(advertised)}")
    if environment(services["kafka-init"]).get("BOOTSTRAP") not in advertised:
        problems.append("kafka-init: BOOTSTRAP is not one of Kafka's advertised listeners")
    if kafka.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false":
        problems.append("kafka: topic auto-creation must be off (a typo must not create a topic)")
    return problems


def compose_topics(compose: dict[str, Any]) -> dict[str, int]:
    spec = environment(compose["services"]["kafka-init"]).get("TOPICS", "")
    return {name: int(n) for name, _, n in (item.partition(":") for item in spec.split())}


def check_topics(compose: dict[str, Any]) -> list[str]:
    problems = []
    topics = compose_topics(compose)
    if topics != EXPECTED_TOPICS:
        problems.append(f"kafka-init creates {topics}, the platform needs {EXPECTED_TOPICS}")
    script = command_text(compose["services"]["kafka-init"])
    for needed in ("kafka-topics.sh", "--create", "--if-not-exists", "$$TOPICS", "--alter"):
        if needed not in script:
            problems.append(f"kafka-init: script does not use {needed}")
    return problems


def check_minio(compose: dict[str, Any]) -> list[str]:
    problems = []
    services = compose["services"]
    init = services["minio-init"]
    script = command_text(init)
    bucket = environment(init).get("BUCKET")
    if not re.search(r"mc mb --ignore-existing \S*\$\$BUCKET", script):
        problems.append("minio-init: does not create the bucket with `mc mb --ignore-existing`")
    if "http://minio:9000" not in script:
        problems.append("minio-init: does not talk to the minio service")
    for name, service in services.items():
        env = environment(service)
        if "WATERSHED_S3_BUCKET" not in env:
            continue
        if env["WATERSHED_S3_BUCKET"] != bucket:
            problems.append(f"{name}: WATERSHED_S3_BUCKET {env['WATERSHED_S3_BUCKET']} is not the bucket created")
        lake = env.get("WATERSHED_LAKE_URI", "")
        if not lake.startswith(f"s3a://{bucket}/"):
            problems.append(f"{name}: WATERSHED_LAKE_URI {lake} is not in the bucket {bucket}")
        if env.get("WATERSHED_S3_ENDPOINT") != "http://minio:9000":
            problems.append(f"{name}: WATERSHED_S3_ENDPOINT must be http://minio:9000")
    return problems


DB = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"


def check_airflow(compose: dict[str, Any]) -> list[str]:
    problems = []
    services = compose["services"]
    commands = {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    secrets = set()
    for name in sorted(AIRFLOW | {"airflow-init"}):
        service = services[name]
        env = environment(service)
        if name in commands and command_text(service).strip() != commands[name]:
            problems.append(f"{name}: command must be `{commands[name]}`")
        mounts = dict((target, source) for source, target in bind_mounts(service))
        if (ROOT / mounts.get("/opt/watershed", "/nonexistent")).resolve() != ROOT:
            problems.append(f"{name}: the repository is not mounted at /opt/watershed")
        dags = env.get("AIRFLOW__CORE__DAGS_FOLDER", "")
        if dags != "/opt/watershed/dags" or not (ROOT / "dags").is_dir():
            problems.append(f"{name}: AIRFLOW__CORE__DAGS_FOLDER must be the mounted repository's dags/")
        if env.get("AIRFLOW__CORE__EXECUTOR") != "LocalExecutor":
            problems.append(f"{name}: executor must be LocalExecutor")
        if not re.fullmatch(r"postgresql\+psycopg2://airflow:[^@]+@postgres:5432/airflow", env.get(DB, "")):
            problems.append(f"{name}: {DB} must be the postgres service")
        if env.get("AIRFLOW__CORE__EXECUTION_API_SERVER_URL") != "http://airflow-apiserver:8080/execution/":
            problems.append(f"{name}: AIRFLOW__CORE__EXECUTION_API_SERVER_URL must point at airflow-apiserver")
        secrets.add(env.get("AIRFLOW__API_AUTH__JWT_SECRET"))
    if len(secrets) != 1 or None in secrets:
        problems.append("every Airflow component must share one AIRFLOW__API_AUTH__JWT_SECRET")
    if "airflow db migrate" not in command_text(services["airflow-init"]):
        problems.append("airflow-init: does not run `airflow db migrate`")
    return problems


def check_collector(compose: dict[str, Any]) -> list[str]:
    problems = []
    collector = compose["services"]["collector"]
    command = command_text(collector).split()
    if command[:3] != ["watershed", "collector", "serve"]:
        problems.append("collector: must run `watershed collector serve`")
    port = command[command.index("--port") + 1] if "--port" in command else None
    if port != "8000" or "0.0.0.0" not in command:
        problems.append("collector: must listen on 0.0.0.0:8000")
    test = " ".join(map(str, (collector.get("healthcheck") or {}).get("test") or []))
    if f"localhost:{port}/ready" not in test and f"localhost:{port}/health" not in test:
        problems.append("collector: healthcheck must call its /ready or /health endpoint")
    return problems


def check_secrets(compose_text: str, env_file: dict[str, str]) -> list[str]:
    """Every required variable is in .env.example, and .env.example holds only development values."""
    problems = []
    required = {m.group("name") for m in _VAR.finditer(compose_text) if m.group("op") in (None, ":?", "?")}
    for name in sorted(required):
        if not env_file.get(name):
            problems.append(f"{name} is required by docker-compose.yml but has no value in .env.example")
    for name, value in env_file.items():
        if re.search(r"PASSWORD|SECRET|_KEY$", name) and value and "dev" not in value:
            problems.append(f".env.example: {name} must be an obvious development value (contain 'dev')")
    return problems


def check_dockerfile() -> list[str]:
    problems = []
    text = DOCKERFILE.read_text(encoding="utf-8")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    airflow = next(d for d in project["dependencies"] if re.match(r"apache-airflow\s*==", d))
    version = airflow.split("==")[1].strip()
    python = re.search(r">=\s*(3\.\d+)", project["requires-python"]).group(1)  # type: ignore[union-attr]
    if f"apache/airflow:{version}-python{python}" not in dockerfile_images():
        problems.append(f"docker/Dockerfile must build FROM apache/airflow:{version}-python{python} (pyproject.toml)")
    if "openjdk-17-jre-headless" not in text:
        problems.append("docker/Dockerfile: no Java 17 runtime for Spark")
    if not re.search(r"pip install .*-c /opt/watershed/constraints\.txt .*/opt/watershed\b", text):
        problems.append("docker/Dockerfile: must pip install /opt/watershed with constraints.txt")
    return problems


def check_monitoring(compose: dict[str, Any]) -> list[str]:
    problems = []
    services = compose["services"]
    prometheus = yaml.safe_load(PROMETHEUS.read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in prometheus.get("scrape_configs", [])}
    targets = {
        name: {t for sc in job.get("static_configs", []) for t in sc.get("targets", [])} for name, job in jobs.items()
    }
    if "collector:8000" not in targets.get("collector", set()):
        problems.append("prometheus.yml: no job scraping collector:8000")
    elif jobs["collector"].get("metrics_path", "/metrics") != "/metrics":
        problems.append("prometheus.yml: the collector serves /metrics")
    if not any("localhost:9090" in t for t in targets.values()):
        problems.append("prometheus.yml: Prometheus does not scrape itself")
    mounted = dict((target, source) for source, target in bind_mounts(services["prometheus"]))
    if (ROOT / mounted.get("/etc/prometheus/prometheus.yml", "")).resolve() != PROMETHEUS.resolve():
        problems.append("prometheus: docker/prometheus/prometheus.yml is not mounted as its config")
    # the alert rules the local stack loads, mounted where prometheus.yml reads them
    rules_dir = mounted.get("/etc/prometheus/rules", "")
    for rule_file in prometheus.get("rule_files", []) or ["(none)"]:
        name = Path(rule_file).name
        if not rule_file.startswith("/etc/prometheus/rules/") or not (ROOT / rules_dir / name).is_file():
            problems.append(f"prometheus: rule file {rule_file} is not the mounted monitoring/rules/{name}")
    if "pushgateway:9091" not in targets.get("pushgateway", set()) or not jobs["pushgateway"].get("honor_labels"):
        problems.append("prometheus.yml: the Pushgateway is not scraped with honor_labels")
    exporter_command = services.get("exporter", {}).get("command", [])
    if "exporter:9108" not in targets.get("watershed", set()) or exporter_command[-2:] != ["--port", "9108"]:
        problems.append("prometheus.yml: no job `watershed` scraping the exporter service on exporter:9108")
    # the broker's JMX metrics: the agent `make setup` resolves (its version in jars/jmx/pom.xml),
    # with the local stack's rules, on the port Prometheus scrapes
    agent_version = re.search(r"jmx_prometheus_javaagent</artifactId>\s*<version>([^<]+)<", JMX_POM.read_text())
    kafka = services["kafka"]
    jar = f"/opt/jmx/jmx_prometheus_javaagent-{agent_version and agent_version[1]}.jar"
    wanted_opts = f"-javaagent:{jar}=9404:/etc/jmx/kafka-jmx.yml"
    kafka_mounts = dict((target, source) for source, target in bind_mounts(kafka))
    if kafka.get("environment", {}).get("KAFKA_OPTS") != wanted_opts:
        problems.append(f"kafka: KAFKA_OPTS must be {wanted_opts!r} (the agent jars/jmx/pom.xml resolves)")
    if (
        kafka_mounts.get("/opt/jmx") != "./.cache/jars/jmx"
        or kafka_mounts.get("/etc/jmx/kafka-jmx.yml") != "./monitoring/kafka-jmx.yml"
    ):
        problems.append(
            "kafka: mount .cache/jars/jmx at /opt/jmx and monitoring/kafka-jmx.yml at /etc/jmx/kafka-jmx.yml"
        )
    # Alertmanager: its configuration written by the one-shot job from the local stack's code, the
    # rules' alerts and the Airflow callbacks sent to it
    am_config = [a.removeprefix("--config.file=") for a in services["alertmanager"].get("command", [])
                 if a.startswith("--config.file=")]  # fmt: skip
    writer = " ".join(services["alertmanager-config"].get("command", []))
    if not am_config or f"watershed monitor alertmanager-config --out {am_config[0]}" not in writer:
        problems.append("alertmanager: its --config.file must be what `watershed monitor alertmanager-config` writes")
    shared = {v.split(":")[0] for v in services["alertmanager"].get("volumes", [])} & {
        v.split(":")[0] for v in services["alertmanager-config"].get("volumes", [])
    }
    if "alertmanager-config" not in shared:
        problems.append("alertmanager: the config job and Alertmanager must share the alertmanager-config volume")
    alerting = prometheus.get("alerting", {}).get("alertmanagers", [])
    if "alertmanager:9093" not in {t for am in alerting for sc in am.get("static_configs", []) for t in sc["targets"]}:
        problems.append("prometheus.yml: alerts are not sent to alertmanager:9093")
    if compose["x-watershed-env"].get("WATERSHED_ALERTMANAGER_URL") != "http://alertmanager:9093":
        problems.append(
            "x-watershed-env: WATERSHED_ALERTMANAGER_URL must be http://alertmanager:9093 (the one alert path)"
        )
    # Airflow's StatsD: sent to the statsd-exporter with the local stack's rules, scraped
    airflow_env = compose["x-airflow-env"]
    if (airflow_env.get("AIRFLOW__METRICS__STATSD_ON"), airflow_env.get("AIRFLOW__METRICS__STATSD_HOST")) != (
        "true", "statsd-exporter",
    ):  # fmt: skip
        problems.append("x-airflow-env: Airflow must send StatsD to statsd-exporter")
    statsd_mounts = dict((target, source) for source, target in bind_mounts(services["statsd-exporter"]))
    if statsd_mounts.get("/etc/statsd/airflow-statsd.yml") != "./monitoring/airflow-statsd.yml":
        problems.append("statsd-exporter: mount monitoring/airflow-statsd.yml (the local stack's rules)")
    if "statsd-exporter:9102" not in targets.get("airflow", set()):
        problems.append("prometheus.yml: no job `airflow` scraping statsd-exporter:9102")
    if "kafka:9404" not in targets.get("kafka", set()):
        problems.append("prometheus.yml: no job `kafka` scraping the broker's JMX metrics on kafka:9404")

    grafana_mounts = dict((target, source) for source, target in bind_mounts(services["grafana"]))
    provisioning = grafana_mounts.get("/etc/grafana/provisioning")
    if provisioning is None or (ROOT / provisioning).resolve() != (GRAFANA / "provisioning").resolve():
        problems.append("grafana: docker/grafana/provisioning is not mounted")
    datasources = [
        ds
        for path in sorted((GRAFANA / "provisioning" / "datasources").glob("*.y*ml"))
        for ds in yaml.safe_load(path.read_text(encoding="utf-8")).get("datasources", [])
    ]
    prom = [ds for ds in datasources if ds.get("type") == "prometheus" and ds.get("url") == "http://prometheus:9090"]
    if not prom:
        problems.append("grafana: no Prometheus datasource at http://prometheus:9090")
    providers = [
        p
        for path in sorted((GRAFANA / "provisioning" / "dashboards").glob("*.y*ml"))
        for p in yaml.safe_load(path.read_text(encoding="utf-8")).get("providers", [])
    ]
    dashboards_dir = None
    for provider in providers:
        source = grafana_mounts.get(provider.get("options", {}).get("path", ""))
        if source:
            dashboards_dir = (ROOT / source).resolve()
    if dashboards_dir is None:
        problems.append("grafana: no dashboard provider reads a mounted folder")
        return problems
    exprs = []
    for path in dashboards_dir.glob("*.json"):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard.get("panels", []):
            uid = (panel.get("datasource") or {}).get("uid")
            if prom and uid != prom[0].get("uid"):
                problems.append(f"{path.name}: panel {panel.get('title')!r} uses datasource {uid!r}")
            exprs += [t.get("expr", "") for t in panel.get("targets", [])]
    wanted = {
        "request rate": r"rate\(watershed_collector_requests_total",
        "rejections by reason": r"by \(reason\).*watershed_collector_events_rejected_total",
        "latency": r"histogram_quantile\(.*watershed_collector_request_duration_seconds_bucket",
    }
    for what, pattern in wanted.items():
        if not any(re.search(pattern, e) for e in exprs):
            problems.append(f"grafana: no collector dashboard panel for {what}")
    return problems


def check_bind_sources(compose: dict[str, Any]) -> list[str]:
    return [
        f"{name}: bind mount source {source} does not exist"
        for name, service in compose["services"].items()
        for source, _ in bind_mounts(service)
        if not (ROOT / source).exists()
    ]


# ---- the tests -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def test_topics_are_the_platform_topics() -> None:
    assert DEFAULT_TOPICS == EXPECTED_TOPICS


def check_ad_apis(compose: dict[str, Any]) -> list[str]:
    """The fakes listen beside the other containers, under the name their certificate holds, and
    write their variables where the extractors in the other containers read them."""
    from extractors.settings import STACK_ENV_FILE

    service = compose["services"]["ad-apis"]
    words = command_text(service).split()
    problems = []
    if "fake-ad-api" not in words:
        problems.append("ad-apis: must run `watershed fake-ad-api`")
        return problems

    def option(name: str) -> str | None:
        return words[words.index(name) + 1] if name in words else None

    if option("--host") != "0.0.0.0" or option("--public-host") != "ad-apis":
        problems.append("ad-apis: must bind 0.0.0.0 and name itself ad-apis (the certificate's name)")
    state = compose["x-watershed-env"]["WATERSHED_STATE_DIR"]
    if option("--env-file") != f"{state}/{STACK_ENV_FILE}":
        problems.append(f"ad-apis: --env-file must be {state}/{STACK_ENV_FILE}, where load_ad_settings reads it")
    if option("--tls-dir") is None or not str(option("--tls-dir")).startswith(state):
        problems.append("ad-apis: --tls-dir must be in the shared state dir (the other containers trust its CA)")
    if option("--token-port") in (None, "0"):
        problems.append("ad-apis: the token endpoint needs a fixed --token-port")
    if str(option("--env-file")) not in " ".join(map(str, (service.get("healthcheck") or {}).get("test") or [])):
        problems.append("ad-apis: the healthcheck must wait for the env file")
    return problems


@pytest.mark.parametrize(
    "check",
    [
        check_ad_apis,
        check_services,
        check_healthchecks,
        check_restart_policies,
        check_depends_on,
        check_images,
        check_topics,
        check_minio,
        check_airflow,
        check_collector,
        check_monitoring,
        check_bind_sources,
    ],
    ids=lambda f: f.__name__.removeprefix("check_"),
)
def test_compose_property(check: Any, compose: dict[str, Any]) -> None:
    assert check(compose) == []


def test_kafka_is_kraft_and_reachable(compose: dict[str, Any]) -> None:
    assert check_kafka(compose, env_example()) == []


def test_required_variables_have_development_values() -> None:
    assert check_secrets(COMPOSE.read_text(encoding="utf-8"), env_example()) == []


def test_dockerfile_matches_the_project() -> None:
    assert check_dockerfile() == []


# Each mutation breaks one promise; the checks must notice. (Without this, a check that always
# returns [] would pass the tests above.)
def _drop(path: list[str]) -> Any:
    def mutate(c: dict[str, Any]) -> None:
        node = c
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return mutate


def _set(path: list[str], value: Any) -> Any:
    def mutate(c: dict[str, Any]) -> None:
        node = c
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


MUTATIONS = {
    "healthcheck removed": (check_healthchecks, _drop(["services", "minio", "healthcheck"])),
    "healthcheck without retries": (check_healthchecks, _drop(["services", "collector", "healthcheck", "retries"])),
    "service removed": (check_services, _drop(["services", "airflow-triggerer"])),
    "depends_on as a list": (check_depends_on, _set(["services", "grafana", "depends_on"], ["prometheus"])),
    "init job waited on as healthy": (
        check_depends_on,
        _set(["services", "airflow-scheduler", "depends_on", "airflow-init"], {"condition": "service_healthy"}),
    ),
    "ad fakes on loopback": (
        check_ad_apis,
        _set(["services", "ad-apis", "command"], ["watershed", "fake-ad-api", "--generated", "/w", "--port", "8701"]),
    ),
    "dependency dropped": (check_depends_on, _drop(["services", "collector", "depends_on", "kafka-init"])),
    "image latest": (check_images, _set(["services", "grafana", "image"], "grafana/grafana:latest")),
    "image untagged": (check_images, _set(["services", "postgres", "image"], "postgres")),
    "image major only": (check_images, _set(["services", "postgres", "image"], "postgres:16")),
    "zookeeper added": (
        lambda c: check_kafka(c, env_example()),
        _set(["services", "zookeeper"], {"image": "zookeeper:3.9.2"}),
    ),
    "kraft roles missing": (
        lambda c: check_kafka(c, env_example()),
        _drop(["services", "kafka", "environment", "KAFKA_PROCESS_ROLES"]),
    ),
    "bootstrap not advertised": (
        lambda c: check_kafka(c, env_example()),
        _set(["services", "collector", "environment"], {"WATERSHED_KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}),
    ),
    "partitions changed": (
        check_topics,
        _set(
            ["services", "kafka-init", "environment", "TOPICS"],
            "user-events:3 transaction-data:3 ad-events:3 events-invalid:1 real-time-metrics:1 alerts:1",
        ),
    ),
    "bucket creation removed": (check_minio, _set(["services", "minio-init", "command"], ["true"])),
    "repo not mounted": (
        check_airflow,
        _set(["services", "airflow-scheduler", "volumes"], ["airflow-logs:/opt/airflow/logs"]),
    ),
    "alert rules not mounted": (
        check_monitoring,
        _set(
            ["services", "prometheus", "volumes"],
            ["./docker/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"],
        ),
    ),
    "exporter on another port": (
        check_monitoring,
        _set(["services", "exporter", "command"], ["watershed", "monitor", "exporter", "--port", "9000"]),
    ),
    "one-shot restarts": (check_restart_policies, _set(["services", "kafka-init", "restart"], "unless-stopped")),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_checks_catch_a_broken_file(mutation: str, compose: dict[str, Any]) -> None:
    check, mutate = MUTATIONS[mutation]
    broken = copy.deepcopy(compose)
    mutate(broken)
    assert check(broken), f"the check did not notice: {mutation}"


def test_secret_check_catches_a_missing_variable() -> None:
    env = env_example()
    del env["POSTGRES_PASSWORD"]
    assert check_secrets(COMPOSE.read_text(encoding="utf-8"), env)


# ---- docker compose config, where a Docker CLI with the compose plugin exists ---------------------


def _compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on PATH: `docker compose config` not run (the YAML checks above still ran)")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()[:1]
        pytest.skip(f"the docker CLI has no compose plugin ({' '.join(reason)}): `docker compose config` not run")
    return [docker, "compose", "--project-directory", str(ROOT), "-f", str(COMPOSE)]


def _clean_env() -> dict[str, str]:
    """The process environment without the variables the compose file reads (they would mask .env)."""
    names = {m.group("name") for m in _VAR.finditer(COMPOSE.read_text(encoding="utf-8"))}
    return {k: v for k, v in os.environ.items() if k not in names}


def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    result = subprocess.run(
        [*command, "--env-file", str(ENV_EXAMPLE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_refuses_missing_secrets(tmp_path: Path) -> None:
    command = _compose_command()
    empty = tmp_path / "empty.env"
    empty.write_text("", encoding="utf-8")
    result = subprocess.run(
        [*command, "--env-file", str(empty), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_clean_env(),
    )
    assert result.returncode != 0
    assert "cp .env.example .env" in result.stderr
