"""A receive buffer that asyncio protocols push into and transports read from."""

from __future__ import annotations

import asyncio

from firmware_bridge.errors import TransportError


class Inbox:
    """Bytes received but not yet read, with a wake-up for readers."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ready = asyncio.Event()
        self._closed_reason: str | None = None

    def push(self, data: bytes) -> None:
        self._data += data
        self._ready.set()

    def close(self, reason: str) -> None:
        self._closed_reason = reason
        self._ready.set()

    def take(self) -> bytes:
        data = bytes(self._data)
        self._data.clear()
        self._ready.clear()
        return data

    async def read(self, timeout: float) -> bytes:
        if not self._data and self._closed_reason is None:
            try:
                async with asyncio.timeout(max(0.0, timeout)):
                    await self._ready.wait()
            except TimeoutError:
                return b""
        if not self._data and self._closed_reason is not None:
            raise TransportError(self._closed_reason)
        return self.take()
