"""Byte pipes the bus master runs over: one interface, several implementations.

``Transport`` is the seam. ``serial.open_serial`` opens a real port (a device path, a stable
``/dev/serial/by-id/...`` link or a ``socket://host:port`` URL) through pyserial-asyncio-fast;
``memory.memory_pair`` gives two connected ends for tests; ``faults`` wraps any transport to split,
drop, garble or delay bytes; ``trace.Tracing`` logs every byte with a timestamp.
"""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    """A full-duplex byte pipe with a receive buffer the owner can flush."""

    async def write(self, data: bytes) -> None:
        """Queue ``data`` for the line; raises ``TransportError`` when the pipe is gone."""

    async def read(self, timeout: float) -> bytes:
        """Wait up to ``timeout`` seconds for at least one byte; ``b""`` when none came."""

    def discard_input(self) -> bytes:
        """Drop and return whatever was received but not yet read (stale bytes)."""

    async def close(self) -> None:
        """Release the pipe; further writes raise ``TransportError``."""
