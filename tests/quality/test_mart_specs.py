"""The marts suite of daily_revenue, whose grain is (revenue_date, currency): unique per day and
currency, and a loaded day without a transaction (one row, currency null) passes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from quality import engine
from quality.checkpoints import mart_validation
from quality.suites.marts import DEFAULT_MARTS, mart_checks

D1, D2 = date(2025, 1, 6), date(2025, 1, 7)


def _daily_revenue(extra: list[tuple] | None = None) -> pd.DataFrame:
    rows = [
        (D1, "USD", 2, Decimal("35.01"), 0, Decimal("0.00")),
        (D1, "EUR", 1, Decimal("40.00"), 0, Decimal("0.00")),
        (D2, None, 0, Decimal("0.00"), 0, Decimal("0.00")),  # loaded, nothing sold
        *(extra or []),
    ]
    return pd.DataFrame(rows, columns=["revenue_date", "currency", "orders", "revenue", "refunds", "refunded"])


def test_daily_revenue_is_unique_per_day_and_currency_with_a_null_currency_allowed(tmp_path) -> None:
    spec = next(s for s in DEFAULT_MARTS if s.table == "daily_revenue")
    names = [c.name for c in mart_checks(spec)]
    assert "unique:revenue_date,currency" in names and "required:revenue_date" in names
    assert "required:currency" not in names

    ctx = engine.context(tmp_path / "gx")
    clean = engine.run(ctx, [mart_validation(spec, _daily_revenue(), None, 0.5)], run_name="clean", data_docs=False)
    assert [o.name for o in clean if not o.success] == []

    twice = _daily_revenue([(D2, None, 0, Decimal("0.00"), 0, Decimal("0.00"))])
    broken = engine.run(ctx, [mart_validation(spec, twice, None, 0.5)], run_name="twice", data_docs=False)
    assert [o.name for o in broken if not o.success] == ["unique:revenue_date,currency"]
