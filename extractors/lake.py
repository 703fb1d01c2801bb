"""Where extracted ad-platform data lands, one (platform, account, day) at a time.

* bronze: ``bronze/ad_platform/<platform>/dt=<day>/account=<id>/responses.json``, the API's
  responses for that account and day exactly as received (one JSON document per response, in
  order), so a row can always be traced back to what the platform said;
* silver: ``silver/ad_platform/dt=<day>/<platform>-<account id>.parquet``, the normalised
  :class:`~watershed.contract.AdPlatformDailyRow` rows (contract schema), dates in the account's
  time zone and the currency explicit on every row. One partitioned table for every platform, as
  the other silver tables are, so the warehouse loads ``silver/ad_platform/dt=<day>/`` as it
  loads ``silver/events/dt=<day>/`` and the ``ads`` checkpoint reads one folder per day.

An account-day is written whole or not at all: both files go to a temporary name first (a dot
name, which readers skip) and are
moved into place only once both are complete, and a re-extraction (the lookback window) replaces
the account-day, so restated numbers replace the old ones and nothing is counted twice.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from watershed.contract import AdPlatformDailyRow
from watershed.contract.fields import Platform
from watershed.settings import Settings

BRONZE, SILVER = "bronze/ad_platform", "silver/ad_platform"
RESPONSES = "responses.json"


def bronze_folder(platform: Platform | str, account_id: str, day: date) -> str:
    """The bronze folder of one account-day, relative to the lake root."""
    return f"{BRONZE}/{Platform(platform).value}/dt={day.isoformat()}/account={account_id}"


def silver_partition(day: date) -> str:
    """The silver partition of one day (every platform and account), relative to the lake root."""
    return f"{SILVER}/dt={day.isoformat()}"


def silver_file(platform: Platform | str, account_id: str, day: date) -> str:
    """The silver file of one account-day, relative to the lake root."""
    return f"{silver_partition(day)}/{Platform(platform).value}-{account_id}.parquet"


def lookback_days(end: date, days: int) -> list[date]:
    """The `days` days ending with `end`, oldest first: what each run re-extracts."""
    if days < 1:
        raise ValueError(f"the lookback must be at least 1 day (got {days})")
    return [end - timedelta(days=n) for n in range(days - 1, -1, -1)]


def extraction_window(end: date, lookback: int, days: Sequence[date] | None = None) -> list[date]:
    """The days one run extracts: ``days`` (contiguous, any order), else the lookback ending
    ``end``. One query or report job covers the window, so a gap is refused."""
    window = sorted(days) if days else lookback_days(end, lookback)
    if any((b - a).days != 1 for a, b in itertools.pairwise(window)):
        raise ValueError("days must be contiguous (one query covers the window)")
    return window


@dataclass(frozen=True)
class Written:
    platform: str
    account_id: str
    day: date
    rows: int
    responses: int
    bronze: str  # relative to the lake root
    silver: str


def write_account_day(
    settings: Settings,
    platform: Platform | str,
    account_id: str,
    day: date,
    responses: Sequence[Any],
    rows: Sequence[AdPlatformDailyRow],
) -> Written:
    """Replace one account-day in bronze and silver. Every row must belong to that account-day
    (a row of another day or account is a bug in the extractor, reported, nothing written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from watershed.contract.tables import arrow_schema
    from watershed.lake.arrow import filesystem

    platform = Platform(platform)
    wrong = [r for r in rows if (r.platform, r.account_id, r.date) != (platform, account_id, day)]
    if wrong:
        first = wrong[0]
        raise ValueError(
            f"{len(wrong)} row(s) do not belong to {platform.value}/{account_id}/{day}: the first is"
            f" {first.platform.value}/{first.account_id}/{first.date} campaign {first.campaign_id}"
        )
    fs, root = filesystem(settings)
    bronze, silver = bronze_folder(platform, account_id, day), silver_file(platform, account_id, day)
    schema = arrow_schema("ad_platform_daily")
    table = pa.Table.from_pylist([r.model_dump(mode="python") for r in rows], schema=schema)
    body = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in responses).encode()
    tmp = f".tmp-{uuid.uuid4().hex}"
    staged = []
    for final, write in (
        (f"{bronze}/{RESPONSES}", lambda path: _write_bytes(fs, path, body)),
        (silver, lambda path: pq.write_table(table, path, filesystem=fs, compression="zstd")),
    ):
        folder, name = final.rsplit("/", 1)
        fs.create_dir(f"{root}/{folder}", recursive=True)
        path = f"{root}/{folder}/{tmp}-{name}"
        write(path)
        staged.append((path, f"{root}/{final}"))
    for path, final in staged:
        fs.move(path, final)
    return Written(platform.value, account_id, day, len(rows), len(responses), bronze, silver)


def write_window(
    settings: Settings,
    platform: Platform,
    account_id: str,
    pulled: Mapping[date, tuple[Sequence[Any], Sequence[AdPlatformDailyRow]]],
) -> tuple[list[Written], int]:
    """Every day of one account's pull (day -> raw responses, rows), each day atomically, oldest
    first; returns what was written and the number of rows."""
    written = [write_account_day(settings, platform, account_id, day, *pulled[day]) for day in sorted(pulled)]
    return written, sum(len(pulled[day][1]) for day in pulled)


def _write_bytes(fs: Any, path: str, body: bytes) -> None:
    with fs.open_output_stream(path) as out:
        out.write(body)


def read_rows(settings: Settings, platform: Platform | str, day: date) -> list[AdPlatformDailyRow]:
    """Every silver row of one platform and day (all accounts), as contract rows."""
    import pyarrow.parquet as pq
    from pyarrow import fs as pafs

    from watershed.lake.arrow import filesystem

    fs, root = filesystem(settings)
    folder = f"{root}/{silver_partition(day)}"
    if fs.get_file_info(folder).type is pafs.FileType.NotFound:
        return []
    prefix = f"{folder}/{Platform(platform).value}-"
    files = [f.path for f in fs.get_file_info(pafs.FileSelector(folder)) if f.path.startswith(prefix)]
    out = []
    for path in sorted(files):
        out += [AdPlatformDailyRow.model_validate(r) for r in pq.read_table(path, filesystem=fs).to_pylist()]
    return out
