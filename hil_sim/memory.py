"""Serve a ``SimBus`` on an in-memory transport, for tests that need no pseudo-terminal."""

from __future__ import annotations

import asyncio
import time

from firmware_bridge.timing import wire_time
from firmware_bridge.transport import Transport
from hil_sim.bus import SimBus


async def serve(bus: SimBus, transport: Transport, baud: int) -> None:
    """Answer the master on ``transport`` until cancelled; replies keep their simulated delays."""
    sending: set[asyncio.Task[None]] = set()
    try:
        while True:
            data = await transport.read(3600)
            if not data:
                continue
            ended = time.perf_counter() + wire_time(len(data), baud)
            for tx in bus.receive(data, ended):
                task = asyncio.create_task(_send_at(transport, tx.at, tx.data))
                sending.add(task)
                task.add_done_callback(sending.discard)
    finally:
        for task in sending:
            task.cancel()


async def _send_at(transport: Transport, at: float, data: bytes) -> None:
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    await transport.write(data)
