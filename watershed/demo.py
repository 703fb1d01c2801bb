"""`watershed demo`: the platform's main job on the local default, narrated.

1. the local stack (Kafka, MinIO) comes up;
2. the collector serves on loopback and one simulated day of shop traffic is posted to it;
3. the `ecommerce_daily` DAG runs for that day (`airflow dags test`: land, checkpoints, Spark
   jobs, warehouse load, dbt, ledger, metrics);
4. the `ad_campaign_daily` DAG runs for that day, extracting the simulated ad platforms' report
   through the real client from the local fake of the platform's API (simulator/fakes);
5. a summary: events accepted and rejected by reason, sessions, revenue, conversion rate, ad
   spend, CTR and ROAS, quality results, and where the lake, the warehouse and the Data Docs are.

`watershed demo --kafka-only` keeps the first, smallest proof: events through Kafka and back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from watershed.envfile import read_env_file
from watershed.errors import WatershedError
from watershed.paths import dags_dir
from watershed.settings import Settings, load_settings

BIN = Path(sys.executable).parent

# (topic, event_type) of a small, plausible visit: browse, cart, buy, and the ad that brought it
_VISIT = [
    ("ad-events", "impression"),
    ("ad-events", "click"),
    ("user-events", "page_view"),
    ("user-events", "product_view"),
    ("user-events", "add_to_cart"),
    ("user-events", "begin_checkout"),
    ("transaction-data", "purchase"),
    ("ad-events", "conversion"),
]


def sample_events(users: int, start: datetime) -> list[tuple[str, dict]]:
    """One visit per user; deterministic ids so reruns are comparable."""
    events = []
    for u in range(users):
        user = f"demo-user-{u + 1}"
        for step, (topic, event_type) in enumerate(_VISIT):
            events.append(
                (
                    topic,
                    {
                        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"watershed-demo/{user}/{step}")),
                        "event_type": event_type,
                        "user_id": user,
                        "occurred_at": (start + timedelta(minutes=5 * u, seconds=20 * step)).isoformat(),
                        **({"revenue": 42.5 + u, "currency": "USD"} if event_type == "purchase" else {}),
                    },
                )
            )
    return events


def kafka_round_trip(settings: Settings, users: int) -> bool:
    """Produce a few events with acks=all, consume them back from the acknowledged offsets."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    events = sample_events(users, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    click.echo(f"Kafka at {settings.kafka_bootstrap}; producing {len(events)} events with acks=all ...")
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        key_serializer=str.encode,
        value_serializer=lambda v: json.dumps(v, sort_keys=True).encode(),
    )
    acked = [producer.send(t, key=e["user_id"], value=e).get(timeout=30) for t, e in events]
    producer.close()

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
        value_deserializer=json.loads,
    )
    wanted = {(m.topic, m.partition, m.offset) for m in acked}
    parts = sorted({(m.topic, m.partition) for m in acked})
    consumer.assign([TopicPartition(t, p) for t, p in parts])
    for t, p in parts:
        consumer.seek(TopicPartition(t, p), min(m.offset for m in acked if (m.topic, m.partition) == (t, p)))
    received = []
    for record in consumer:
        if (record.topic, record.partition, record.offset) in wanted:
            received.append(record)
        if len(received) == len(wanted):
            break
    consumer.close()

    produced_by = Counter(t for t, _ in events)
    consumed_by = Counter(r.topic for r in received)
    click.echo(f"\n{'topic':<18}{'produced':>10}{'consumed':>10}  partitions")
    for topic in sorted(produced_by):
        partitions = sorted({m.partition for m in acked if m.topic == topic})
        click.echo(f"{topic:<18}{produced_by[topic]:>10}{consumed_by[topic]:>10}  {partitions}")
    same = sorted(json.dumps(r.value, sort_keys=True) for r in received) == sorted(
        json.dumps(e, sort_keys=True) for _, e in events
    )
    click.echo(f"\nconsumed back {len(received)}/{len(events)} events, identical to what was sent: {same}")
    return same


def _run(argv: list[str], env: dict[str, str], log: Path, what: str) -> None:
    click.echo(f"==> {what}")
    with open(log, "ab") as out:
        result = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise WatershedError(f"{what} failed (exit {result.returncode}); see {log}")


def _metrics(url: str) -> dict[str, dict[str, float]]:
    """Collector counters by label value, from its Prometheus text."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, dict[str, float]] = {"accepted": {}, "rejected": {}}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5).text):
        for sample in family.samples:
            if sample.name == "watershed_collector_events_accepted_total":
                found["accepted"][sample.labels["topic"]] = sample.value
            elif sample.name == "watershed_collector_events_rejected_total" and sample.value:
                found["rejected"][sample.labels["reason"]] = sample.value
    return found


def _marts(settings: Settings, day: date) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        schema = dict(
            con.execute(
                "select table_name, table_schema from information_schema.tables where table_schema like '%marts'"
            ).fetchall()
        )

        def one(sql: str) -> tuple[Any, ...]:
            row = con.execute(sql, [day]).fetchone()
            assert row is not None  # an aggregate without GROUP BY returns one row
            return row

        # schema names come from the warehouse's own catalog; the day is a bound parameter.
        # The figures are the glossary's (docs/metrics.md): conversion_rate is sessions with a
        # purchase / sessions, bots excluded; revenue is gross and per currency.
        funnel = f'"{schema["conversion_funnel"]}".conversion_funnel'
        sessions = con.execute(
            f"select is_bot, sum(sessions), sum(purchase_sessions) from {funnel} where funnel_date = ? group by 1",  # noqa: S608
            [day],
        ).fetchall()
        revenue_table = f'"{schema["daily_revenue"]}".daily_revenue'
        revenue = con.execute(
            f"select currency, sum(revenue), sum(orders) from {revenue_table} "  # noqa: S608
            "where revenue_date = ? and currency is not null group by 1 order by 1",
            [day],
        ).fetchall()
    finally:
        con.close()
    by_bot = {bool(is_bot): (int(n), int(bought)) for is_bot, n, bought in sessions}
    humans, converted = by_bot.get(False, (0, 0))
    return {
        "sessions": humans + by_bot.get(True, (0, 0))[0],
        "bot_sessions": by_bot.get(True, (0, 0))[0],
        "human_sessions": humans,
        "conversion_rate": converted / humans if humans else None,
        "revenue": [(currency, amount, int(orders)) for currency, amount, orders in revenue],
        "orders": sum(int(orders) for _, _, orders in revenue),
    }


def full_demo(settings: Settings, day: date, events: int) -> None:
    from watershed.stack import Stack
    from watershed.stack.process import free_port, spawn, terminate

    demo_dir = settings.state_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    log = demo_dir / "demo.log"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # Airflow runs each task's command in a temporary directory: pin the working directory's
        # defaults, or the tasks would each look for the lake and the warehouse there
        "WATERSHED_STATE_DIR": str(settings.state_dir.resolve()),
        "WATERSHED_CACHE_DIR": str(settings.cache_dir.resolve()),
    }
    started = time.monotonic()

    Stack(settings).up(echo=click.echo)

    port = free_port(8000)
    url = f"http://127.0.0.1:{port}"
    click.echo(f"==> collector at {url}")
    collector = spawn(
        [str(BIN / "watershed"), "collector", "serve", "--port", str(port)], log=demo_dir / "collector.log", env=env
    )
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise WatershedError(f"the collector did not become ready; see {demo_dir / 'collector.log'}")
            time.sleep(0.5)
        _run(
            [str(BIN / "watershed"), "generate", "--out", str(demo_dir / "generated"), "--days", "1",
             "--start-date", day.isoformat(), "--events", str(events), "--seed", "1", "--sink", "http",
             "--collector-url", url, "--no-progress", "--duplicate-rate", "0.01", "--malformed-rate", "0.005"],
            env, log, f"one simulated day ({day}, about {events:,} events) posted to the collector",
        )  # fmt: skip
        counters = _metrics(url)
    finally:
        terminate(collector)

    airflow_env = {
        **env,
        # the demo replays a whole day after the fact, so every event arrives "late" by the bronze
        # gate's arrival clock; the gate keeps checking everything else
        "WATERSHED_QUALITY_MAX_LATE_SHARE": "1.0",
        "AIRFLOW_HOME": str(settings.state_dir / "airflow-demo"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_dir()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": settings.spark_master_url}),
    }
    _run([str(BIN / "airflow"), "db", "migrate"], airflow_env, log, "Airflow metadata database")
    _run(
        [str(BIN / "airflow"), "dags", "test", "ecommerce_daily", day.isoformat()],
        airflow_env, log, f"the ecommerce_daily DAG for {day} (land, check, sessionize, load, dbt, check)",
    )  # fmt: skip

    ads = _ad_day(settings, day, demo_dir / "generated", airflow_env, log)

    print_summary(settings, day, counters, time.monotonic() - started, log, ads)


PLATFORM_NAMES = {"google_ads": "Google", "facebook_ads": "Meta"}


def _wait_for_file(path: Path, pid: int, log: Path, seconds: float = 60) -> None:
    from watershed.stack.process import is_alive

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return
        if not is_alive(pid):
            raise WatershedError(f"the fake ad APIs exited; see {log}")
        time.sleep(0.2)
    raise WatershedError(f"the fake ad APIs did not start within {seconds:g} s; see {log}")


def _ad_day(settings: Settings, day: date, generated: Path, airflow_env: dict[str, str], log: Path) -> dict[str, Any]:
    """Serve the generated day's ad rows from the fake Google Ads and Meta APIs (`watershed
    fake-ad-api`) and run ad_campaign_daily against them; return the day's spend, CTR and ROAS
    per platform and currency from the ad marts."""
    from watershed.stack.process import spawn, terminate

    env_file, fake_log = log.parent / "fake-ad-api.env", log.parent / "fake-ad-api.log"
    env_file.unlink(missing_ok=True)
    fake = spawn(
        [str(BIN / "watershed"), "fake-ad-api", "--generated", str(generated), "--env-file", str(env_file)],
        log=fake_log,
        env=airflow_env,
    )
    try:
        _wait_for_file(env_file, fake, fake_log)
        env = {
            **airflow_env,
            **read_env_file(env_file),
            # the demo simulates one day
            "WATERSHED_ADS_META_LOOKBACK_DAYS": "1",
            "WATERSHED_ADS_GOOGLE_LOOKBACK_DAYS": "1",
        }
        airflow = str(BIN / "airflow")
        _run([airflow, "pools", "set", "ad_platform_api", "2", "ad platform API calls"], env, log, "the API pool")
        _run(
            [airflow, "dags", "test", "ad_campaign_daily", day.isoformat()],
            env, log, f"the ad_campaign_daily DAG for {day} (extract from the fake APIs, check, load, dbt)",
        )  # fmt: skip
    finally:
        terminate(fake)
    import duckdb

    with duckdb.connect(str(settings.duckdb_file), read_only=True) as con:
        found = con.execute(
            "select r.platform, r.currency, sum(r.spend), sum(r.impressions), sum(r.clicks),"
            " sum(r.conversions_value), any_value(s.shop_revenue) "
            "from marts.ad_reporting__campaign_report r left join ("
            "  select platform, currency, sum(shop_revenue) as shop_revenue from marts.campaign_roas_daily"
            "  where date_day = ? group by 1, 2"
            ") s using (platform, currency) "
            "where r.date_day = ? group by 1, 2 order by 1, 2",
            [day, day],
        ).fetchall()
    return {
        f"{platform} {currency}": {
            "platform": platform,
            "currency": currency,
            "spend": float(spend),
            "ctr": clicks / impressions if impressions else None,
            "reported_roas": float(value) / float(spend) if spend else None,
            "shop_roas": float(shop or 0) / float(spend) if spend else None,
        }
        for platform, currency, spend, impressions, clicks, value, shop in found
    }


def print_summary(
    settings: Settings,
    day: date,
    counters: dict[str, dict[str, float]],
    seconds: float,
    log: Path,
    ads: dict[str, Any] | None = None,
) -> None:
    marts = _marts(settings, day)
    quality_dir = settings.state_dir / "quality"
    results = {}
    for checkpoint in ("bronze", "silver", "marts", "ledger", "ads", "ad_marts"):
        path = quality_dir / "results" / checkpoint / f"dt={day}.json"
        if path.exists():
            data = json.loads(path.read_text())
            results[checkpoint] = f"{'passed' if data.get('success') else 'FAILED'} (score {data.get('score', 0):.3f})"
    accepted = int(sum(counters["accepted"].values()))
    rejected = int(sum(counters["rejected"].values()))
    click.echo(f"\nWatershed demo for {day}, {seconds:.0f} s")
    by_topic = ", ".join(f"{t} {int(n):,}" for t, n in sorted(counters["accepted"].items()))
    click.echo(f"  collector: {accepted:,} events accepted ({by_topic})")
    click.echo(
        f"             {rejected:,} rejected"
        + (": " + ", ".join(f"{r} {int(n)}" for r, n in sorted(counters["rejected"].items())) if rejected else "")
    )
    revenue = ", ".join(f"{amount:,.2f} {currency}" for currency, amount, _ in marts["revenue"]) or "none"
    click.echo(
        f"  sessions: {marts['sessions']:,} ({marts['bot_sessions']:,} by bots)   orders: {marts['orders']:,}"
        f"   revenue: {revenue}"
    )
    if marts["conversion_rate"] is not None:
        click.echo(
            f"  conversion rate (sessions with a purchase / sessions, bots excluded): {marts['conversion_rate']:.2%}"
        )
    for figures in (ads or {}).values():
        ctr = "n/a" if figures["ctr"] is None else f"{figures['ctr']:.2%}"
        roas = " / ".join("n/a" if figures[k] is None else f"{figures[k]:.2f}" for k in ("reported_roas", "shop_roas"))
        click.echo(
            f"  ads ({PLATFORM_NAMES.get(figures['platform'], figures['platform'])}): "
            f"spend {figures['spend']:,.2f} {figures['currency']}   CTR {ctr}   "
            f"ROAS {roas} (platform / shop's orders)"
        )
    for checkpoint, verdict in results.items():
        click.echo(f"  quality {checkpoint}: {verdict}")
    click.echo(f"  lake: {settings.lake}\n  warehouse: {settings.duckdb_file}")
    click.echo(f"  Data Docs: {quality_dir}\n  logs: {log}, {settings.state_dir / 'logs'}")  # fmt: skip


def demo_day(requested: str | None, today: date) -> date:
    """The day to simulate: `requested` (YYYY-MM-DD), else yesterday. The traffic is posted to a
    live collector, which refuses events older than the contract's MAX_EVENT_AGE or from the
    future, so the day must be over and within that age."""
    from watershed.contract.fields import MAX_EVENT_AGE

    day = date.fromisoformat(requested) if requested else today - timedelta(days=1)
    first, last = today - MAX_EVENT_AGE + timedelta(days=1), today - timedelta(days=1)
    if not first <= day <= last:
        raise WatershedError(
            f"--date {day}: the collector accepts events at most {MAX_EVENT_AGE.days} days old and none from the "
            f"future, so the simulated day must be from {first} to {last} (the default is yesterday, {last})"
        )
    return day


@click.command()
@click.option("--date", "day", help="The simulated day (UTC), within the last 6 days.  [default: yesterday]")
@click.option("--events", default=20_000, show_default=True, help="About this many events for the day.")
@click.option("--kafka-only", is_flag=True, help="Only produce a few events through Kafka and read them back.")
@click.option("--users", default=3, show_default=True, help="With --kafka-only: simulated visitors (8 events each).")
def demo(day: str | None, events: int, kafka_only: bool, users: int) -> None:
    """Run the platform's main job on the local default and print what happened."""
    settings = load_settings()
    if kafka_only:
        if not kafka_round_trip(settings, users):
            raise SystemExit(1)
        return
    full_demo(settings, demo_day(day, datetime.now(UTC).date()), events)
