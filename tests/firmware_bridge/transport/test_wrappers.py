"""The in-memory pair and the fault and tracing wrappers."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import TransportError
from firmware_bridge.transport.faults import Delay, DropWrites, Garble, OneByteAtATime
from firmware_bridge.transport.memory import memory_pair
from firmware_bridge.transport.trace import Tracing


async def test_memory_pair_carries_bytes_both_ways_and_times_out() -> None:
    host, device = memory_pair()
    await host.write(b"ping")
    assert await device.read(0.1) == b"ping"
    await device.write(b"pong")
    assert host.discard_input() == b"pong"
    assert await host.read(0.01) == b""


async def test_closed_memory_end_refuses() -> None:
    host, _ = memory_pair()
    await host.close()
    with pytest.raises(TransportError):
        await host.write(b"x")
    with pytest.raises(TransportError):
        await host.read(0.01)


async def test_one_byte_at_a_time() -> None:
    host, device = memory_pair()
    slow = OneByteAtATime(host)
    await slow.write(b"ab")
    assert await device.read(0.1) == b"ab"
    await device.write(b"xyz")
    assert [await slow.read(0.1) for _ in range(2)] == [b"x", b"y"]
    assert slow.discard_input() == b"z"


async def test_drop_writes_is_seeded() -> None:
    host, device = memory_pair()
    lossy = DropWrites(host, 0.5, seed=1)
    for i in range(20):
        await lossy.write(bytes([i]))
    assert len(device.discard_input()) == 20 - lossy.dropped
    assert 0 < lossy.dropped < 20


async def test_garble_prepends_junk_and_flips_bits() -> None:
    host, device = memory_pair()
    await device.write(b"\x00" * 64)
    garbled = await Garble(host, junk=b"\xff", ber=0.5, seed=3).read(0.1)
    assert garbled[:1] == b"\xff"
    assert garbled[1:] != b"\x00" * 64
    assert await Garble(host).read(0.01) == b""


async def test_delay_and_tracing() -> None:
    host, device = memory_pair()
    seen: list[tuple[str, bytes]] = []
    traced = Tracing(Delay(host, 0.01), lambda d, b, _t: seen.append((d, b)))
    await traced.write(b"\x80")
    await device.write(b"\x81")
    assert await traced.read(0.2) == b"\x81"
    await device.write(b"\x82")
    traced.discard_input()
    await traced.close()
    assert seen == [("tx", b"\x80"), ("rx", b"\x81"), ("stale", b"\x82")]
