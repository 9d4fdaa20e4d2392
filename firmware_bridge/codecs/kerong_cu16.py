"""Kerong KR-CU16 lock boards: STX/ETX frames with an 8-bit sum, 19200 8N1, boards 0-15.

Wire format (SUM is the low byte of the sum of every byte before it)::

    status of one board   02 ADDR 30 03 SUM   reply  02 ADDR 35 L1 L2 I1 I2 03 SUM
    unlock one lock       02 ADDR 31 03 SUM   reply  none reliably: confirm with a status read
    status of all boards  02 F0 32 03 SUM     reply  02 ADDR 36 L1 L2 I1 I2 03 SUM per board

``ADDR`` is ``board << 4 | lock index`` (lock index 0-15 for locks 1-16). ``L1 L2`` is the lock
(latch) bitmap and ``I1 I2`` the infrared item bitmap, each a little-endian 16-bit word with bit 0
for lock 1. Public drivers disagree on whether a set lock bit means locked, so replies carry raw
bits and the caller applies the board's configured polarity; every source agrees that a set item
bit means an item is present.

Frames are self-delimiting: the command byte fixes the length, so this parser needs no silence.
It is still told which request it awaits, to tell a reply from an echo or another board's answer.
The layout of the ``0x36`` all-boards reply is assumed to match ``0x35``; no capture of it was
published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from firmware_bridge.codecs.checksum import sum8
from firmware_bridge.codecs.stream import SelfDelimitingParser
from firmware_bridge.errors import InvalidRequest

DEFAULT_BAUD = 19200

STX = 0x02
ETX = 0x03
CMD_STATUS = 0x30
CMD_UNLOCK = 0x31
CMD_STATUS_ALL = 0x32
REPLY_STATUS = 0x35
REPLY_STATUS_ALL = 0x36
BROADCAST = 0xF0  # "every board on the bus", with CMD_STATUS_ALL

BOARD_MIN = 0
BOARD_MAX = 15
LOCK_MIN = 1
LOCK_MAX = 16

REQUEST_LEN = 5
REPLY_LEN = 9
_FRAME_LEN = {CMD_STATUS: REQUEST_LEN, CMD_UNLOCK: REQUEST_LEN, CMD_STATUS_ALL: REQUEST_LEN}
_FRAME_LEN |= {REPLY_STATUS: REPLY_LEN, REPLY_STATUS_ALL: REPLY_LEN}


def _check_board(board: int) -> None:
    if not BOARD_MIN <= board <= BOARD_MAX:
        raise InvalidRequest(f"Kerong board number must be {BOARD_MIN}-{BOARD_MAX}, got {board}")


@dataclass(frozen=True, slots=True)
class Status:
    """Ask one board for its lock and item bitmaps."""

    board: int

    def __post_init__(self) -> None:
        _check_board(self.board)


@dataclass(frozen=True, slots=True)
class Unlock:
    """Pulse one lock (1-16). Confirm the outcome with a ``Status`` read."""

    board: int
    lock: int

    def __post_init__(self) -> None:
        _check_board(self.board)
        if not LOCK_MIN <= self.lock <= LOCK_MAX:
            raise InvalidRequest(f"Kerong lock must be {LOCK_MIN}-{LOCK_MAX}, got {self.lock}")


@dataclass(frozen=True, slots=True)
class StatusAll:
    """Ask every board on the bus for its bitmaps (one ``0x36`` reply per board)."""


Request = Status | Unlock | StatusAll


@dataclass(frozen=True, slots=True)
class StatusReply:
    """Lock and item bitmaps of one board; ``all_boards`` marks a ``0x36`` reply."""

    board: int
    locks: int
    items: int
    all_boards: bool = False

    def lock_bit(self, lock: int) -> bool:
        """Raw latch bit of ``lock`` (1-16)."""
        return bool(self.locks >> (lock - 1) & 1)

    def item_present(self, lock: int) -> bool:
        """Whether the infrared sensor of ``lock``'s compartment sees an item."""
        return bool(self.items >> (lock - 1) & 1)


Reply = StatusReply


def _frame(addr: int, body: bytes) -> bytes:
    head = bytes([STX, addr]) + body + bytes([ETX])
    return head + bytes([sum8(head)])


def encode(request: Request) -> bytes:
    """The bytes that carry ``request`` on the wire."""
    match request:
        case Status(board):
            return _frame(board << 4, bytes([CMD_STATUS]))
        case Unlock(board, lock):
            return _frame(board << 4 | (lock - 1), bytes([CMD_UNLOCK]))
        case StatusAll():
            return _frame(BROADCAST, bytes([CMD_STATUS_ALL]))
        case _:
            assert_never(request)


def encode_reply(reply: Reply) -> bytes:
    """The bytes a board sends for ``reply`` (for tests and tools; the simulator has its own)."""
    cmd = REPLY_STATUS_ALL if reply.all_boards else REPLY_STATUS
    body = bytes([cmd]) + reply.locks.to_bytes(2, "little") + reply.items.to_bytes(2, "little")
    return _frame(reply.board << 4, body)


def _answers(expect: Request, reply: StatusReply) -> bool:
    if isinstance(expect, StatusAll):
        return reply.all_boards
    return not reply.all_boards and reply.board == expect.board


class Parser(SelfDelimitingParser[Request, Reply]):
    """Streaming parser for replies from KR-CU16 boards; never raises on line noise."""

    def _next(self) -> Reply | None:
        while True:
            expect = self._expect
            index = self._buf.find(STX)
            self._drop(len(self._buf) if expect is None or index < 0 else index)
            if len(self._buf) < 3:
                return None
            length = _FRAME_LEN.get(self._buf[2], 0)
            if len(self._buf) < length:
                return None
            frame = bytes(self._buf[:length])
            if not length or frame[-2] != ETX or sum8(frame[:-1]) != frame[-1]:
                self.stats.bad_frames += 1
                self._drop(1)
                continue
            del self._buf[:length]
            reply = _decode(frame)
            if reply is not None and expect is not None and _answers(expect, reply):
                self.stats.frames += 1
                return reply
            self.stats.unexpected_frames += 1


def _decode(frame: bytes) -> StatusReply | None:
    """A checksum-valid frame as a reply, or None for a request (an echo of the master)."""
    if len(frame) != REPLY_LEN:
        return None
    return StatusReply(
        board=frame[1] >> 4,
        locks=int.from_bytes(frame[3:5], "little"),
        items=int.from_bytes(frame[5:7], "little"),
        all_boards=frame[2] == REPLY_STATUS_ALL,
    )
