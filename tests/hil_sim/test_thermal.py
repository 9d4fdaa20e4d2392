"""The thermal model of a chilled zone: the thermostat holds it, a door or a failure does not."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hil_sim.thermal import HOUR, ThermalParams, ThermalZone

DAY = 24 * HOUR
CHILLED_MAX = 8.0  # the top of the chilled class (2-8 C)


def sample(zone: ThermalZone, until: float, step: float) -> list[float]:
    return [zone.advance(t * step) for t in range(int(until / step) + 1)]


def test_the_thermostat_holds_the_band_for_a_day_computed_in_milliseconds() -> None:
    zone = ThermalZone()
    started = time.perf_counter()
    zone.advance(DAY)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5  # event to event: a few hundred steps, not 86,400
    assert 10 < len(zone.switches) < 100  # it cycles, roughly hourly
    again = ThermalZone()
    temperatures = sample(again, DAY, 60.0)
    params = again.params
    assert min(temperatures) >= params.cut_out - 1e-9
    assert max(temperatures) <= params.cut_in + 1e-9


def test_switches_happen_exactly_at_the_thresholds() -> None:
    zone = ThermalZone()
    zone.advance(6 * HOUR)
    replay = ThermalZone()
    for at, on in zone.switches:
        celsius = replay.advance(at)
        threshold = replay.params.cut_out if not on else replay.params.cut_in
        assert celsius == pytest.approx(threshold, abs=1e-6)


def test_warming_without_compressor_follows_newtons_law() -> None:
    params = ThermalParams(start=4.0)
    zone = ThermalZone(params, compressor_failed=True)
    expected = params.tau_closed * math.log((params.ambient - 4.0) / (params.ambient - 8.0))
    assert zone.advance(expected) == pytest.approx(8.0)
    assert 30 * 60 < expected < 3 * HOUR  # a plausible hold time for an insulated cabinet


def test_an_open_door_warms_the_zone() -> None:
    shut, ajar = ThermalZone(), ThermalZone()
    ajar.door(60.0, opened=True)
    shut_after, ajar_after = shut.advance(5 * 60.0), ajar.advance(5 * 60.0)
    assert ajar_after > CHILLED_MAX > shut_after
    ajar.door(5 * 60.0, opened=False)
    ajar.advance(2 * HOUR)
    assert ajar.params.cut_out - 1e-9 <= ajar.celsius <= ajar.params.cut_in + 1e-9


def test_opening_a_door_for_a_minute_warms_less_than_leaving_it_open() -> None:
    brief, left = ThermalZone(), ThermalZone()
    for zone in (brief, left):
        zone.door(0.0, opened=True)
    brief.door(60.0, opened=False)
    assert brief.advance(10 * 60.0) < left.advance(10 * 60.0)
    assert brief.celsius < CHILLED_MAX


def test_a_compressor_failure_leaves_the_range_after_a_plausible_time_not_before() -> None:
    zone = ThermalZone()
    zone.advance(3 * HOUR)
    zone.fail_compressor(3 * HOUR)
    minutes = sample_until_above(zone, CHILLED_MAX, start=3 * HOUR)
    assert 30 <= minutes <= 180
    assert zone.compressor_on  # the thermostat calls for cold that never comes


def sample_until_above(zone: ThermalZone, limit: float, start: float) -> int:
    for minute in range(24 * 60):
        if zone.advance(start + 60.0 * minute) > limit:
            return minute
    raise AssertionError("the zone never left its range")


def test_a_repaired_compressor_brings_the_zone_back() -> None:
    zone = ThermalZone(ThermalParams(start=15.0))
    zone.fail_compressor(0.0, failed=False)
    zone.advance(4 * HOUR)
    assert zone.celsius <= zone.params.cut_in + 1e-9


def test_time_never_runs_backwards() -> None:
    zone = ThermalZone(ThermalParams(start=3.0))
    warmer = zone.advance(HOUR)
    assert zone.advance(10.0) == warmer
    assert zone.at == HOUR


@pytest.mark.parametrize(
    "params",
    [
        {"tau_open": 0.0},
        {"tau_closed": -1.0},
        {"band": 0.0},
        {"pull_down": 10.0},
        {"setpoint": 30.0},
    ],
)
def test_impossible_physics_is_refused(params: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"positive|below"):
        ThermalParams(**params)


@given(
    st.floats(-30.0, 30.0),
    st.lists(st.tuples(st.floats(0.0, DAY), st.booleans()), max_size=8),
    st.booleans(),
)
def test_the_temperature_stays_between_the_pull_down_and_the_ambient(
    start: float, doors: list[tuple[float, bool]], failed: bool
) -> None:
    params = ThermalParams(start=start)
    zone = ThermalZone(params, compressor_failed=failed)
    for at, opened in sorted(doors):
        zone.door(at, opened=opened)
    low, high = min(start, params.pull_down), max(start, params.ambient)
    assert low - 1e-6 <= zone.advance(DAY) <= high + 1e-6
