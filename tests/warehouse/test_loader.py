"""`watershed warehouse load` on DuckDB: a day is replaced as a whole, in one transaction, whether
the raw schema attaches the lake's files (views) or copies their rows (tables)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from warehouse import WarehouseError, load_date
from watershed.cli import main


@pytest.fixture(params=["attach", "copy"])
def raw(request) -> str:
    return request.param


def test_a_load_puts_every_table_of_the_day_in_raw(warehouse_factory, lakedata, raw):
    wh = warehouse_factory("load", raw)
    lakedata.write_day(wh.lake, lakedata.D1)
    lakedata.write_day(wh.lake, lakedata.D2)

    report = wh.load(lakedata.D1)

    assert report == {
        "date": "2025-01-06",
        "target": "duckdb",
        "database": str(wh.settings.duckdb_file),
        "mode": raw,
        "group": "shop",
        "rows": {"events": 9, "sessions": 3, "product_interactions": 2},
    }
    purchase = wh.query(
        "select event_id, occurred_at, revenue, items, geo, session_id, is_bot, dt from raw.events "
        "where event_type = 'purchase' order by event_id"
    )
    assert purchase == [
        ("e04", datetime(2025, 1, 6, 10, 20), Decimal("25.00"),
         [{"product_id": "p1", "quantity": 1, "price": Decimal("25.00")}],
         {"country": "DE", "region": None, "city": "Berlin"}, "s-u1-a", False, date(2025, 1, 6)),
        # a purchase after midnight in a session of day 1 belongs to day 1's partition
        ("e08", datetime(2025, 1, 7, 0, 15), Decimal("10.00"),
         [{"product_id": "p2", "quantity": 1, "price": Decimal("10.00")}],
         {"country": "DE", "region": None, "city": "Berlin"}, "s-a1", False, date(2025, 1, 6)),
    ]  # fmt: skip
    assert wh.query("select product_id, views, purchases, revenue, dt from raw.product_interactions order by 1") == [
        ("p1", 1, 1, Decimal("25.00"), date(2025, 1, 6)),
        ("p2", 1, 0, Decimal("0.00"), date(2025, 1, 6)),
    ]
    # only the day asked for
    assert wh.query("select distinct dt from raw.sessions") == [(date(2025, 1, 6),)]


def test_loading_a_day_twice_leaves_the_same_rows(warehouse_factory, lakedata, raw):
    wh = warehouse_factory("twice", raw)
    lakedata.write_day(wh.lake, lakedata.D1)
    wh.load(lakedata.D1)
    before = {t.name: wh.rows(f"raw.{t.name}", "all") for t in lakedata.RAW_TABLES}

    wh.load(lakedata.D1)

    assert {t.name: wh.rows(f"raw.{t.name}", "all") for t in lakedata.RAW_TABLES} == before
    assert len(before["events"]) == 9


def test_a_reload_replaces_the_day_and_leaves_the_others(warehouse_factory, lakedata, raw):
    wh = warehouse_factory("replace", raw)
    lakedata.write_day(wh.lake, lakedata.D1)
    lakedata.write_day(wh.lake, lakedata.D2)
    wh.load(lakedata.D1)
    wh.load(lakedata.D2)
    day2 = wh.rows("raw.events", "event_id")
    # the lake job reran day 1 with fewer events: the warehouse must not keep the old ones
    lakedata.write_partition(wh.lake, "events", lakedata.D1, lakedata.EVENTS[lakedata.D1][:2])

    report = wh.load(lakedata.D1)

    assert report["rows"]["events"] == 2
    assert wh.query("select event_id from raw.events where dt = date '2025-01-06' order by 1") == [("e01",), ("e02",)]
    assert wh.rows("raw.events", "event_id")[2:] == [r for r in day2 if r[-1] == date(2025, 1, 7)]


def test_timestamps_are_stored_in_utc(warehouse_factory, lakedata, raw):
    import pyarrow as pa
    import pyarrow.parquet as pq

    wh = warehouse_factory("utc", raw)
    lakedata.write_day(wh.lake, lakedata.D1)
    folder = wh.lake / "silver" / "sessions" / "dt=2025-01-06"
    table = pq.read_table(folder / "part-00000.parquet")
    # 10:00 UTC, written as 11:00 in a +01:00 zone (built from epoch microseconds: pyarrow ignores the
    # zone of Python datetimes when PYARROW_IGNORE_TIMEZONE is set, as Spark's session does)
    ten_utc = (datetime(2025, 1, 6, 10, 0) - datetime(1970, 1, 1)) // timedelta(microseconds=1)
    column = pa.array([ten_utc] * table.num_rows, pa.int64()).cast(pa.timestamp("us", tz="+01:00"))
    assert column[0].as_py().hour == 11
    pq.write_table(table.set_column(table.schema.get_field_index("session_start"), "session_start", column),
                   folder / "part-00000.parquet")  # fmt: skip

    wh.load(lakedata.D1)

    assert wh.query("select distinct session_start from raw.sessions") == [(datetime(2025, 1, 6, 10, 0),)]


def test_an_empty_partition_loads_no_rows(warehouse_factory, lakedata, raw):
    wh = warehouse_factory("empty", raw)
    lakedata.write_day(wh.lake, lakedata.D1)
    wh.load(lakedata.D1)
    for path in (wh.lake / "gold" / "product_interactions" / "dt=2025-01-06").glob("*.parquet"):
        path.unlink()  # Spark wrote the folder (with _SUCCESS) but no row

    report = wh.load(lakedata.D1)

    assert report["rows"]["product_interactions"] == 0
    assert report["rows"]["events"] == 9


def test_a_missing_partition_is_refused_before_anything_changes(warehouse_factory, lakedata):
    wh = warehouse_factory("missing")
    lakedata.write_partition(wh.lake, "events", lakedata.D1, lakedata.EVENTS[lakedata.D1])
    lakedata.write_partition(wh.lake, "sessions", lakedata.D1, lakedata.SESSIONS[lakedata.D1])

    with pytest.raises(WarehouseError) as error:
        wh.load(lakedata.D1)

    assert str(error.value) == (
        f"the lake at {wh.lake} has no dt=2025-01-06 partition of gold/product_interactions; run "
        "`watershed sessionize --date 2025-01-06` and `watershed gold --date 2025-01-06` first"
    )
    assert not wh.settings.duckdb_file.exists()


def test_a_partition_without_a_column_rolls_the_whole_day_back(warehouse_factory, lakedata):
    import pyarrow.parquet as pq

    wh = warehouse_factory("rollback", "copy")
    lakedata.write_day(wh.lake, lakedata.D1)
    wh.load(lakedata.D1)
    before = {t.name: wh.rows(f"raw.{t.name}", "all") for t in lakedata.RAW_TABLES}
    lakedata.write_partition(wh.lake, "events", lakedata.D1, lakedata.EVENTS[lakedata.D1][:1])
    path = wh.lake / "gold" / "product_interactions" / "dt=2025-01-06" / "part-00000.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["revenue"]), path)

    with pytest.raises(WarehouseError, match=r"gold/product_interactions/dt=2025-01-06 lacks the column\(s\) revenue"):
        wh.load(lakedata.D1)

    # events were replaced before product_interactions failed: the transaction undid that too
    assert {t.name: wh.rows(f"raw.{t.name}", "all") for t in lakedata.RAW_TABLES} == before


def test_attaching_a_partition_without_a_column_leaves_the_attached_days(warehouse_factory, lakedata):
    import pyarrow.parquet as pq

    wh = warehouse_factory("rollback-attach", "attach")
    lakedata.write_day(wh.lake, lakedata.D1)
    wh.load(lakedata.D1)
    lakedata.write_day(wh.lake, lakedata.D2)
    path = wh.lake / "gold" / "product_interactions" / "dt=2025-01-07" / "part-00000.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["revenue"]), path)

    with pytest.raises(WarehouseError, match=r"gold/product_interactions/dt=2025-01-07 lacks the column\(s\) revenue"):
        wh.load(lakedata.D2)

    # events and sessions of day 2 were attached before product_interactions failed: undone
    assert wh.query("select table_name, count(*), min(dt), max(dt) from raw._partitions group by 1 order by 1") == [
        (t, 1, lakedata.D1, lakedata.D1) for t in sorted(t.name for t in lakedata.RAW_TABLES)
    ]
    assert wh.query("select distinct dt from raw.events") == [(lakedata.D1,)]


def test_attach_and_copy_give_the_same_raw_rows(warehouse_factory, lakedata):
    attached, copied = warehouse_factory("same-attach", "attach"), warehouse_factory("same-copy", "copy")
    for wh in (attached, copied):
        lakedata.write_day(wh.lake, lakedata.D1)
        lakedata.write_day(wh.lake, lakedata.D2)
        wh.load(lakedata.D1)
        wh.load(lakedata.D2)

    for table in lakedata.RAW_TABLES:
        columns = ", ".join(f'"{f.name}"' for f in table.schema())
        sql = f"select {columns}, dt from raw.{table.name} order by all"
        assert attached.query(sql) == copied.query(sql), table.name
        by_day = {"events": lakedata.EVENTS, "sessions": lakedata.SESSIONS}.get(table.name) or {
            day: tables[table.name] for day, tables in lakedata.GOLD.items()
        }
        assert len(copied.query(sql)) == len(by_day[lakedata.D1]) + len(by_day[lakedata.D2]), table.name


def test_a_warehouse_keeps_the_raw_mode_it_was_loaded_with(warehouse_factory, lakedata):
    wh = warehouse_factory("mode", "copy")
    lakedata.write_day(wh.lake, lakedata.D1)
    wh.load(lakedata.D1)
    settings = wh.settings.model_copy(update={"duckdb_raw": "attach"})

    with pytest.raises(WarehouseError) as error:
        load_date(settings, lakedata.D1)

    assert str(error.value) == (
        f"the warehouse {settings.duckdb_file} holds its raw schema as copied tables, not as "
        "WATERSHED_DUCKDB_RAW=attach loads it: set WATERSHED_DUCKDB_RAW=copy, or remove the file and load again"
    )


def test_duckdb_refuses_an_s3_lake(warehouse_factory):
    wh = warehouse_factory("s3")
    settings = wh.settings.model_copy(update={"lake_uri": "s3a://watershed/lake"})

    with pytest.raises(WarehouseError, match="the DuckDB warehouse reads a local lake, but the lake is s3a://"):
        load_date(settings, date(2025, 1, 6))


def test_the_cli_loads_a_day_and_reports_errors_in_one_line(warehouse_factory, lakedata, monkeypatch, capsys):
    wh = warehouse_factory("cli")
    lakedata.write_day(wh.lake, lakedata.D2)
    monkeypatch.setenv("WATERSHED_ENV", "local")
    monkeypatch.setenv("WATERSHED_LAKE_URI", str(wh.lake))
    monkeypatch.setenv("WATERSHED_DUCKDB_PATH", str(wh.settings.duckdb_file))

    assert main(["warehouse", "load", "--date", "2025-01-07"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"]["sessions"] == 1

    assert main(["warehouse", "load", "--date", "2025-01-08"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the lake at ") and err.count("\n") == 1


def _ad_row(day: date, platform: str, account: str, campaign: str, clicks: int):  # type: ignore[no-untyped-def]
    from watershed.contract import AdPlatformDailyRow

    return AdPlatformDailyRow(
        date=day, platform=platform, account_id=account, account_name=f"Shop ({platform})", campaign_id=campaign,
        campaign_name=f"Campaign {campaign}", impressions=1_000, clicks=clicks, cost=Decimal("12.345678"),
        conversions=1.5, conversion_value=Decimal("40.00"), currency="USD", time_zone="America/New_York",
    )  # fmt: skip


def test_the_ads_group_loads_the_silver_ad_rows_and_leaves_the_shop_tables_alone(warehouse_factory, lakedata, raw):
    from extractors.lake import write_account_day

    wh = warehouse_factory("load-ads", raw)
    lakedata.write_day(wh.lake, lakedata.D1)
    wh.load(lakedata.D1)
    assert wh.query("select count(*) from raw.ad_platform_daily") == [(0,)]  # exists, empty, before any ads load
    shop = {t.name: wh.rows(f"raw.{t.name}", "all") for t in lakedata.RAW_TABLES}

    with pytest.raises(WarehouseError, match=r"no dt=2025-01-06 partition of silver/ad_platform; run `watershed ads"):
        load_date(wh.settings, lakedata.D1, group="ads")

    day = lakedata.D1
    write_account_day(wh.settings, "google_ads", "111", day, [], [_ad_row(day, "google_ads", "111", "g1", 10)])
    write_account_day(wh.settings, "facebook_ads", "222", day, [], [
        _ad_row(day, "facebook_ads", "222", "f1", 20), _ad_row(day, "facebook_ads", "222", "f2", 30)
    ])  # fmt: skip
    report = load_date(wh.settings, day, group="ads")

    assert (report["group"], report["rows"]) == ("ads", {"ad_platform_daily": 3})
    assert wh.query(
        "select platform, account_id, campaign_id, clicks, cost, conversion_value, currency, time_zone, dt "
        "from raw.ad_platform_daily order by all"
    ) == [
        ("facebook_ads", "222", "f1", 20, Decimal("12.345678"), Decimal("40.00"), "USD", "America/New_York", day),
        ("facebook_ads", "222", "f2", 30, Decimal("12.345678"), Decimal("40.00"), "USD", "America/New_York", day),
        ("google_ads", "111", "g1", 10, Decimal("12.345678"), Decimal("40.00"), "USD", "America/New_York", day),
    ]
    assert {t.name: wh.rows(f"raw.{t.name}", "all") for t in lakedata.RAW_TABLES} == shop
    wh.load(day)  # the shop's day again: the ad rows stay
    assert wh.query("select count(*) from raw.ad_platform_daily") == [(3,)]
