"""The marts gate's day-over-day volume bound: a relative band with a count's noise as its floor."""

from __future__ import annotations

import math

import pytest

from quality.suites.marts import volume_band


@pytest.mark.parametrize(
    ("previous", "band", "sigmas", "expected"),
    [
        # a small count: the noise floor, 3 x sqrt(6) = 7.35, is wider than 50% of 6
        (6.0, 0.5, 3.0, {"volume_min": 0.0, "volume_max": 6 + 3 * math.sqrt(6)}),
        (4.0, 0.5, 3.0, {"volume_min": 0.0, "volume_max": 10.0}),
        # a large one: the relative band (+-5,000) is wider than the noise (+-300)
        (10_000.0, 0.5, 3.0, {"volume_min": 5_000.0, "volume_max": 15_000.0}),
        # where both are equal (3 x sqrt(36) = 18 = 0.5 x 36)
        (36.0, 0.5, 3.0, {"volume_min": 18.0, "volume_max": 54.0}),
        # the floor off: the band alone
        (6.0, 0.5, 0.0, {"volume_min": 3.0, "volume_max": 9.0}),
        # no previous day: no upper bound
        (None, 0.5, 3.0, {"volume_min": 0, "volume_max": None}),
        (0.0, 0.5, 3.0, {"volume_min": 0, "volume_max": None}),
    ],
)
def test_the_day_over_day_band_allows_a_counts_noise(previous, band, sigmas, expected) -> None:  # type: ignore[no-untyped-def]
    assert volume_band(previous, band, sigmas) == pytest.approx(expected)


def test_four_six_two_orders_pass_and_a_collapse_of_a_large_day_does_not() -> None:
    def within(today: float, previous: float) -> bool:
        bounds = volume_band(previous, 0.5)
        return bounds["volume_min"] <= today <= bounds["volume_max"]

    assert [within(6, 4), within(2, 6)] == [True, True]  # the Airflow test's days: noise
    assert [within(4_000, 10_000), within(16_000, 10_000)] == [False, False]  # incidents


def test_a_cumulative_snapshot_may_grow_without_bound_but_not_collapse() -> None:
    assert volume_band(122.0, 0.5, cumulative=True) == {"volume_min": 61.0, "volume_max": None}
