"""The edge's one clock: the only module in ``controller/`` that reads the system's time.

Everything that measures or stamps time (door limits, unlock claims, lockouts, storage periods,
courier credentials, sessions) reads a ``Clock`` passed in; the daemon composes ``SystemClock``
and tests pass a clock they move. It extends ``firmware_bridge.clock``'s (monotonic seconds and a
way to wait on them) with the UTC wall clock and the local day the flows need.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Protocol

from firmware_bridge.clock import MonotonicClock


class Clock(Protocol):
    """Monotonic seconds, the UTC wall clock, the local day, and a way to wait."""

    def monotonic(self) -> float: ...

    def wall(self) -> datetime: ...

    def today(self) -> date: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock(MonotonicClock):
    """The real clock: ``CLOCK_MONOTONIC``, the system's UTC time and its local date."""

    def monotonic(self) -> float:
        return self.now()

    def wall(self) -> datetime:
        return utcnow()

    def today(self) -> date:
        return date.fromtimestamp(time.time())


def utcnow() -> datetime:
    """The system's UTC time, for rows stamped where no clock is at hand (their defaults)."""
    return datetime.now(UTC)
