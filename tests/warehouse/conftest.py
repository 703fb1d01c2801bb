"""A small lake written here with pyarrow (two days of silver and gold product interactions,
consistent with each other, as the Spark jobs would write them), and helpers to load it and run
dbt on it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from warehouse.tables import SHOP_TABLES, raw_table
from watershed.settings import Settings

D1, D2 = date(2025, 1, 6), date(2025, 1, 7)
MARTS = (
    "fct_user_events",
    "fct_sessions",
    "dim_users",
    "dim_users_daily",
    "agg_daily_user_metrics",
    "conversion_funnel",
    "product_performance",
    "daily_revenue",
)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def usd(text: str) -> Decimal:
    return Decimal(text)


def event(event_id: str, event_type: str, at: str, user_key: str, session: str | None, **fields: Any) -> dict:
    anonymous = user_key.startswith(("a", "bot"))
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "source": "transaction_data" if event_type in ("purchase", "refund") else "web_analytics",
        "user_id": None if anonymous else user_key,
        "anonymous_id": user_key if anonymous else f"anon-{user_key}",
        "occurred_at": ts(at),
        "received_at": ts(at),
        "currency": "USD" if event_type in ("purchase", "refund") else None,
        "user_key": user_key,
        "session_id": session,
        "session_start": None,
        "is_bot": user_key.startswith("bot"),
        "kafka_topic": "user-events",
        "kafka_partition": 0,
        "kafka_offset": 0,
        "ingested_at": ts("2025-01-08 00:00:00"),
        "geo": {"country": "DE", "region": None, "city": "Berlin"},
    } | fields


def item(product: str, quantity: int, price: str) -> dict:
    return {"product_id": product, "quantity": quantity, "price": usd(price)}


# Day 1: u1 buys p1 (mobile); a1 views p2 before midnight and buys it at 00:15 on day 2, in the
# same session (tablet); a crawler bounces; u1's refund of an older order has no session.
EVENTS = {
    D1: [
        event("e01", "page_view", "2025-01-06 10:00:00", "u1", "s-u1-a", page_url="/", device="mobile"),
        event("e02", "product_view", "2025-01-06 10:05:00", "u1", "s-u1-a", product_id="p1", page_url="/p1"),
        event("e03", "add_to_cart", "2025-01-06 10:10:00", "u1", "s-u1-a", product_id="p1", quantity=1,
              price=usd("25.00"), page_url="/p1"),
        event("e04", "purchase", "2025-01-06 10:20:00", "u1", "s-u1-a", order_id="o1", revenue=usd("25.00"),
              items=[item("p1", 1, "25.00")]),
        event("e05", "refund", "2025-01-06 12:00:00", "u1", None, order_id="o0", revenue=usd("5.00")),
        event("e06", "page_view", "2025-01-06 23:50:00", "a1", "s-a1", page_url="/", device="tablet"),
        event("e07", "product_view", "2025-01-06 23:55:00", "a1", "s-a1", product_id="p2", page_url="/p2"),
        event("e08", "purchase", "2025-01-07 00:15:00", "a1", "s-a1", order_id="o2", revenue=usd("10.00"),
              items=[item("p2", 1, "10.00")]),
        event("e09", "page_view", "2025-01-06 05:00:00", "bot1", "s-bot", page_url="/", device="desktop"),
    ],
    D2: [
        event("e10", "page_view", "2025-01-07 09:00:00", "u1", "s-u1-b", page_url="/", device="desktop"),
        event("e11", "add_to_cart", "2025-01-07 09:05:00", "u1", "s-u1-b", product_id="p2", quantity=1,
              price=usd("10.00"), page_url="/p2"),
    ],
}  # fmt: skip


def session(sid: str, user: str, start: str, end: str, events: int, device: str, **counts: Any) -> dict:
    anonymous = user.startswith(("a", "bot"))
    row = {
        "user_key": user,
        "user_id": None if anonymous else user,
        "anonymous_id": user if anonymous else f"anon-{user}",
        "session_id": sid,
        "session_start": ts(start),
        "session_end": ts(end),
        "duration_seconds": (ts(end) - ts(start)).total_seconds(),
        "event_count": events,
        "unique_pages": 1,
        "entry_page": "/",
        "exit_page": "/",
        "device": device,
        "is_bounce": events == 1,
        "is_bot": user.startswith("bot"),
        "revenue": usd("0.00"),
    }
    for name in ("page_views", "product_views", "add_to_carts", "begin_checkouts", "purchases"):
        row[name] = counts.get(name, 0)
    if "revenue" in counts:
        row["revenue"] = counts["revenue"]
    return row


SESSIONS = {
    D1: [
        session("s-u1-a", "u1", "2025-01-06 10:00:00", "2025-01-06 10:20:00", 4, "mobile", page_views=1,
                product_views=1, add_to_carts=1, purchases=1, revenue=usd("25.00")),
        session("s-a1", "a1", "2025-01-06 23:50:00", "2025-01-07 00:15:00", 3, "tablet", page_views=1,
                product_views=1, purchases=1, revenue=usd("10.00")),
        session("s-bot", "bot1", "2025-01-06 05:00:00", "2025-01-06 05:00:00", 1, "desktop", page_views=1),
    ],
    D2: [
        session("s-u1-b", "u1", "2025-01-07 09:00:00", "2025-01-07 09:05:00", 2, "desktop", page_views=1,
                add_to_carts=1),
    ],
}  # fmt: skip


def product(pid: str, views: int, carts: int, buys: int, units: int, revenue: str) -> dict:
    return {
        "product_id": pid, "views": views, "add_to_carts": carts, "purchases": buys, "units_purchased": units,
        "revenue": usd(revenue), "view_to_cart_rate": carts / views if views else None,
        "cart_to_purchase_rate": buys / carts if carts else None,
    }  # fmt: skip


GOLD = {  # the lake's one gold table; the other aggregates are the marts' own
    D1: {"product_interactions": [product("p1", 1, 1, 1, 1, "25.00"), product("p2", 1, 0, 0, 0, "0.00")]},
    D2: {"product_interactions": [product("p2", 0, 1, 1, 1, "10.00")]},
}


def _utc(schema: Any) -> Any:
    """The raw schema with UTC timestamps, as pyarrow writes the contract's columns."""
    import pyarrow as pa

    fields = [pa.field(f.name, pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f for f in schema]
    return pa.schema(fields)


def write_partition(lake: Path, table: str, day: date, rows: list[dict]) -> Path:
    """`rows` as <lake>/<layer>/<table>/dt=<day>/part-00000.parquet (replacing the folder)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    spec = raw_table(table)
    folder = lake.joinpath(*spec.lake_parts, f"dt={day.isoformat()}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    schema = _utc(spec.schema())
    columns = {f.name: [row.get(f.name) for row in rows] for f in schema}
    pq.write_table(pa.table(columns, schema=schema), folder / "part-00000.parquet")
    (folder / "_SUCCESS").touch()
    return folder


def write_day(lake: Path, day: date) -> None:
    write_partition(lake, "events", day, EVENTS[day])
    write_partition(lake, "sessions", day, SESSIONS[day])
    for table, rows in GOLD[day].items():
        write_partition(lake, table, day, rows)


@dataclass
class Warehouse:
    """A lake folder, a DuckDB file and a dbt target folder of one test."""

    root: Path
    settings: Settings

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    def load(self, day: date) -> dict:
        from warehouse import load_date

        return load_date(self.settings, day)

    def dbt(self, *args: str) -> str:
        from warehouse.dbt import run_dbt

        env = {"DBT_TARGET_PATH": str(self.root / "dbt-target"), "DBT_LOG_PATH": str(self.root / "dbt-logs")}
        return run_dbt(self.settings, list(args), env=env, capture=True).stdout

    def build(self, run_date: date | None = None, *extra: str) -> str:
        from warehouse.dbt import build_args

        return self.dbt(*build_args(run_date), *extra)

    def query(self, sql: str) -> list[tuple]:
        import duckdb

        with duckdb.connect(str(self.settings.duckdb_file), read_only=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            return con.execute(sql).fetchall()

    def rows(self, table: str, order: str) -> list[tuple]:
        return self.query(f"select * from {table} order by {order}")

    def row_hashes(self) -> dict[str, list[str]]:
        """Every mart as the sorted sha256 of its rows."""
        out = {}
        for mart in MARTS:
            rows = self.query(f"select * from marts.{mart}")
            out[mart] = sorted(hashlib.sha256(repr(row).encode()).hexdigest() for row in rows)
        return out


@pytest.fixture(scope="session")
def warehouse_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Warehouse]]:
    def make(name: str, raw: str = "attach") -> Warehouse:
        root = tmp_path_factory.mktemp(name)
        settings = Settings(
            env="local", state_dir=root, lake_uri=str(root / "lake"), duckdb_path=root / "wh.duckdb", duckdb_raw=raw
        )
        return Warehouse(root, settings)

    yield make


@pytest.fixture(scope="session")
def lakedata() -> SimpleNamespace:
    """The small lake's days, rows and writers (test modules cannot import conftest)."""
    return SimpleNamespace(
        D1=D1,
        D2=D2,
        EVENTS=EVENTS,
        SESSIONS=SESSIONS,
        GOLD=GOLD,
        MARTS=MARTS,
        RAW_TABLES=SHOP_TABLES,  # what a load of the shop's day replaces
        event=event,
        item=item,
        product=product,
        session=session,
        write_day=write_day,
        write_partition=write_partition,
    )
