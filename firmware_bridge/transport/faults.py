"""Transport wrappers that misbehave on purpose, for tests (bellows and pymodbus do the same).

Each wraps any ``Transport`` and is seeded, so a failing run can be replayed.
"""

from __future__ import annotations

import asyncio
import random

from firmware_bridge.transport import Transport


class _Wrapper:
    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    async def write(self, data: bytes) -> None:
        await self.inner.write(data)

    async def read(self, timeout: float) -> bytes:
        return await self.inner.read(timeout)

    def discard_input(self) -> bytes:
        return self.inner.discard_input()

    async def close(self) -> None:
        await self.inner.close()


class OneByteAtATime(_Wrapper):
    """Delivers received bytes one per read, and writes one byte per call."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner)
        self._pending = bytearray()

    async def write(self, data: bytes) -> None:
        for byte in data:
            await self.inner.write(bytes([byte]))
            await asyncio.sleep(0)

    async def read(self, timeout: float) -> bytes:
        if not self._pending:
            self._pending += await self.inner.read(timeout)
        head = bytes(self._pending[:1])
        del self._pending[:1]
        return head

    def discard_input(self) -> bytes:
        stale = bytes(self._pending) + self.inner.discard_input()
        self._pending.clear()
        return stale


class DropWrites(_Wrapper):
    """Loses whole writes with probability ``rate`` (a frame that never reached the line)."""

    def __init__(self, inner: Transport, rate: float, seed: int = 0) -> None:
        super().__init__(inner)
        self.rate = rate
        self.dropped = 0
        self._rng = random.Random(seed)

    async def write(self, data: bytes) -> None:
        if self._rng.random() < self.rate:
            self.dropped += 1
            return
        await self.inner.write(data)


class Garble(_Wrapper):
    """Corrupts received bytes: ``junk`` before each burst, and each bit flipped with ``ber``.

    A burst starts with the first bytes after a silent read or a flush, so the junk lands before
    a reply whether the line delivers it whole or one byte at a time.
    """

    def __init__(self, inner: Transport, *, junk: bytes = b"", ber: float = 0.0, seed: int = 0):
        super().__init__(inner)
        self.junk = junk
        self.ber = ber
        self._rng = random.Random(seed)
        self._burst_start = True

    async def read(self, timeout: float) -> bytes:
        data = await self.inner.read(timeout)
        junk = self.junk if data and self._burst_start else b""
        self._burst_start = not data
        return junk + bytes(self._flip(byte) for byte in data)

    def discard_input(self) -> bytes:
        self._burst_start = True
        return self.inner.discard_input()

    def _flip(self, byte: int) -> int:
        for bit in range(8):
            if self._rng.random() < self.ber:
                byte ^= 1 << bit
        return byte


class Delay(_Wrapper):
    """Holds every received chunk back by ``seconds`` (a slow board or a laggy USB adapter)."""

    def __init__(self, inner: Transport, seconds: float) -> None:
        super().__init__(inner)
        self.seconds = seconds

    async def read(self, timeout: float) -> bytes:
        data = await self.inner.read(timeout)
        if data:
            await asyncio.sleep(self.seconds)
        return data
