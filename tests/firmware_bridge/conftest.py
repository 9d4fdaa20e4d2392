"""Fixtures for the bridge: a simulated bus served on the device end of an in-memory pair."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from firmware_bridge.bus import BusMaster, BusSettings
from firmware_bridge.families import family_named
from firmware_bridge.model import BoardConfig
from firmware_bridge.transport import Transport
from firmware_bridge.transport.memory import memory_pair
from hil_sim import Simulator

# Replies in the simulator come within milliseconds; a short timeout keeps fault tests quick.
FAST = BusSettings(reply_timeout=0.15, confirm_window=0.6, reprobe_after=30.0)


class SteppableClock:
    """Real monotonic time plus an offset that tests advance to skip cooldowns."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@asynccontextmanager
async def wired(
    sim: Simulator,
    *,
    wrap: Callable[[Transport], Transport] = lambda t: t,
    settings: BusSettings = FAST,
    boards: list[BoardConfig] | None = None,
    clock: SteppableClock | None = None,
) -> AsyncIterator[BusMaster]:
    """A bus master talking to ``sim`` over an in-memory pair, host end wrapped by ``wrap``."""
    host, device = memory_pair()
    server = asyncio.create_task(sim.serve(device))
    configs = boards or [BoardConfig(a) for a in sim.bus.boards]
    master = BusMaster(
        wrap(host), family_named(sim.protocol), configs, settings=settings, clock=clock
    )
    try:
        yield master
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
