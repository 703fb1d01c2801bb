"""The ad counter store against the test session's real redis-server: a batch applied twice counts
once, a reader running beside the writer only ever sees whole batches, and `watershed ad-counters`
prints the exact figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from spark_jobs.streaming import counters
from watershed.stack.process import free_port

WATERSHED = str(Path(sys.executable).parent / "watershed")


@pytest.fixture
def key() -> str:
    return f"test:{uuid.uuid4().hex[:8]}:ad_counters"


def delta(
    campaign: str, impressions: int, clicks: int, conversions: int, cost: str, revenue: str, day: str = "2026-11-20"
) -> dict:
    return {
        "campaign_id": campaign,
        "day": day,
        "impressions": impressions,
        "clicks": clicks,
        "conversions": conversions,
        "cost": Decimal(cost),
        "revenue": Decimal(revenue),
    }


def test_a_batch_applied_twice_counts_once(redis_client, key):
    first = [delta("c1", 100, 4, 1, "0.5", "20.00"), delta("c2", 3, 0, 0, "0.000003", "0")]
    assert counters.apply(redis_client, key, "ad_counters", 0, first, "t0") is True
    # the same batch replayed (after a kill -9 between the store's write and Spark's commit)
    assert counters.apply(redis_client, key, "ad_counters", 0, first, "t1") is False
    assert counters.apply(redis_client, key, "ad_counters", 1, [delta("c1", 100, 4, 1, "0.5", "5.00")], "t2") is True
    assert counters.apply(redis_client, key, "ad_counters", 0, first, "t3") is False  # older: skipped too
    assert counters.applied_batch(redis_client, key, "ad_counters") == 1
    assert counters.applied_batch(redis_client, key, "other_query") is None

    assert counters.read(redis_client, key) == [
        {
            "campaign_id": "c1",
            "impressions": 200,
            "clicks": 8,
            "conversions": 2,
            "ctr": 0.04,
            "cost": "1.000000",
            "revenue": "25.00",
            "roas": 25.0,
            "updated_at": "t2",
        },
        {
            "campaign_id": "c2",
            "impressions": 3,
            "clicks": 0,
            "conversions": 0,
            "ctr": 0.0,
            "cost": "0.000003",
            "revenue": "0.00",
            "roas": 0.0,
            "updated_at": "t0",
        },
    ]
    assert [r["campaign_id"] for r in counters.read(redis_client, key, "c2")] == ["c2"]
    assert counters.read(redis_client, key, "missing") == []
    assert counters.read(redis_client, f"{key}:other") == []
    # what Redis holds: integers (micros, cents) per campaign hash, the batch id per query
    assert redis_client.hgetall(f"{{{key}}}:campaign:c1") == {
        "impressions": "200",
        "clicks": "8",
        "conversions": "2",
        "cost_micros": "1000000",
        "revenue_cents": "2500",
        "updated_at": "t2",
    }
    assert redis_client.hgetall(f"{{{key}}}:batches") == {"ad_counters": "1"}


def test_each_day_has_its_own_counters_that_expire(redis_client, key):
    batch = [
        delta("c1", 10, 1, 0, "0.1", "0", day="2026-11-20"),
        delta("c1", 5, 0, 1, "0.05", "12.50", day="2026-11-21"),
        delta("c2", 7, 2, 0, "0.07", "0", day="2026-11-21"),
    ]
    assert counters.apply(redis_client, key, "ad_counters", 0, batch, "t0")
    assert counters.apply(
        redis_client, key, "ad_counters", 1, [delta("c1", 1, 0, 0, "0.01", "0", day="2026-11-21")], "t1"
    )

    assert counters.days(redis_client, key) == ["2026-11-20", "2026-11-21"]
    by_day = {
        day: {
            r["campaign_id"]: (r["impressions"], r["clicks"], r["conversions"], r["cost"], r["revenue"])
            for r in counters.read(redis_client, key, day=day)
        }
        for day in ("2026-11-20", "2026-11-21", "2026-11-22")
    }
    assert by_day == {
        "2026-11-20": {"c1": (10, 1, 0, "0.100000", "0.00")},
        "2026-11-21": {"c1": (6, 0, 1, "0.060000", "12.50"), "c2": (7, 2, 0, "0.070000", "0.00")},
        "2026-11-22": {},
    }
    # the totals are the sum over the days
    assert [(r["campaign_id"], r["impressions"], r["cost"]) for r in counters.read(redis_client, key)] == [
        ("c1", 16, "0.160000"),
        ("c2", 7, "0.070000"),
    ]
    assert [r["campaign_id"] for r in counters.read(redis_client, key, "c2", day="2026-11-20")] == []
    for name in (f"{{{key}}}:day:2026-11-21:campaign:c1", f"{{{key}}}:day:2026-11-21:campaigns"):
        assert 0 < redis_client.ttl(name) <= counters.DAY_TTL_SECONDS
    assert redis_client.ttl(f"{{{key}}}:campaign:c1") == -1  # totals do not expire


def test_a_reader_beside_the_writer_sees_only_whole_batches(stack_settings, redis_client, key):
    batches = 300
    campaigns = [f"c{i}" for i in range(5)]
    writer_client = counters.connect(stack_settings)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for batch in range(batches):
                rows = [delta(c, 1, batch % 2, 0, "0.010000", "1.50") for c in campaigns]
                assert counters.apply(writer_client, key, "ad_counters", batch, rows, f"t{batch}")
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    snapshots = []
    while writer.is_alive():
        snapshots.append(counters.read(redis_client, key))
    writer.join()
    writer_client.close()
    assert errors == []
    snapshots.append(counters.read(redis_client, key))

    seen = []
    for rows in snapshots:
        if not rows:
            continue
        # one batch touches every campaign: in any snapshot they all stand at the same batch
        assert len(rows) == len(campaigns)
        assert len({(r["impressions"], r["clicks"], r["cost"], r["revenue"], r["updated_at"]) for r in rows}) == 1
        n = rows[0]["impressions"]
        assert rows[0]["clicks"] == n // 2 and rows[0]["updated_at"] == f"t{n - 1}"
        seen.append(n)
    assert seen == sorted(seen)  # never goes back
    assert len(set(seen)) > 1  # the reader did read while the writer wrote
    assert snapshots[-1] == [
        {
            "campaign_id": c,
            "impressions": 300,
            "clicks": 150,
            "conversions": 0,
            "ctr": 0.5,
            "cost": "3.000000",
            "revenue": "450.00",
            "roas": 150.0,
            "updated_at": "t299",
        }
        for c in campaigns
    ]


def test_the_cli_prints_the_counters(redis_client, key):
    counters.apply(
        redis_client,
        key,
        "ad_counters",
        0,
        [delta("summer-sale", 1200, 36, 3, "12.000000", "150.00"), delta("brand", 50, 0, 0, "0", "0")],
        "2026-11-22T02:00:00.000Z",
    )
    counters.apply(
        redis_client,
        key,
        "ad_counters",
        1,
        [delta("summer-sale", 800, 14, 1, "8.000000", "49.99", day="2026-11-21")],
        "2026-11-22T02:00:10.000Z",
    )
    counters.apply(redis_client, key, "ad_counters", 1, [delta("summer-sale", 1, 1, 1, "1", "1")], "replayed")

    def cli(*args: str) -> list[str]:
        # the environment is the test stack's (WATERSHED_REDIS_PORT of the session's redis-server)
        result = subprocess.run(
            [WATERSHED, "ad-counters", "--counters-key", key, *args], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert cli() == [
        "campaign                      impr   clicks   conv     ctr      revenue    roas",
        "brand                           50        0      0   0.00%         0.00       -",
        "summer-sale                   2000       50      4   2.50%       199.99   10.00",
    ]
    assert [json.loads(line) for line in cli("--campaign", "summer-sale", "--json")] == [
        {
            "campaign_id": "summer-sale",
            "impressions": 2000,
            "clicks": 50,
            "conversions": 4,
            "ctr": 0.025,
            "cost": "20.000000",
            "revenue": "199.99",
            "roas": 9.9995,
            "updated_at": "2026-11-22T02:00:10.000Z",
        }
    ]
    assert cli("--date", "2026-11-21") == [
        "campaign                      impr   clicks   conv     ctr      revenue    roas",
        "summer-sale                    800       14      1   1.75%        49.99    6.25",
    ]
    assert cli("--counters-key", f"{key}:empty") == ["no ad counters yet (is `watershed stream run` running?)"]


def test_the_cli_names_an_unreachable_store():
    port = free_port()  # nobody listens there
    env = {**os.environ, "WATERSHED_REDIS_PORT": str(port)}
    result = subprocess.run([WATERSHED, "ad-counters"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: the ad counter store (Redis at 127.0.0.1:{port}) is not reachable: ")
    assert result.stderr.endswith("; start it with `watershed stack up redis` or set WATERSHED_REDIS_URL\n")
