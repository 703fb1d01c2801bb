"""`watershed stack` as a user runs it: a real second stack on its own ports and state folder."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest

from watershed.stack.process import free_port

WATERSHED = str(Path(sys.executable).parent / "watershed")


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WATERSHED, *args], env=env, capture_output=True, text=True, timeout=180)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line or environment mention `text` (zombies have neither)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                environ = (entry / "environ").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in cmdline or text in environ:
                found.append(f"{entry.name}: {cmdline[:120]}")
    return found


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WATERSHED_")}
    return {
        **clean,
        "WATERSHED_STATE_DIR": str(tmp_path / "state"),
        "WATERSHED_KAFKA_PORT": str(free_port(29092)),
        "WATERSHED_KAFKA_CONTROLLER_PORT": str(free_port(29093)),
        "WATERSHED_KAFKA_METRICS_PORT": str(free_port(29404)),
        "WATERSHED_S3_PORT": str(free_port(29000)),
        "WATERSHED_REDIS_PORT": str(free_port(26379)),
        "WATERSHED_POSTGRES_PORT": str(free_port(25433)),
        "WATERSHED_PROMETHEUS_PORT": str(free_port(29190)),
        "WATERSHED_PUSHGATEWAY_PORT": str(free_port(29191)),
        "WATERSHED_ALERTMANAGER_PORT": str(free_port(29195)),
        "WATERSHED_EXPORTER_PORT": str(free_port(29108)),
        "WATERSHED_STATSD_PORT": str(free_port(29125)),
        "WATERSHED_STATSD_EXPORTER_PORT": str(free_port(29102)),
    }


def test_up_twice_status_down_leaves_nothing_behind(env: dict[str, str]) -> None:
    names = ("KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "S3_PORT", "REDIS_PORT")
    ports = [int(env[f"WATERSHED_{name}"]) for name in names]
    state = env["WATERSHED_STATE_DIR"]
    try:
        first = run(env, "stack", "up")
        assert first.returncode == 0, first.stderr
        assert [line.split(":")[0] for line in first.stdout.splitlines()] == ["kafka", "s3", "redis"]
        assert all(": started (pid " in line for line in first.stdout.splitlines())
        assert all(listening(p) for p in ports)

        second = run(env, "stack", "up")  # harmless: nothing restarted
        assert second.returncode == 0, second.stderr
        assert [line.split(" (pid ")[0] for line in second.stdout.splitlines()] == [
            "kafka: already running",
            "s3: already running",
            "redis: already running",
        ]
        pids = [line.split("(pid ")[1].split(")")[0] for line in first.stdout.splitlines()]
        assert pids == [line.split("(pid ")[1].split(")")[0] for line in second.stdout.splitlines()]

        status = run(env, "stack", "status")
        assert status.returncode == 0
        kafka_line, s3_line, redis_line = status.stdout.splitlines()
        assert kafka_line.split()[:2] == ["kafka", "running"]
        assert kafka_line.endswith(
            "topics user-events:3 transaction-data:6 ad-events:3 events-invalid:1 real-time-metrics:1 alerts:1"
        )
        assert s3_line.split()[:2] == ["s3", "running"] and s3_line.endswith("bucket watershed")
        assert redis_line.split()[:2] == ["redis", "running"] and redis_line.endswith("0 keys, appendonly yes")
        assert processes_mentioning(state)
    finally:
        down = run(env, "stack", "down")
    assert down.returncode == 0, down.stderr
    assert [line.split(" (pid ")[0] for line in down.stdout.splitlines()] == [
        "airflow: not running",
        "ad-apis: not running",
        "spark-worker-2: not running",
        "spark-worker-1: not running",
        "spark-master: not running",
        "prometheus: not running",
        "statsd: not running",
        "exporter: not running",
        "alertmanager: not running",
        "pushgateway: not running",
        "postgres: not running",
        "redis: stopped",
        "s3: stopped",
        "kafka: stopped",
    ]
    assert [p for p in ports if listening(p)] == []
    assert processes_mentioning(state) == []
    stopped = run(env, "stack", "status")
    assert stopped.returncode == 1
    assert [line.split()[:2] for line in stopped.stdout.splitlines()] == [
        ["kafka", "stopped"],
        ["s3", "stopped"],
        ["redis", "stopped"],
    ]
    assert run(env, "stack", "down").stdout.splitlines() == [
        "airflow: not running",
        "ad-apis: not running",
        "spark-worker-2: not running",
        "spark-worker-1: not running",
        "spark-master: not running",
        "prometheus: not running",
        "statsd: not running",
        "exporter: not running",
        "alertmanager: not running",
        "pushgateway: not running",
        "postgres: not running",
        "redis: not running",
        "s3: not running",
        "kafka: not running",
    ]


def test_airflow_starts_healthy_and_stops_completely(env: dict[str, str]) -> None:
    import httpx

    port = free_port(28080)
    env = {**env, "WATERSHED_AIRFLOW_PORT": str(port), "WATERSHED_AIRFLOW_LOG_SERVER_PORT": str(free_port(28793))}
    try:
        started = run(env, "stack", "up", "airflow")
        assert started.returncode == 0, started.stderr
        health = httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5).json()
        assert {k: v["status"] for k, v in health.items()} == {
            "metadatabase": "healthy",
            "scheduler": "healthy",
            "triggerer": "healthy",
            "dag_processor": "healthy",
        }
        # the UI's login takes the configured admin password
        token = httpx.post(
            f"http://127.0.0.1:{port}/auth/token", json={"username": "admin", "password": "admin"}, timeout=5
        )
        assert token.status_code == 201 and token.json()["access_token"]
        assert started.stdout.splitlines()[0].startswith("postgres: started (pid ")  # Airflow's database first

        # the airflow CLI run by hand, with `eval "$(watershed stack env airflow)"`, writes the
        # same metadata database as the scheduler and the UI
        exports = run(env, "stack", "env", "airflow").stdout
        client = {**env, **dict(shlex.split(line)[1].split("=", 1) for line in exports.splitlines())}
        assert client["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://watershed:")
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        dag_url = f"http://127.0.0.1:{port}/api/v2/dags/ad_campaign_daily"
        deadline = time.monotonic() + 120
        while httpx.get(dag_url, headers=auth, timeout=5).status_code == 404:  # until the dag-processor parsed it
            assert time.monotonic() < deadline, "ad_campaign_daily was not parsed within 120 s"
            time.sleep(1)
        unpaused = subprocess.run(
            ["airflow", "dags", "unpause", "ad_campaign_daily"], env=client, capture_output=True, text=True, timeout=120
        )
        assert unpaused.returncode == 0, unpaused.stderr[-2000:]
        dag = httpx.get(dag_url, headers=auth, timeout=5).json()
        assert dag["is_paused"] is False
    finally:
        stopped = run(env, "stack", "down", "airflow")
    assert stopped.stdout.splitlines()[0].startswith("airflow: stopped (pid ")
    assert stopped.stdout.splitlines()[1].startswith("postgres: stopped (pid ")
    assert not listening(port)
    assert processes_mentioning(env["WATERSHED_STATE_DIR"]) == []


def test_the_ad_api_fakes_serve_the_extractors_with_no_configuration(env: dict[str, str]) -> None:
    import pyarrow.parquet as pq

    from watershed.contract import AdPlatformDailyRow

    env = {k: v for k, v in env.items() if k != "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"}
    env |= {
        "WATERSHED_AD_APIS_META_PORT": str(free_port(28701)),
        "WATERSHED_AD_APIS_GOOGLE_PORT": str(free_port(28702)),
    }
    state = Path(env["WATERSHED_STATE_DIR"])
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date()
    try:
        started = run(env, "stack", "up", "ad-apis")
        assert started.returncode == 0, started.stderr
        status = run(env, "stack", "status", "ad-apis").stdout
        assert status.split()[:2] == ["ad-apis", "running"]
        assert status.rstrip().endswith(
            f"30 simulated days up to yesterday; WATERSHED_ADS_* in {state}/ad-apis/fake.env"
        )

        # no WATERSHED_ADS_* and no gRPC roots variable: the stack's file configures both platforms
        extracted = run(env, "ads", "extract", "--date", yesterday.isoformat(), "--lookback-days", "3")
        assert extracted.returncode == 0, extracted.stderr
        summary = json.loads(extracted.stdout)
        assert {p: (s["days"], s["account_days_written"]) for p, s in summary.items()} == {
            p: ([(yesterday - timedelta(days=2)).isoformat(), yesterday.isoformat()], 3)
            for p in ("google_ads", "facebook_ads")
        }
        world = state / "ad-apis" / "world" / "ad_platform"
        window = {(yesterday - timedelta(days=n)).isoformat() for n in range(3)}
        served = sorted(
            AdPlatformDailyRow.model_validate(r).model_dump_json()
            for path in world.glob("*/date=*/rows.parquet")
            if path.parent.name.removeprefix("date=") in window
            for r in pq.read_table(path).to_pylist()
        )
        silver = sorted(
            AdPlatformDailyRow.model_validate(r).model_dump_json()
            for path in (state / "lake" / "silver" / "ad_platform").glob("dt=*/*.parquet")
            for r in pq.read_table(path).to_pylist()
        )
        assert len(served) > 6 and silver == served
    finally:
        stopped = run(env, "stack", "down", "ad-apis")
    assert stopped.stdout.startswith("ad-apis: stopped (pid ")
    assert not (state / "ad-apis" / "fake.env").exists()  # nothing points at the stopped fakes
    after = json.loads(run(env, "ads", "extract", "--date", yesterday.isoformat()).stdout)
    assert after["google_ads"] == {"platform": "google_ads", "skipped": "no WATERSHED_ADS_GOOGLE_CUSTOMER_IDS"}


def connect_postgres(port: int, password: str, database: str = "airflow"):  # type: ignore[no-untyped-def]
    return psycopg2.connect(
        host="127.0.0.1", port=port, user="watershed", password=password, dbname=database, connect_timeout=5
    )


def test_postgres_keeps_its_data_across_a_restart_and_wants_the_generated_password(env: dict[str, str]) -> None:
    port = int(env["WATERSHED_POSTGRES_PORT"])
    state = Path(env["WATERSHED_STATE_DIR"])
    try:
        started = run(env, "stack", "up", "postgres")
        assert started.returncode == 0, started.stderr
        assert re.fullmatch(
            rf"postgres: started \(pid \d+\) at postgresql://watershed@127\.0\.0\.1:{port} in [\d.]+s\n", started.stdout
        )
        status = run(env, "stack", "status", "postgres").stdout.split()
        assert status[:2] == ["postgres", "running"]
        assert re.fullmatch(r"PostgreSQL 1\d\.\d+, databases airflow", " ".join(status[5:]))

        password_file = state / "postgres" / "password"
        assert password_file.stat().st_mode & 0o777 == 0o600
        password = password_file.read_text()
        assert len(password) == 24
        with pytest.raises(psycopg2.OperationalError, match='password authentication failed for user "watershed"'):
            connect_postgres(port, "wrong")
        conn = connect_postgres(port, password)
        with conn, conn.cursor() as cur:
            cur.execute("create table kept (x int); insert into kept values (7)")
        conn.close()

        assert run(env, "stack", "down", "postgres").stdout.startswith("postgres: stopped (pid ")
        assert not listening(port)
        assert run(env, "stack", "up", "postgres").returncode == 0
        conn = connect_postgres(port, password)
        with conn, conn.cursor() as cur:
            cur.execute("select x from kept")
            assert cur.fetchall() == [(7,)]
        conn.close()
        # root's data stays root's: the user namespace maps it, nothing is chowned
        assert (state / "postgres" / "data" / "PG_VERSION").stat().st_uid == os.geteuid()
    finally:
        run(env, "stack", "down", "postgres")
    assert not listening(port)
    assert processes_mentioning(str(state)) == []


def test_port_taken_is_one_clear_line(env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = run({**env, "WATERSHED_KAFKA_PORT": str(port)}, "stack", "up", "kafka")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: port {port} (kafka broker) is already in use by another process: "
        "stop it or set WATERSHED_KAFKA_PORT to a free port\n"
    )


def test_redis_keeps_the_counters_across_its_restart(env: dict[str, str]) -> None:
    # the append-only file is on: counters and applied batch ids survive `down` + `up`, so they
    # stay in step with the Spark checkpoints that decide which batches were applied
    import redis

    port = int(env["WATERSHED_REDIS_PORT"])
    try:
        assert run(env, "stack", "up", "redis").returncode == 0
        client = redis.Redis(port=port, decode_responses=True)
        client.hincrby("{k}:campaign:c1", "impressions", 41)
        client.hset("{k}:batches", "ad_counters", 7)
        client.close()
        assert run(env, "stack", "down", "redis").stdout.startswith("redis: stopped (pid ")
        assert not listening(port)
        assert run(env, "stack", "up", "redis").returncode == 0
        client = redis.Redis(port=port, decode_responses=True)
        assert client.hgetall("{k}:campaign:c1") == {"impressions": "41"}
        assert client.hgetall("{k}:batches") == {"ad_counters": "7"}
        client.close()
    finally:
        run(env, "stack", "down", "redis")
    assert processes_mentioning(env["WATERSHED_STATE_DIR"]) == []


def test_redis_missing_is_one_clear_line(env: dict[str, str]) -> None:
    result = run({**env, "PATH": "/nonexistent"}, "stack", "up", "redis")
    assert result.returncode == 2
    assert result.stderr == (
        "error: redis-server is missing (the live ad counters need it): run `make setup` as root, "
        "or install Debian's package: apt-get install redis-server\n"
    )


def test_java_missing_is_one_clear_line(env: dict[str, str]) -> None:
    bare = {k: v for k, v in env.items() if k != "JAVA_HOME"} | {"PATH": "/nonexistent"}
    result = run(bare, "stack", "up", "kafka")
    assert result.returncode == 2
    assert result.stderr == (
        "error: Java 17+ is required (Kafka and Spark run on the JVM) but no `java` was found: install OpenJDK 17 "
        "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME\n"
    )


def test_old_java_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    # a Java 11 stand-in: this machine has only Java 17, and the check is what is under test
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake.chmod(0o755)
    old = {k: v for k, v in env.items() if k != "JAVA_HOME"} | {"PATH": str(bin_dir)}
    result = run(old, "stack", "up", "kafka")
    assert result.returncode == 2
    assert result.stderr == (
        f"error: Java 17+ is required but {fake} is Java 11: install OpenJDK 17 or point JAVA_HOME at a newer JDK\n"
    )


@pytest.mark.parametrize(
    ("extra", "args", "stderr"),
    [
        ({"WATERSHED_ENV": "staging"}, ["stack", "up"],
         "error: WATERSHED_ENV must be 'local' or 'prod' (got 'staging')\n"),
        (
            {"WATERSHED_ENV": "prod", "WATERSHED_LAKE_URI": "s3a://b/p", "WATERSHED_KAFKA_BOOTSTRAP_SERVERS": "k:9092",
             "WATERSHED_SPARK_MASTER": "spark://m:7077", "WATERSHED_SNOWFLAKE_ACCOUNT": "a",
             "WATERSHED_SNOWFLAKE_USER": "u", "WATERSHED_SNOWFLAKE_PASSWORD": "real-password-1"},
            ["config", "show"],
            "error: WATERSHED_PII_HASH_KEY is required when WATERSHED_ENV=prod "
            "(the HMAC key that pseudonymises email, phone and IP)\n",
        ),
        ({"WATERSHED_S3_PORT": "http"}, ["stack", "status"],
         "error: WATERSHED_S3_PORT: Input should be a valid integer, "
         "unable to parse string as an integer (got 'http')\n"),
    ],
)  # fmt: skip
def test_bad_configuration_is_one_clear_line(env, extra, args, stderr) -> None:  # type: ignore[no-untyped-def]
    result = run({**env, **extra}, *args)
    assert result.returncode == 2
    assert result.stderr == stderr
    assert "Traceback" not in result.stdout + result.stderr
