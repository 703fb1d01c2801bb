"""Stream and batch agree: the real-time job's ad counters of a closed day against the batch mart.

The real-time job counts the ad events (impressions, clicks, conversions, their cost and value)
into Redis per campaign and UTC day as they arrive; the batch path lands the same Kafka records,
deduplicates them in silver and dbt sums them into ``marts.ad_events_daily`` with the same
definitions. Once a day is closed both must hold the same figures for every campaign. Each
difference names the campaign, the figure and both values: a count the stream has and the batch
lacks is an event the batch lost (or the stream double counted), the other way an event the
stream dropped (behind its watermark, or while it was down past Kafka's retention).

``compare`` is pure; ``live_rows`` and ``batch_rows`` do the reading.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from watershed.errors import WatershedError

if TYPE_CHECKING:
    from watershed.settings import Settings

FIGURES = ("impressions", "clicks", "conversions", "cost", "revenue")
MART = "ad_events_daily"


@dataclass(frozen=True)
class Difference:
    campaign_id: str
    figure: str
    live: str
    batch: str


@dataclass
class Reconciliation:
    date: str
    campaigns: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "campaigns": self.campaigns,
            "agree": self.agree,
            "differences": [asdict(d) for d in self.differences],
        }

    def report(self) -> list[str]:
        head = f"stream vs batch {self.date}: {self.campaigns} campaigns"
        if self.agree:
            return [f"{head}, the live counters equal {MART}"]
        lines = [f"{head}, {len(self.differences)} differences (campaign, figure: live counters / batch mart)"]
        lines += [f"  {d.campaign_id}, {d.figure}: {d.live} / {d.batch}" for d in self.differences]
        return lines


def _figures(row: dict[str, Any] | None) -> dict[str, Decimal]:
    if row is None:
        return dict.fromkeys(FIGURES, Decimal(0))
    return {f: Decimal(str(row[f])) for f in FIGURES}


def compare(day: date, live: Iterable[dict[str, Any]], batch: Iterable[dict[str, Any]]) -> Reconciliation:
    """Every (campaign, figure) whose value differs; a campaign one side lacks counts as zeros there."""
    by_live = {str(r["campaign_id"]): r for r in live}
    by_batch = {str(r["campaign_id"]): r for r in batch}
    campaigns = sorted(by_live.keys() | by_batch.keys())
    out = Reconciliation(day.isoformat(), len(campaigns))
    for campaign in campaigns:
        left, right = _figures(by_live.get(campaign)), _figures(by_batch.get(campaign))
        for figure in FIGURES:
            if left[figure] != right[figure]:
                out.differences.append(Difference(campaign, figure, _plain(left[figure]), _plain(right[figure])))
    return out


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


class NotClosed(WatershedError):
    """The day has not ended yet: its live counters are still moving."""


def require_closed(day: date, now: datetime | None = None) -> None:
    today = (now or datetime.now(UTC)).date()
    if day >= today:
        raise NotClosed(
            f"{day} is not a closed day (today is {today} UTC): its counters still move; "
            "reconcile a day that has ended, after the batch run of that day"
        )


def live_rows(
    settings: Settings, counters_key: str, day: date, *, required: bool = True
) -> list[dict[str, Any]] | None:
    """The real-time job's counters of `day` from Redis; with ``required=False``, None when the
    store holds no counters for that day at all (the job did not run then)."""
    from spark_jobs.streaming import counters

    client = counters.connect(settings)
    try:
        if not required and day.isoformat() not in counters.days(client, counters_key):
            return None
        return counters.read(client, counters_key, day=day.isoformat())
    finally:
        client.close()


def batch_rows(settings: Settings, marts_schema: str, day: date) -> list[dict[str, Any]]:
    """``marts.ad_events_daily`` of `day` from the warehouse (DuckDB or Snowflake, read only)."""
    from warehouse.reader import open_marts

    with open_marts(settings) as marts:
        if marts is None:
            raise WatershedError(
                f"no warehouse at {settings.duckdb_file}: run the daily pipeline (or `watershed demo`) first"
            )
        table = f"{marts_schema}.{MART}"
        if not marts.has_table(marts_schema, MART):
            raise WatershedError(
                f"{table} is not in {marts.where}: build the ad marts (`watershed warehouse build --select ads`)"
            )
        # the mart's conversions_value is what the counters call revenue; the day is a parameter
        columns = "campaign_id, impressions, clicks, conversions, cost, conversions_value as revenue"
        names, rows = marts.rows(f"select {columns} from {table} where date_day = ?", [day])  # noqa: S608
    return [dict(zip(names, row, strict=True)) for row in rows]
