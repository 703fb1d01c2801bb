"""A three-day backfill of generated traffic in another order (D+1, D-1, D) gives the marts of the
in-order run (D-1, D, D+1), row for row, and the generator's ground truth (issue 20).

The same bronze is landed once into each of two lakes; then each day runs exactly what one
`ecommerce_daily` run does for its `{{ ds }}` (dags/ecommerce_daily.py): sessionize D, gold D,
warehouse load D, and `watershed warehouse build --date D --select <layer>` for staging,
intermediate and marts (dbt var run_date = D, the default lookback). The DAG's quality
checkpoints only read, and its `land_events` is the one bronze write here, so they are left out.
Every table of the marts schema (read from DuckDB's information_schema: a new mart is covered
without editing this file) must hold the same multiset of rows in both warehouses.
tests/spark_jobs/test_day_ownership.py shows the same for silver on hand-made events."""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulator import FaultRates, GeneratorConfig, simulate
from tests.warehouse.test_ground_truth import _naive, kafka_records  # plain helpers, imported as they are
from watershed.contract.fields import SHOP_CURRENCY

CONFIG = GeneratorConfig(
    seed=20,
    days=3,
    events=4_500,
    faults=FaultRates(duplicate=0.02, late=0.02, out_of_order=0.02, malformed=0.01, bot=0.03, pii=0.01),
)
DAYS = [CONFIG.start_date + timedelta(days=i) for i in range(CONFIG.days)]  # D-1, D, D+1
ORDERS = {"in_order": (0, 1, 2), "backfill": (2, 0, 1)}  # indexes into DAYS
# ecommerce_daily's dbt tasks, in their order: dbt_staging -> dbt_intermediate -> dbt_marts
# (tests/dags/test_dag_integrity.py pins that chain), each `watershed warehouse build --date {{ ds }}
# --select <layer>`.
DBT_LAYERS = ("staging", "intermediate", "marts")

# Columns left out of the row hashes, per mart: values of the load, not of the data (a load or
# dbt run timestamp would differ between two runs of the same days). There are none: no mart
# selects a load-time column (stg_watershed__events' ingested_at stops in staging, and is the
# landing writer's fixed clock here anyway), and dbt adds none (no run_started_at or
# invocation_id in any model). Every column of every mart is hashed.
BOOKKEEPING_COLUMNS: dict[str, frozenset[str]] = {}


@dataclass
class Run:
    name: str
    wh: Any  # conftest.Warehouse
    builds: list[str]  # dbt's output of each build, in order
    seconds: float


@dataclass
class Runs:
    """Both runs of the same generated days, and the generator's ground truth."""

    by_order: dict[str, Run]
    truth: Any

    def __getitem__(self, order: str) -> Run:
        return self.by_order[order]


def run_day(spark: Any, wh: Any, day: Any) -> list[str]:
    """What one ecommerce_daily run does for `day` after landing."""
    from spark_jobs.batch.jobs.gold import run_gold
    from spark_jobs.batch.jobs.sessionize import run_sessionize
    from warehouse.dbt import build_args

    run_sessionize(spark, wh.settings, day)
    run_gold(spark, wh.settings, day)
    wh.load(day)
    # the arguments `watershed warehouse build --date D --select <layer>` gives dbt
    return [wh.dbt(*build_args(day, select=layer)) for layer in DBT_LAYERS]


@pytest.fixture(scope="module")
def runs(spark, stack_settings, warehouse_factory):  # type: ignore[no-untyped-def]
    """{order name: Run}: the same bronze in two lakes, the days run in order in one and as the
    backfill D+1, D-1, D in the other, each into its own DuckDB file."""
    from spark_jobs.landing.job import BronzeBatchWriter, LandingPaths

    started = time.monotonic()
    simulation = simulate(CONFIG)
    records = kafka_records(spark, simulation)
    out: dict[str, Run] = {}
    for name, order in ORDERS.items():
        t0 = time.monotonic()
        wh = warehouse_factory(f"backfill-order-{name}")
        wh.settings = stack_settings.model_copy(
            update={"lake_uri": str(wh.lake), "duckdb_path": wh.settings.duckdb_file, "state_dir": wh.root}
        )
        BronzeBatchWriter(LandingPaths.of(wh.settings), clock=lambda: datetime(2025, 1, 10, tzinfo=UTC))(records, 0)
        builds = [output for i in order for output in run_day(spark, wh, DAYS[i])]
        out[name] = Run(name, wh, builds, time.monotonic() - t0)
    print(  # shown with -s, and in the captured output of a failure
        f"\nbackfill-order setup: {time.monotonic() - started:.1f} s ("
        + ", ".join(f"{r.name} {r.seconds:.1f} s" for r in out.values())
        + ")"
    )
    return Runs(out, simulation.truth)


def marts(wh: Any) -> list[str]:
    """The tables of the marts schema, as the warehouse has them."""
    rows = wh.query(
        "select table_name from information_schema.tables where table_schema = 'marts' "
        "and table_catalog = current_database() order by 1"
    )
    return [r[0] for r in rows]


def mart_rows(wh: Any, mart: str) -> list[tuple]:
    """The rows of `mart`, every column but its bookkeeping ones, in the table's column order."""
    skip = BOOKKEEPING_COLUMNS.get(mart, frozenset())
    columns = [
        r[0]
        for r in wh.query(
            "select column_name from information_schema.columns where table_schema = 'marts' "
            f"and table_name = '{mart}' and table_catalog = current_database() order by ordinal_position"
        )
        if r[0] not in skip
    ]
    return wh.query(f"select {', '.join(columns)} from marts.{mart}")


def row_hash(row: tuple) -> str:
    return hashlib.sha256(repr(row).encode()).hexdigest()


def differences(runs: Runs, mart: str) -> str:
    """'' when `mart` holds the same multiset of row hashes in both warehouses, else the rows
    each has that the other lacks (a few of each, in full)."""
    rows = {name: mart_rows(runs[name].wh, mart) for name in ORDERS}
    hashes = {name: Counter(map(row_hash, r)) for name, r in rows.items()}
    first, second = hashes["in_order"], hashes["backfill"]
    if first == second:
        return ""
    lines = [f"{mart}: {len(rows['in_order'])} rows in order, {len(rows['backfill'])} in the backfill"]
    for name, extra in (("in_order", first - second), ("backfill", second - first)):
        shown = sorted((r for r in rows[name] if row_hash(r) in extra), key=repr)[:5]
        lines.append(f"  only {name} ({sum(extra.values())}): " + "; ".join(map(repr, shown)))
    return "\n".join(lines)


def test_every_dbt_build_is_green(runs):
    for name in ORDERS:
        assert len(runs[name].builds) == len(DAYS) * len(DBT_LAYERS)
        for output in runs[name].builds:
            done = [line for line in output.splitlines() if "Done. PASS=" in line][-1]
            assert "WARN=0 ERROR=0 SKIP=0" in done, (name, done)


def test_both_warehouses_have_the_same_marts_all_filled(runs):
    names = marts(runs["in_order"].wh)
    assert names == marts(runs["backfill"].wh)
    assert {"fct_sessions", "fct_user_events", "daily_revenue"} <= set(names)
    for mart in names:
        counts = [runs[o].wh.query(f"select count(*) from marts.{mart}")[0][0] for o in ORDERS]
        assert min(counts) > 0, (mart, counts)


def test_the_marts_are_identical_in_both_orders(runs):
    """Every mart, dim_users_daily's cumulative snapshots included: a backfill of an old day
    rebuilds the later snapshots it changes (docs/warehouse.md)."""
    names = marts(runs["in_order"].wh)
    assert "dim_users_daily" in names
    found = [d for d in (differences(runs, m) for m in names) if d]
    assert not found, "\n".join(found)


# The ground truth, as tests/warehouse/test_ground_truth.py compares it (its comparisons are test
# functions bound to its own fixture, so their logic is restated here as plain functions).


def truth_sessions(truth: Any) -> list[tuple]:
    columns = ["session_id", "user_key", "session_date", "started_at", "ended_at", "event_count", "is_bot",
               "page_views", "product_views", "add_to_carts", "begin_checkouts", "purchases", "revenue"]  # fmt: skip
    return sorted(tuple(_naive(r[c]) for c in columns) for r in truth.sessions.to_pylist())


def mart_sessions(wh: Any) -> list[tuple]:
    return wh.query(
        "select session_id, user_key, session_date, session_started_at, session_ended_at, event_count, is_bot, "
        "page_views, product_views, add_to_carts, begin_checkouts, purchases, revenue from marts.fct_sessions "
        "order by all"
    )


def truth_revenue(truth: Any) -> list[tuple]:
    # the generator sells in the shop's one currency: one row per day, in it
    return [
        (r["date"], SHOP_CURRENCY if r["orders"] or r["refunds"] else None, r["orders"], r["revenue"], r["refunds"],
         r["refunded"])
        for r in truth.revenue_daily.to_pylist()
    ]  # fmt: skip


def mart_revenue(wh: Any) -> list[tuple]:
    return wh.query(
        "select revenue_date, currency, orders, revenue, refunds, refunded from marts.daily_revenue order by 1, 2"
    )


FUNNEL_STEPS = ("product_view", "add_to_cart", "begin_checkout", "purchase")


def truth_funnel(truth: Any) -> list[tuple]:
    return sorted(
        (r["date"], r["is_bot"], r["sessions"], *(r[f"sessions_with_{s}"] for s in FUNNEL_STEPS))
        for r in truth.funnel_daily.to_pylist()
        if r["sessions"]
    )


def mart_funnel(wh: Any) -> list[tuple]:
    return wh.query(
        "select funnel_date, is_bot, sum(sessions), sum(product_view_sessions), sum(add_to_cart_sessions), "
        "sum(begin_checkout_sessions), sum(purchase_sessions) from marts.conversion_funnel group by all order by 1, 2"
    )


@pytest.mark.parametrize("what", ["sessions", "revenue", "funnel"])
@pytest.mark.parametrize("order", list(ORDERS))
def test_the_marts_equal_the_ground_truth(runs, order, what):
    truth, wh = runs.truth, runs[order].wh
    expected, actual = {
        "sessions": (truth_sessions, mart_sessions),
        "revenue": (truth_revenue, mart_revenue),
        "funnel": (truth_funnel, mart_funnel),
    }[what]
    want, got = expected(truth), actual(wh)
    assert len(want) >= len(DAYS)
    assert got == want
