"""Temperature classes and the cold chain's rules (``locker_contract.cold``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from locker_contract import cold
from locker_contract.cold import TemperatureClass as T
from locker_contract.events import FailedReading, Reading, ZoneSamples

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("klass", "celsius", "held"),
    [
        (T.CHILLED, 2.0, True),
        (T.CHILLED, 8.0, True),
        (T.CHILLED, 1.9, False),
        (T.CHILLED, 8.1, False),
        (T.FROZEN, -18.0, True),
        (T.FROZEN, -30.0, True),
        (T.FROZEN, -17.9, False),
        (T.AMBIENT, 45.0, True),
        (T.AMBIENT, -40.0, True),
    ],
)
def test_ranges_include_their_bounds(klass: T, celsius: float, held: bool) -> None:
    assert cold.in_range(klass, celsius) is held


def test_only_ambient_needs_no_sensor() -> None:
    assert [k for k in T if cold.needs_sensor(k)] == [T.CHILLED, T.FROZEN]


@pytest.mark.parametrize(
    ("compartment", "wanted", "served"),
    [
        (T.CHILLED, T.CHILLED, True),
        (T.AMBIENT, T.CHILLED, False),
        (T.FROZEN, T.CHILLED, False),
        (T.CHILLED, None, False),  # an ambient parcel takes no fridge's room
        (T.AMBIENT, None, True),
        (T.AMBIENT, T.AMBIENT, True),
        (T.FROZEN, T.FROZEN, True),
    ],
)
def test_classes_match_exactly(compartment: T, wanted: T | None, served: bool) -> None:
    assert cold.serves(compartment, wanted) is served


def test_an_excursion_is_due_after_the_duration_not_at_it() -> None:
    after = cold.RANGES[T.CHILLED].excursion_after
    assert not cold.excursion_due(T.CHILLED, T0, T0 + after)
    assert cold.excursion_due(T.CHILLED, T0, T0 + after + timedelta(seconds=1))
    assert not cold.excursion_due(T.AMBIENT, T0, T0 + timedelta(days=1))


def test_plausible_values() -> None:
    assert cold.plausible(4.0)
    assert cold.plausible(-40.0)
    assert not cold.plausible(-200.0)
    assert not cold.plausible(3276.7)


def test_a_batch_holds_readings_and_failures_apart() -> None:
    batch = ZoneSamples.model_validate(
        {
            "zone": "fridge-1",
            "temperature_class": "chilled",
            "samples": [{"at": T0, "celsius": 4.0}, {"at": T0, "failure": "no_answer"}],
        }
    )
    assert [type(s) for s in batch.samples] == [Reading, FailedReading]
