"""Board families as plug-ins for the bus master: a codec plus its timing profile.

The bus master knows nothing of frame layouts; it asks a ``Family`` for the exchange that reads
or unlocks, and for what a reply means under a board's configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from firmware_bridge.codecs import kerong_cu16, xor8a
from firmware_bridge.codecs.stats import ParserStats
from firmware_bridge.model import BoardConfig, BoardStatus, LockState, LockStatus

# Processing time a board may take before its reply starts, beyond the frames' wire time.
# 8A/80: a vendor sheet quotes ~200 ms to answer a read; an open is answered after the ~300 ms
# pulse. Open-Locker runs these boards with a 1.5 s transaction timeout.
XOR8A_READ_ALLOWANCE = 0.5
XOR8A_OPEN_ALLOWANCE = 1.0
# Kerong CU16: the vendor documents "response time < 1 s".
KERONG_ALLOWANCE = 1.0


class FrameParser(Protocol):
    """The streaming parser interface every codec module implements.

    ``expect`` takes the family's own request type; the bus master only ever passes back the
    ``Exchange.request`` the same family built, hence ``Any`` at this seam.
    """

    @property
    def stats(self) -> ParserStats: ...

    def expect(self, request: Any) -> None: ...

    def feed(self, data: bytes) -> Sequence[object]: ...

    def reset(self) -> int: ...

    @property
    def awaiting_silence(self) -> bool: ...

    def end_of_burst(self) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and what the master should wait for in return."""

    request: object
    frame: bytes
    reply_bytes: int  # the longest reply, for the wire-time part of the timeout; 0 = no reply
    allowance: float  # board processing time on top of the wire time


class Family(Protocol):
    """A lock-board protocol, as the bus master sees it."""

    name: str
    default_baud: int
    board_numbers: range

    def new_parser(self) -> FrameParser: ...

    def status_exchange(self, board: BoardConfig, status_bytes: int | None) -> Exchange: ...

    def unlock_exchange(self, board: BoardConfig, lock: int) -> Exchange: ...

    def decode_status(self, board: BoardConfig, reply: object) -> BoardStatus: ...

    def unlock_feedback(self, board: BoardConfig, lock: int, reply: object) -> LockState: ...

    def status_length(self, reply: object) -> int | None: ...


class Xor8aFamily:
    """Generic 8A/80 boards (see ``codecs.xor8a``)."""

    name = "xor8a"
    default_baud = xor8a.DEFAULT_BAUD
    board_numbers = range(xor8a.BOARD_MIN, xor8a.BOARD_MAX + 1)

    def new_parser(self) -> FrameParser:
        return xor8a.Parser()

    def status_exchange(self, board: BoardConfig, status_bytes: int | None) -> Exchange:
        request = xor8a.ReadAll(board.address, board.status_bytes or status_bytes)
        longest = 4 + (request.status_bytes or xor8a.MAX_STATUS_BYTES)
        return Exchange(request, xor8a.encode(request), longest, XOR8A_READ_ALLOWANCE)

    def unlock_exchange(self, board: BoardConfig, lock: int) -> Exchange:
        request = xor8a.OpenLock(board.address, lock)
        return Exchange(request, xor8a.encode(request), 5, XOR8A_OPEN_ALLOWANCE)

    def decode_status(self, board: BoardConfig, reply: object) -> BoardStatus:
        assert isinstance(reply, xor8a.StatusReply)
        count = board.channels or reply.channels
        locks = tuple(
            LockStatus(ch, board.polarity_of(ch).state(reply.feedback(ch)))
            for ch in range(1, count + 1)
        )
        return BoardStatus(board.address, locks)

    def unlock_feedback(self, board: BoardConfig, lock: int, reply: object) -> LockState:
        assert isinstance(reply, xor8a.OpenReply)
        return board.polarity_of(lock).state(reply.feedback_set)

    def status_length(self, reply: object) -> int | None:
        return len(reply.status) if isinstance(reply, xor8a.StatusReply) else None


class KerongCu16Family:
    """Kerong KR-CU16 boards (see ``codecs.kerong_cu16``)."""

    name = "kerong-cu16"
    default_baud = kerong_cu16.DEFAULT_BAUD
    board_numbers = range(kerong_cu16.BOARD_MIN, kerong_cu16.BOARD_MAX + 1)

    def new_parser(self) -> FrameParser:
        return kerong_cu16.Parser()

    def status_exchange(self, board: BoardConfig, status_bytes: int | None) -> Exchange:
        request = kerong_cu16.Status(board.address)
        frame = kerong_cu16.encode(request)
        return Exchange(request, frame, kerong_cu16.REPLY_LEN, KERONG_ALLOWANCE)

    def unlock_exchange(self, board: BoardConfig, lock: int) -> Exchange:
        # No reliable reply to an unlock: fire, then confirm with status reads.
        request = kerong_cu16.Unlock(board.address, lock)
        return Exchange(request, kerong_cu16.encode(request), 0, 0.0)

    def decode_status(self, board: BoardConfig, reply: object) -> BoardStatus:
        assert isinstance(reply, kerong_cu16.StatusReply)
        count = board.channels or kerong_cu16.LOCK_MAX
        locks = tuple(
            LockStatus(ch, board.polarity_of(ch).state(reply.lock_bit(ch)), reply.item_present(ch))
            for ch in range(1, count + 1)
        )
        return BoardStatus(board.address, locks)

    def unlock_feedback(self, board: BoardConfig, lock: int, reply: object) -> LockState:
        return LockState.UNKNOWN

    def status_length(self, reply: object) -> int | None:
        return None


FAMILIES: dict[str, Family] = {f.name: f for f in (Xor8aFamily(), KerongCu16Family())}


def family_named(name: str) -> Family:
    """The family registered as ``name``; ``KeyError`` lists the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(FAMILIES))
        raise KeyError(f"unknown protocol {name!r}; known: {known}") from None
