"""The API reads time from the app's clock (``create_app(clock=...)``, ``ClockDep``): timers
are tested by moving a clock, never by waiting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cloud.clock import FixedClock
from tests.cloud.conftest import Cloud, bearer, build_cloud, fleet

RESERVE = "/api/v1/reservations"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def timed(database_url: str, clock: FixedClock) -> Iterator[Cloud]:
    yield from build_cloud(database_url, clock)


def test_a_soft_hold_expires_when_the_clock_passes_its_time(
    timed: Cloud, clock: FixedClock
) -> None:
    fleet(timed, {"maple": {"M": 1}})
    hold = {"bank_id": "maple", "size": "M", "ttl_s": 60}
    first = timed.ok("POST", RESERVE, timed.keys["sf"], json=hold)
    assert first["created_at"].startswith("2026-12-01T09:00:00")
    assert timed.call("POST", RESERVE, timed.keys["jd"], json=hold).status_code == 409
    clock.advance(61)
    second = timed.ok("POST", RESERVE, timed.keys["jd"], json=hold)  # the first hold expired
    assert second["created_at"].startswith("2026-12-01T09:01:01")
    assert timed.ok("GET", f"{RESERVE}/{first['id']}", timed.keys["sf"])["state"] == "expired"


def test_a_rotated_key_works_until_its_overlap_ends_on_the_clock(
    timed: Cloud, clock: FixedClock
) -> None:
    fleet(timed, {"maple": {"M": 1}}, carriers=("sf",))
    old = timed.keys["sf"]
    [me] = timed.ok("GET", "/api/v1/keys", old)
    rotated = timed.ok("POST", f"/api/v1/keys/{me['id']}/rotate", old, json={"overlap_s": 600})
    clock.advance(599)
    assert timed.call("GET", "/api/v1/banks", old).status_code == 200
    clock.advance(2)
    assert timed.call("GET", "/api/v1/banks", old).status_code == 401
    assert timed.call("GET", "/api/v1/banks", bearer(rotated["api_key"])).status_code == 200
