"""Simulated lock boards: they answer commands from the state of their doors.

Replies are built here from the protocol notes (see ``framing``); delays are real seconds on the
wire clock, door physics runs on the simulation clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from hil_sim.door import Door, DoorEvent
from hil_sim.framing import Command, kerong_reply, xor8a_reply

XOR8A_OPEN = 0x8A11
XOR8A_READ = 0x8033
KERONG_STATUS, KERONG_UNLOCK, KERONG_STATUS_ALL = 0x30, 0x31, 0x32

READ_REPLY_DELAY = 0.003  # a board's processing time before answering a read
PULSE_REPLY_DELAY = 0.02  # an 8A/80 board answers an open after driving the pulse
OPEN_ALL_STEP = 0.01  # per channel, before the open-all echo


@dataclass
class BoardFaults:
    """Faults of one board, changeable while the simulation runs."""

    no_reply: bool = False  # acts on commands but its transmitter is dead
    unplugged: bool = False  # no power: neither acts nor answers
    garbage: float = 0.0  # probability of junk bytes before a reply
    bit_errors: float = 0.0  # probability of each bit of a reply flipping
    slow: float = 0.0  # extra seconds before every reply


class SimBoard(Protocol):
    address: int
    doors: dict[int, Door]
    faults: BoardFaults

    def handle(self, command: Command, now: float) -> tuple[float, bytes] | None: ...


def _doors(address: int, channels: int, close_after: float | None) -> dict[int, Door]:
    return {n: Door(address, n, close_after=close_after) for n in range(1, channels + 1)}


@dataclass
class Xor8aBoard:
    """A generic 8A/80 board with ``channels`` locks, DIP address ``address``."""

    address: int
    channels: int = 24
    set_is_closed: bool = True
    status_bytes: int | None = None  # None: as many as the channels need
    close_after: float | None = 5.0
    faults: BoardFaults = field(default_factory=BoardFaults)
    doors: dict[int, Door] = field(init=False)

    def __post_init__(self) -> None:
        self.doors = _doors(self.address, self.channels, self.close_after)

    def feedback(self, lock: int, now: float) -> bool:
        door = self.doors[lock]
        door.advance(now)
        return door.latch_closed == self.set_is_closed

    def handle(self, command: Command, now: float) -> tuple[float, bytes] | None:
        if command.address != self.address:
            return None
        lock = command.lock
        if command.kind == XOR8A_OPEN and lock == 0:
            for door in self.doors.values():
                door.schedule(now, DoorEvent.PULSE)
            return OPEN_ALL_STEP * self.channels, command.raw
        if lock and lock not in self.doors:
            return None
        if command.kind == XOR8A_OPEN:
            self.doors[lock].schedule(now, DoorEvent.PULSE)
            return PULSE_REPLY_DELAY, self._lock_reply(0x8A, lock, now)
        if command.kind == XOR8A_READ:
            body = self._lock_reply(0x80, lock, now) if lock else self._status(now)
            return READ_REPLY_DELAY, body
        return None

    def _lock_reply(self, header: int, lock: int, now: float) -> bytes:
        feedback = 0x11 if self.feedback(lock, now) else 0x00
        return xor8a_reply(bytes([header, self.address, lock, feedback]))

    def _status(self, now: float) -> bytes:
        count = self.status_bytes or math.ceil(self.channels / 8)
        bits = sum(1 << (n - 1) for n in self.doors if self.feedback(n, now))
        groups = (bits & ((1 << 8 * count) - 1)).to_bytes(count, "big")
        return xor8a_reply(bytes([0x80, self.address, *groups, 0x33]))


@dataclass
class KerongBoard:
    """A Kerong KR-CU16: 16 locks, 16 infrared item sensors, board number ``address``."""

    address: int
    set_is_closed: bool = True
    reply_to_unlock: bool = False
    close_after: float | None = 5.0
    faults: BoardFaults = field(default_factory=BoardFaults)
    doors: dict[int, Door] = field(init=False)

    def __post_init__(self) -> None:
        self.doors = _doors(self.address, 16, self.close_after)

    def handle(self, command: Command, now: float) -> tuple[float, bytes] | None:
        if command.kind == KERONG_STATUS_ALL:
            return READ_REPLY_DELAY * (self.address + 1), self.status(now, all_boards=True)
        if command.address != self.address:
            return None
        if command.kind == KERONG_STATUS:
            return READ_REPLY_DELAY, self.status(now)
        if command.kind == KERONG_UNLOCK:
            self.doors[command.lock + 1].schedule(now, DoorEvent.PULSE)
            return (READ_REPLY_DELAY, self.status(now)) if self.reply_to_unlock else None
        return None

    def status(self, now: float, *, all_boards: bool = False) -> bytes:
        locks = items = 0
        for n, door in self.doors.items():
            door.advance(now)
            locks |= (door.latch_closed == self.set_is_closed) << (n - 1)
            items |= door.item << (n - 1)
        body = bytes([self.address << 4, 0x36 if all_boards else 0x35])
        return kerong_reply(body + locks.to_bytes(2, "little") + items.to_bytes(2, "little"))
