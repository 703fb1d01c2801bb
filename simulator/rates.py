"""The simulated market's exchange rates: the warehouse's own rates table (the dbt seed
``dbt/seeds/ads/currency_rates.csv``), so the amounts the ad platforms report in an account's
currency convert back with the rates the marts use.

A row ``(from_currency, to_currency, valid_from, rate)`` says one unit of ``from_currency`` is
worth ``rate`` units of ``to_currency`` from ``valid_from`` until the next row of the pair.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from functools import cache

import numpy as np

from watershed.paths import dbt_project_dir

RATES_FILE = ("seeds", "ads", "currency_rates.csv")


@cache
def rates_table() -> dict[tuple[str, str], list[tuple[date, Decimal]]]:
    """Every pair's rates, oldest first."""
    path = dbt_project_dir().joinpath(*RATES_FILE)
    out: dict[tuple[str, str], list[tuple[date, Decimal]]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            pair = (row["from_currency"], row["to_currency"])
            out.setdefault(pair, []).append((date.fromisoformat(row["valid_from"]), Decimal(row["rate"])))
    return {pair: sorted(rows) for pair, rows in out.items()}


def rate(from_currency: str, to_currency: str, day: date) -> Decimal:
    """Units of ``to_currency`` one unit of ``from_currency`` is worth on ``day``."""
    if from_currency == to_currency:
        return Decimal(1)
    rows = rates_table().get((from_currency, to_currency), [])
    valid = [r for since, r in rows if since <= day]
    if not valid:
        raise LookupError(f"no {from_currency}->{to_currency} rate on {day} in {'/'.join(RATES_FILE)}")
    return valid[-1]


def daily_rates(from_currency: str, to_currency: str, epoch_days: np.ndarray) -> np.ndarray:
    """``rate`` for each day (days since 1970-01-01), as float64."""
    unique, back = np.unique(epoch_days, return_inverse=True)
    values = [float(rate(from_currency, to_currency, date.fromordinal(_EPOCH + int(d)))) for d in unique]
    return np.asarray(values, dtype=np.float64)[back]


_EPOCH = date(1970, 1, 1).toordinal()
