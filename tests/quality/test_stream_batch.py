"""The stream-vs-batch comparison: every differing figure named, a campaign one side lacks as zeros,
money compared as exact decimals, and only a closed day accepted."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from quality.stream_batch import NotClosed, compare, require_closed

DAY = date(2026, 11, 20)


def row(campaign: str, impressions: int, clicks: int, conversions: int, cost: str, revenue: str) -> dict:
    return {"campaign_id": campaign, "impressions": impressions, "clicks": clicks, "conversions": conversions,
            "cost": cost, "revenue": revenue}  # fmt: skip


def test_equal_figures_agree_whatever_their_type():
    live = [row("c1", 10, 1, 0, "0.070000", "0.00")]  # the counters' strings
    batch = [{**row("c1", 10, 1, 0, "0", "0"), "cost": Decimal("0.07"), "revenue": Decimal("0.00")}]  # DuckDB's
    assert compare(DAY, live, batch).to_dict() == {"date": "2026-11-20", "campaigns": 1, "agree": True,
                                                   "differences": []}  # fmt: skip


def test_every_differing_figure_is_named():
    live = [row("c1", 10, 2, 0, "0.070000", "0.00"), row("c2", 5, 0, 1, "0.05", "12.50")]
    batch = [row("c1", 10, 1, 0, "0.070001", "0.00"), row("c3", 1, 0, 0, "0.01", "0")]
    outcome = compare(DAY, live, batch)
    assert [tuple(d.__dict__.values()) for d in outcome.differences] == [
        ("c1", "clicks", "2", "1"),
        ("c1", "cost", "0.07", "0.070001"),
        ("c2", "impressions", "5", "0"),  # only the stream has c2
        ("c2", "conversions", "1", "0"),
        ("c2", "cost", "0.05", "0"),
        ("c2", "revenue", "12.5", "0"),
        ("c3", "impressions", "0", "1"),  # only the batch has c3
        ("c3", "cost", "0", "0.01"),
    ]
    assert outcome.report()[:2] == [
        "stream vs batch 2026-11-20: 3 campaigns, 8 differences (campaign, figure: live counters / batch mart)",
        "  c1, clicks: 2 / 1",
    ]


def test_only_a_closed_day_is_reconciled():
    require_closed(DAY, now=datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC))
    with pytest.raises(NotClosed) as raised:
        require_closed(DAY, now=datetime(2026, 11, 20, 23, 59, tzinfo=UTC))
    assert str(raised.value) == (
        "2026-11-20 is not a closed day (today is 2026-11-20 UTC): its counters still move; "
        "reconcile a day that has ended, after the batch run of that day"
    )
