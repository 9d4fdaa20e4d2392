"""Two connected in-memory transports: what one end writes, the other reads."""

from __future__ import annotations

from firmware_bridge.errors import TransportError
from firmware_bridge.transport.inbox import Inbox


class MemoryTransport:
    """One end of an in-memory pair (see ``memory_pair``)."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.peer: MemoryTransport | None = None
        self.closed = False

    async def write(self, data: bytes) -> None:
        if self.closed or self.peer is None:
            raise TransportError("memory transport is closed")
        self.peer.inbox.push(data)

    async def read(self, timeout: float) -> bytes:
        return await self.inbox.read(timeout)

    def discard_input(self) -> bytes:
        return self.inbox.take()

    async def close(self) -> None:
        self.closed = True
        self.inbox.close("memory transport is closed")


def memory_pair() -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected ends: ``host`` for the bus master, ``device`` for a simulated bus."""
    host, device = MemoryTransport(), MemoryTransport()
    host.peer, device.peer = device, host
    return host, device
