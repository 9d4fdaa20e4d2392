"""A clock the tests move instead of sleeping (``controller.clock.Clock``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from controller.clock import SystemClock

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class FakeClock:
    """Every reading is the base plus what ``advance`` added. Standalone the base stands still
    (at ``START``, monotonic 1000 s); with ``follow=True`` it is the system clock, for a bank whose
    twin and poller run in real time while the test jumps ahead (a day in a call)."""

    def __init__(self, *, follow: bool = False) -> None:
        self._system = SystemClock() if follow else None
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def monotonic(self) -> float:
        base = self._system.monotonic() if self._system is not None else 1000.0
        return base + self.offset

    def wall(self) -> datetime:
        base = self._system.wall() if self._system is not None else START
        return base + timedelta(seconds=self.offset)

    def today(self) -> date:
        return self.wall().date()

    async def sleep(self, seconds: float) -> None:
        if self._system is not None:
            await self._system.sleep(seconds)
        else:
            self.advance(max(0.0, seconds))
            await asyncio.sleep(0)
