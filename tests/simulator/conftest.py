"""One small generated data set with every fault switched on, shared by the generator tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator import FaultRates, GeneratorConfig, generate

RATES = FaultRates(duplicate=0.02, late=0.02, out_of_order=0.02, malformed=0.03, bot=0.05, pii=0.02)
CONFIG = GeneratorConfig(seed=11, days=3, events=20_000, faults=RATES)


@pytest.fixture(scope="session")
def config() -> GeneratorConfig:
    return CONFIG


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate(CONFIG, out)
    return out


@pytest.fixture(scope="session")
def summary(dataset: Path) -> dict[str, Any]:
    from simulator.files import read_summary

    return read_summary(dataset)


@pytest.fixture
def duck(dataset: Path) -> Any:
    """DuckDB in UTC with the data set's tables as views: events (with its arrival position),
    sessions, faults, funnel_daily, revenue_daily, campaign_totals, ad_platform."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute(
        f"create view events as select * exclude (file_row_number), file_row_number as position "
        f"from read_parquet('{dataset}/events/*.parquet', file_row_number = true)"
    )
    for name in ("sessions", "faults", "funnel_daily", "revenue_daily", "campaign_totals"):
        con.execute(f"create view {name} as select * from read_parquet('{dataset}/truth/{name}.parquet')")
    con.execute(
        f"create view ad_platform as select * from read_parquet('{dataset}/ad_platform/*/*/rows.parquet', "
        "hive_partitioning = false)"
    )
    yield con
    con.close()
