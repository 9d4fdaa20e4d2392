"""Bus master against the twin over an in-memory pair, under every fault the line can show.

The table below is the contract: a fault, an operation, and the outcome a user must get. No row
may ever produce a false "opened": every OPENED is checked against the simulated door.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from firmware_bridge.bus import BusMaster, BusSettings, UnlockOutcome
from firmware_bridge.errors import (
    BoardNoReply,
    BoardOffline,
    TransportError,
    UnlockNotSent,
    UnlockOutcomeUnknown,
)
from firmware_bridge.model import BoardConfig, LockState, Polarity
from firmware_bridge.transport import Transport
from firmware_bridge.transport.faults import Delay, DropWrites, Garble, OneByteAtATime
from hil_sim import Simulator
from hil_sim.door import SPRING_DELAY, DoorState
from tests.firmware_bridge.conftest import FAST, SteppableClock, wired


@dataclass(frozen=True)
class Case:
    name: str
    protocol: str
    wrap: Callable[[Transport], Transport] = lambda t: t
    faults: str = ""
    expect: UnlockOutcome | type[Exception] = UnlockOutcome.OPENED


def _board(protocol: str) -> int:
    return 0 if protocol == "kerong-cu16" else 1


CASES = [
    row
    for protocol in ("xor8a", "kerong-cu16")
    for row in (
        Case("clean line", protocol),
        Case("one byte at a time", protocol, wrap=OneByteAtATime),
        Case("garbage before every reply", protocol, faults="garbage=1"),
        Case("junk with header bytes", protocol, wrap=lambda t: Garble(t, junk=b"\x8a\x02\x80")),
        Case("slow but within timeout", protocol, wrap=lambda t: Delay(t, 0.05)),
        Case(
            "jammed lock",
            protocol,
            faults=f"jammed@{_board(protocol)}/3",
            expect=UnlockOutcome.NOT_OPENED,
        ),
        Case("silent board", protocol, faults="no-reply", expect=BoardNoReply),
        Case("unplugged board", protocol, faults="unplugged", expect=BoardNoReply),
        # Later than every attempt's window (3 x 0.15 s); a reply only somewhat late can answer
        # a retry, since status replies carry no sequence number (still a genuine reading).
        Case("reply later than every retry", protocol, faults="slow=1.0", expect=BoardNoReply),
    )
]


@pytest.mark.parametrize("link", ["memory", pytest.param("pty", marks=pytest.mark.pty)])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.protocol}: {c.name}")
async def test_fault_table(case: Case, link: str) -> None:
    sim = Simulator(case.protocol, [_board(case.protocol)], faults=case.faults, close_after=None)
    board = _board(case.protocol)
    async with wired(sim, wrap=case.wrap, link=link) as bus:
        if isinstance(case.expect, UnlockOutcome):
            result = await bus.open_lock(board, 3)
            assert result.outcome is case.expect
        else:
            with pytest.raises(case.expect):
                await bus.open_lock(board, 3)
    opened = sim.door(board, 3).state is not DoorState.LOCKED
    assert opened == (case.expect is UnlockOutcome.OPENED)


@pytest.mark.parametrize("protocol", ["xor8a", "kerong-cu16"])
async def test_twenty_percent_lost_writes_never_yield_a_false_opened(protocol: str) -> None:
    board = _board(protocol)
    sim = Simulator(protocol, [board], close_after=None)
    outcomes = []
    lossy = BusSettings(reply_timeout=0.15, confirm_window=0.6, offline_after=8)
    async with wired(sim, wrap=lambda t: DropWrites(t, 0.2, seed=7), settings=lossy) as bus:
        for lock in range(1, 13):
            try:
                result = await bus.open_lock(board, lock)
            except (BoardNoReply, UnlockOutcomeUnknown) as exc:
                outcomes.append(type(exc).__name__)
                continue
            outcomes.append(result.outcome.value)
            door_open = sim.door(board, lock).state is not DoorState.LOCKED
            assert (result.outcome is UnlockOutcome.OPENED) == door_open, lock
        assert bus.metrics.retries > 0
    assert outcomes.count("opened") >= 6, outcomes


@pytest.mark.parametrize("protocol", ["xor8a", "kerong-cu16"])
async def test_bit_errors_never_yield_a_false_opened(protocol: str) -> None:
    board = _board(protocol)
    sim = Simulator(protocol, [board], faults=f"bit-errors=0.02,jammed@{board}/2", close_after=None)
    async with wired(sim) as bus:
        for lock in (1, 2, 3, 2, 4):
            try:
                result = await bus.open_lock(board, lock)
            except (BoardNoReply, UnlockOutcomeUnknown, BoardOffline):
                continue
            if result.outcome is UnlockOutcome.OPENED:
                assert sim.door(board, lock).state is not DoorState.LOCKED
        assert bus.parser.stats.bad_frames + bus.metrics.timeouts > 0


async def test_transmitter_dead_after_unlock_gives_unknown_not_opened() -> None:
    sim = Simulator("xor8a", [1], close_after=None)
    async with wired(sim) as bus:
        await bus.confirmed_status(1)
        sim.faults(1).no_reply = True
        with pytest.raises(UnlockOutcomeUnknown):
            await bus.open_lock(1, 4)
    # The board did act: the door is open even though nothing could be read back.
    assert sim.door(1, 4).state is DoorState.OPEN


async def test_already_open_door_is_not_pulsed() -> None:
    sim = Simulator("xor8a", [1], close_after=None)
    sim.force_open(1, 2)
    async with wired(sim) as bus:
        result = await bus.open_lock(1, 2)
    assert result.outcome is UnlockOutcome.ALREADY_OPEN
    assert not any(f.data[0] == 0x8A for f in sim.frames)


async def test_unlock_is_never_resent() -> None:
    sim = Simulator("xor8a", [1], faults="jammed@1/1", close_after=None)
    async with wired(sim) as bus:
        await bus.open_lock(1, 1)
    assert sum(f.data[0] == 0x8A for f in sim.frames) == 1


async def test_write_failure_means_unlock_not_sent() -> None:
    sim = Simulator("xor8a", [1])
    async with wired(sim) as bus:
        await bus.confirmed_status(1)
        await bus.transport.close()
        with pytest.raises(UnlockNotSent):
            await bus.open_lock(1, 1)


@pytest.mark.parametrize("link", ["memory", pytest.param("pty", marks=pytest.mark.pty)])
async def test_board_goes_offline_and_is_reprobed_after_cooldown(link: str) -> None:
    clock = SteppableClock()
    sim = Simulator("xor8a", [1], faults="unplugged")
    settings = BusSettings(reply_timeout=0.05, read_retries=2, offline_after=3, reprobe_after=60)
    async with wired(sim, settings=settings, clock=clock, link=link) as bus:
        with pytest.raises(BoardNoReply):
            await bus.read_status(1)
        assert not bus.health(1).online
        with pytest.raises(BoardOffline):
            await bus.read_status(1)
        sent = len(sim.frames)
        sim.plug(1)
        with pytest.raises(BoardOffline):
            await bus.read_status(1)
        assert len(sim.frames) == sent  # an offline board is not polled before its cooldown
        clock.advance(61)
        await bus.read_status(1)
        assert bus.health(1).online


async def test_flapping_reading_is_not_believed_until_read_twice() -> None:
    sim = Simulator("xor8a", [1], close_after=None)
    async with wired(sim) as bus:
        first = await bus.confirmed_status(1)
        assert first.lock(5).state is LockState.CLOSED
        assert bus.metrics.transactions >= 2  # the first belief takes two agreeing readings
        sim.force_open(1, 5)
        after = await bus.confirmed_status(1)
        assert after.lock(5).state is LockState.OPEN


async def test_status_length_is_learned_after_two_agreeing_replies() -> None:
    # An 8-channel board that answers with three status bytes, as captured in the field.
    sim = Simulator("xor8a", [1], channels=8, status_bytes=3)
    async with wired(sim, boards=[BoardConfig(1, channels=8)]) as bus:
        status = await bus.confirmed_status(1)
        assert len(status.locks) == 8
        assert bus.family.status_exchange(BoardConfig(1), None).reply_bytes == 12
        assert bus._boards[1].status_bytes == 3


@pytest.mark.parametrize("protocol", ["xor8a", "kerong-cu16"])
async def test_polarity_is_configuration(protocol: str) -> None:
    board = _board(protocol)
    sim = Simulator(protocol, [board], set_is_closed=False, close_after=None)
    configs = [BoardConfig(board, polarity=Polarity.SET_IS_OPEN)]
    async with wired(sim, boards=configs) as bus:
        assert (await bus.confirmed_status(board)).lock(1).state is LockState.CLOSED
        assert (await bus.open_lock(board, 1)).outcome is UnlockOutcome.OPENED
    wrong = Simulator(protocol, [board], set_is_closed=False)
    async with wired(wrong) as bus:
        # Wrong polarity configured: every shut door reads open, so nothing is pulsed.
        assert (await bus.open_lock(board, 1)).outcome is UnlockOutcome.ALREADY_OPEN


async def test_kerong_reports_items() -> None:
    sim = Simulator("kerong-cu16", [2], close_after=None)
    async with wired(sim) as bus:
        assert (await bus.open_lock(2, 7)).outcome is UnlockOutcome.OPENED
        await asyncio.sleep(SPRING_DELAY)  # the latch is free; the door springs a moment later
        sim.put_item(2, 7)
        sim.close_door(2, 7)
        status = await bus.confirmed_status(2)
    assert status.lock(7).item is True
    assert status.lock(7).state is LockState.CLOSED
    assert status.lock(6).item is False


async def test_scan_finds_boards_without_touching_health() -> None:
    sim = Simulator("xor8a", [3, 7])
    async with wired(sim) as bus:
        assert await bus.scan(range(1, 9)) == [3, 7]
        assert bus.health(1).online


async def test_metrics_count_frames_and_latency() -> None:
    sim = Simulator("kerong-cu16", [0])
    async with wired(sim) as bus:
        await bus.read_status(0)
        assert bus.metrics.frames_sent == bus.metrics.replies == 1
        assert len(bus.metrics.latencies) == 1


async def test_closed_transport_is_a_transport_error() -> None:
    sim = Simulator("xor8a", [1])
    async with wired(sim, settings=FAST) as bus:
        await bus.transport.close()
        with pytest.raises(TransportError):
            await bus.read_status(1)


def test_bus_master_is_constructed_with_family_defaults() -> None:
    from firmware_bridge.families import family_named
    from firmware_bridge.transport.memory import memory_pair

    host, _ = memory_pair()
    assert BusMaster(host, family_named("kerong-cu16")).baud == 19200
    with pytest.raises(KeyError, match="known: kerong-cu16, xor8a"):
        family_named("modbus")
