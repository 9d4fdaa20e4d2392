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
from firmware_bridge.transport.serial import open_serial
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
    link: str = "memory",
) -> AsyncIterator[BusMaster]:
    """A bus master talking to ``sim``, host end wrapped by ``wrap``.

    ``link="memory"`` serves the simulator on an in-memory pair; ``link="pty"`` starts it on a
    real pseudo-terminal and opens that device path through pyserial, as in the field.
    """
    configs = boards or [BoardConfig(a) for a in sim.bus.boards]
    if link == "pty":
        with sim:
            host: Transport = await open_serial(sim.start(), sim.baud)
            try:
                yield BusMaster(
                    wrap(host), family_named(sim.protocol), configs, settings=settings, clock=clock
                )
            finally:
                await host.close()
        return
    memory_host, device = memory_pair()
    server = asyncio.create_task(sim.serve(device))
    try:
        yield BusMaster(
            wrap(memory_host), family_named(sim.protocol), configs, settings=settings, clock=clock
        )
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
