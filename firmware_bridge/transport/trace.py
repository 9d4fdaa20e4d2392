"""A transport wrapper that reports every byte in and out, for the demo and for debugging."""

from __future__ import annotations

import time
from collections.abc import Callable

from firmware_bridge.transport import Transport

TraceSink = Callable[[str, bytes, float], None]


class Tracing:
    """Calls ``sink(direction, data, monotonic_time)`` for each write ("tx") and read ("rx")."""

    def __init__(self, inner: Transport, sink: TraceSink) -> None:
        self.inner = inner
        self.sink = sink

    async def write(self, data: bytes) -> None:
        await self.inner.write(data)
        self.sink("tx", data, time.monotonic())

    async def read(self, timeout: float) -> bytes:
        data = await self.inner.read(timeout)
        if data:
            self.sink("rx", data, time.monotonic())
        return data

    def discard_input(self) -> bytes:
        stale = self.inner.discard_input()
        if stale:
            self.sink("stale", stale, time.monotonic())
        return stale

    async def close(self) -> None:
        await self.inner.close()
