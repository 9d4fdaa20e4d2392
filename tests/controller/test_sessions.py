"""Pickup sessions: what one pickup opened, by a token kept only hashed, for a bounded time."""

from __future__ import annotations

from controller import sessions
from controller.sessions import PickupSessions
from tests.controller.fakeclock import FakeClock


def test_a_session_holds_what_its_pickup_opened_until_it_expires() -> None:
    clock = FakeClock()
    pickups = PickupSessions(120.0, clock)
    token = pickups.open(["p1", "p2"])
    assert len(token) >= 32
    assert pickups.parcels(token) == {"p1", "p2"}
    assert pickups.parcels("p1") == frozenset()
    assert token not in repr(vars(pickups))  # kept as its SHA-256 only
    clock.advance(119.9)
    assert pickups.parcels(token) == {"p1", "p2"}
    clock.advance(0.1)
    assert pickups.parcels(token) == frozenset()


def test_sessions_stay_bounded_however_many_pickups_open_them() -> None:
    clock = FakeClock()
    pickups = PickupSessions(120.0, clock)
    first = pickups.open(["p0"])
    for n in range(sessions.PICKUP_SESSIONS_MAX):
        pickups.open([f"p{n}"])
    assert len(vars(pickups)["_by_digest"]) == sessions.PICKUP_SESSIONS_MAX
    assert pickups.parcels(first) == frozenset()  # the oldest made room
    clock.advance(121)
    pickups.open(["late"])
    assert len(vars(pickups)["_by_digest"]) == 1  # the expired are dropped
