"""The cloud's one clock: the only module in ``cloud/`` that reads the system's time.

Services take ``now`` from their caller; the API's routes get it from ``ClockDep``
(``cloud.api.deps``: the app's clock), the ingest worker from its constructor, and tests pass a
clock they move (``FixedClock``). ``utcnow`` stamps rows where no decision hangs on the time
(their column defaults: when a row was written).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The UTC wall clock, and monotonic seconds for measuring intervals."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return utcnow()

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._monotonic = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds


def utcnow() -> datetime:
    """The system's UTC time, for rows stamped where no clock is at hand (their defaults)."""
    return datetime.now(UTC)
