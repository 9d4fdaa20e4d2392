"""The trace math: minimum, maximum, time out of range weighted by time, gaps as unknown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloud.coldchain.trace import HOLD, Reading, Span, summarise
from locker_contract.cold import TemperatureClass

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
CHILLED = TemperatureClass.CHILLED


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def readings(*values: tuple[float, float | None]) -> list[Reading]:
    return [Reading(at(m), c) for m, c in values]


def test_every_minute_in_range_is_all_in_range() -> None:
    summary = summarise(
        readings(*[(m, 4.0 + m / 10) for m in range(11)]), Span(at(0), at(10)), CHILLED
    )
    assert (summary.in_range_s, summary.out_of_range_s, summary.unknown_s) == (600.0, 0.0, 0.0)
    assert (summary.min_celsius, summary.max_celsius) == (4.0, 5.0)
    assert summary.known
    assert summary.samples == 11


def test_out_of_range_is_weighted_by_the_time_each_sample_stands_for() -> None:
    # 5 C from 0 to 3 min, 9.5 C from 3 to 4.5 min (two samples), back at 4.5 min
    values = readings((0, 5.0), (1, 5.0), (2, 5.0), (3, 9.5), (4, 9.5), (4.5, 6.0), (5, 6.0))
    summary = summarise(values, Span(at(0), at(5)), CHILLED)
    assert summary.out_of_range_s == pytest.approx(90.0)
    assert summary.in_range_s == pytest.approx(210.0)
    assert summary.max_celsius == 9.5


def test_a_gap_is_unknown_and_reported_not_guessed() -> None:
    # readings stop at 2 min and resume at 10: the 2 min sample stands for HOLD only
    values = readings((0, 3.0), (1, 3.0), (2, 3.0), (10, 3.0))
    summary = summarise(values, Span(at(0), at(10)), CHILLED)
    hold = HOLD.total_seconds()
    assert summary.in_range_s == pytest.approx(120 + hold)
    assert summary.unknown_s == pytest.approx(480 - hold)
    assert summary.gaps == (Span(at(2) + HOLD, at(10)),)
    assert not summary.known


def test_failed_readings_stand_for_nothing_and_are_counted() -> None:
    values = readings((0, 4.0), (1, None), (2, None), (3, 4.0))
    summary = summarise(values, Span(at(0), at(3)), CHILLED)
    assert summary.failed == 2
    assert summary.in_range_s == 60.0
    assert summary.unknown_s == 120.0
    assert summary.gaps == (Span(at(1), at(3)),)


def test_the_sample_standing_when_the_span_began_counts() -> None:
    values = readings((0, 12.0), (1, 5.0))
    summary = summarise(values, Span(at(0.5), at(1.5)), CHILLED)
    assert summary.out_of_range_s == 30.0
    assert summary.in_range_s == 30.0
    assert (summary.min_celsius, summary.max_celsius) == (5.0, 12.0)


def test_no_readings_at_all_is_all_unknown() -> None:
    summary = summarise([], Span(at(0), at(60)), CHILLED)
    assert summary.unknown_s == 3600.0
    assert summary.min_celsius is None
    assert summary.samples == 0


def test_frozen_has_no_lower_bound_and_ambient_no_range() -> None:
    values = readings((0, -30.0), (1, -17.0), (2, -19.0))
    frozen = summarise(values, Span(at(0), at(2)), TemperatureClass.FROZEN)
    assert frozen.out_of_range_s == 60.0
    assert frozen.in_range_s == 60.0
    ambient = summarise(values, Span(at(0), at(2)), TemperatureClass.AMBIENT)
    assert ambient.out_of_range_s == 0.0
