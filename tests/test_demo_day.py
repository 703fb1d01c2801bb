"""`watershed demo --date`: the simulated day must be one a live collector accepts."""

from datetime import date

import pytest

from watershed.demo import demo_day
from watershed.errors import WatershedError

TODAY = date(2026, 12, 2)


def test_the_default_is_yesterday() -> None:
    assert demo_day(None, TODAY) == date(2026, 12, 1)


def test_a_day_of_the_last_six_is_taken() -> None:
    assert demo_day("2026-11-26", TODAY) == date(2026, 11, 26)
    assert demo_day("2026-12-01", TODAY) == date(2026, 12, 1)


@pytest.mark.parametrize("day", ["2026-11-25", "2026-11-20", "2026-12-02", "2026-12-03"])
def test_a_day_the_collector_would_refuse_is_an_error(day: str) -> None:
    with pytest.raises(WatershedError) as raised:
        demo_day(day, TODAY)
    assert str(raised.value) == (
        f"--date {day}: the collector accepts events at most 7 days old and none from the future, so the "
        "simulated day must be from 2026-11-26 to 2026-12-01 (the default is yesterday, 2026-12-01)"
    )
