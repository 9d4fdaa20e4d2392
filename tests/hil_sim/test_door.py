"""Door physics: the transition table, faults and people on the simulation clock."""

from __future__ import annotations

from hil_sim.door import SPRING_DELAY, TRANSITIONS, Door, DoorEvent, DoorState


def _at(door: Door, now: float) -> DoorState:
    door.advance(now)
    return door.state


def test_pulse_releases_then_springs_then_a_person_closes() -> None:
    door = Door(1, 1, close_after=5.0)
    door.schedule(10.0, DoorEvent.PULSE)
    assert _at(door, 10.0) is DoorState.RELEASED
    assert not door.latch_closed
    assert _at(door, 10.0 + SPRING_DELAY) is DoorState.OPEN
    assert _at(door, 10.0 + SPRING_DELAY + 5.0) is DoorState.LOCKED
    assert [e for _, e in door.history] == [
        "pulse -> released",
        "spring -> open",
        "close -> locked",
    ]


def test_jammed_lock_ignores_the_pulse() -> None:
    door = Door(1, 1, jammed=True)
    door.schedule(0.0, DoorEvent.PULSE)
    door.advance(60.0)
    assert door.state is DoorState.LOCKED
    assert door.history == [(0.0, "pulse ignored")]


def test_door_that_will_not_close_stays_open() -> None:
    door = Door(1, 1, close_after=1.0, wont_close=True)
    door.schedule(0.0, DoorEvent.FORCE)
    door.advance(3600.0)
    assert door.state is DoorState.OPEN


def test_forced_door_opens_without_a_pulse_and_unknown_pairs_change_nothing() -> None:
    door = Door(1, 1, close_after=None)
    door.schedule(0.0, DoorEvent.SPRING)
    door.schedule(1.0, DoorEvent.FORCE)
    door.advance(1.0)
    assert door.state is DoorState.OPEN
    assert (DoorState.LOCKED, DoorEvent.SPRING) not in TRANSITIONS


def test_a_simulated_day_costs_nothing_while_idle() -> None:
    door = Door(1, 1, close_after=30.0)
    for hour in range(24):
        door.schedule(hour * 3600.0, DoorEvent.PULSE)
    door.advance(86_400.0)
    assert door.state is DoorState.LOCKED
    assert len(door.history) == 24 * 3


def test_door_held_shut_through_the_pulse_latches_again() -> None:
    door = Door(1, 1, close_after=None)
    door.schedule(0.0, DoorEvent.PULSE)
    door.schedule(0.05, DoorEvent.CLOSE)
    assert _at(door, 1.0) is DoorState.LOCKED
    assert door.history[-1] == (SPRING_DELAY, "spring: no effect when locked")
