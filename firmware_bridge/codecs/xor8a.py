"""Generic 锁控板 "8A/80" lock boards: XOR-checked frames, 9600 8N1, DIP addresses 1-31.

Wire format (every frame ends in X, the XOR of all bytes before it)::

    open one lock    8A BB LL 11 X      reply  8A BB LL SS X     SS = 00 or 11
    open all locks   8A BB 00 11 X      reply  the same bytes, after every lock has pulsed
    read one lock    80 BB LL 33 X      reply  80 BB LL SS X
    read all locks   80 BB 00 33 X      reply  80 BB Sn .. S1 33 X

``S1`` carries channels 1-8 (bit 0 = channel 1), ``S2`` channels 9-16 and so on; the first status
byte on the wire is the highest group. The number of status bytes is a property of the board's
firmware, not of its channel count (an 8-channel board was captured answering with three).
Whether ``11`` / a set bit means "latch closed" depends on how the feedback switch is wired, so
replies carry the raw feedback bit and polarity is applied by the caller.

The read-all reply has no length field. The parser is therefore told which request it awaits
(``Parser.expect``); when the caller knows how many status bytes the board sends it passes
``ReadAll.status_bytes`` and the frame completes on its last byte, otherwise a checksum-valid
candidate is held until the caller reports line silence with ``end_of_burst`` and the longest
valid candidate wins. See ``docs/decisions/0002-xor8a-reply-framing.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never

from firmware_bridge.codecs.checksum import xor_bcc
from firmware_bridge.codecs.stream import StreamParser
from firmware_bridge.errors import InvalidRequest

DEFAULT_BAUD = 9600

HEADER_OPEN = 0x8A
HEADER_READ = 0x80
CMD_OPEN = 0x11
CMD_READ = 0x33
ALL_LOCKS = 0x00
FEEDBACK_SET = 0x11
FEEDBACK_CLEAR = 0x00

BOARD_MIN = 1
BOARD_MAX = 31  # five DIP switches; 0 is not a board address in this family
LOCK_MIN = 1
LOCK_MAX = 50  # the largest board sold has 50 channels
MAX_STATUS_BYTES = 8  # 50 channels need 7; one spare for firmware that pads

FIXED_FRAME_LEN = 5
_MIN_STATUS_FRAME = 5  # 80 BB S1 33 X
_MAX_STATUS_FRAME = 4 + MAX_STATUS_BYTES


def _check_board(board: int) -> None:
    if not BOARD_MIN <= board <= BOARD_MAX:
        raise InvalidRequest(f"8A/80 board address must be {BOARD_MIN}-{BOARD_MAX}, got {board}")


def _check_lock(lock: int) -> None:
    if not LOCK_MIN <= lock <= LOCK_MAX:
        raise InvalidRequest(f"8A/80 lock must be {LOCK_MIN}-{LOCK_MAX}, got {lock}")


@dataclass(frozen=True, slots=True)
class _OneLock:
    """A request for one lock of one board, both in range."""

    board: int
    lock: int

    def __post_init__(self) -> None:
        _check_board(self.board)
        _check_lock(self.lock)


@dataclass(frozen=True, slots=True)
class OpenLock(_OneLock):
    """Pulse one lock. The reply reports the feedback switch right after the pulse."""


@dataclass(frozen=True, slots=True)
class OpenAll:
    """Pulse every lock of a board in turn; the echo comes back once all have pulsed."""

    board: int

    def __post_init__(self) -> None:
        _check_board(self.board)


@dataclass(frozen=True, slots=True)
class ReadLock(_OneLock):
    """Read one lock's feedback switch."""


@dataclass(frozen=True, slots=True)
class ReadAll:
    """Read every feedback switch of a board.

    ``status_bytes`` is how many status bytes this board's firmware sends, when known; it lets the
    parser complete the reply on its last byte instead of waiting for line silence.
    """

    board: int
    status_bytes: int | None = None

    def __post_init__(self) -> None:
        _check_board(self.board)
        if self.status_bytes is not None and not 1 <= self.status_bytes <= MAX_STATUS_BYTES:
            raise InvalidRequest(
                f"8A/80 status byte count must be 1-{MAX_STATUS_BYTES}, got {self.status_bytes}"
            )


Request = OpenLock | OpenAll | ReadLock | ReadAll


@dataclass(frozen=True, slots=True)
class OpenReply:
    """Answer to ``OpenLock`` (``lock`` = the lock) or ``OpenAll`` (``lock`` = 0)."""

    board: int
    lock: int
    feedback_set: bool


@dataclass(frozen=True, slots=True)
class LockReply:
    """Answer to ``ReadLock``: the raw feedback bit of one lock."""

    board: int
    lock: int
    feedback_set: bool


@dataclass(frozen=True, slots=True)
class StatusReply:
    """Answer to ``ReadAll``: status bytes exactly as on the wire, highest group first."""

    board: int
    status: bytes

    @property
    def channels(self) -> int:
        """How many channels the reply carries bits for (8 per status byte)."""
        return 8 * len(self.status)

    def feedback(self, channel: int, *, lowest_group_first: bool = False) -> bool | None:
        """Raw feedback bit of ``channel`` (1-based), or None when the reply does not carry it.

        ``lowest_group_first`` reads boards whose firmware puts channels 1-8 in the first status
        byte (one published driver documents that order; most put them last).
        """
        group, bit = divmod(channel - 1, 8)
        if channel < 1 or group >= len(self.status):
            return None
        index = group if lowest_group_first else len(self.status) - 1 - group
        return bool(self.status[index] >> bit & 1)


Reply = OpenReply | LockReply | StatusReply


def _with_bcc(body: bytes) -> bytes:
    return body + bytes([xor_bcc(body)])


def encode(request: Request) -> bytes:
    """The bytes that carry ``request`` on the wire."""
    match request:
        case OpenLock(board, lock):
            return _with_bcc(bytes([HEADER_OPEN, board, lock, CMD_OPEN]))
        case OpenAll(board):
            return _with_bcc(bytes([HEADER_OPEN, board, ALL_LOCKS, CMD_OPEN]))
        case ReadLock(board, lock):
            return _with_bcc(bytes([HEADER_READ, board, lock, CMD_READ]))
        case ReadAll(board):
            return _with_bcc(bytes([HEADER_READ, board, ALL_LOCKS, CMD_READ]))
        case _:
            assert_never(request)


def _feedback_byte(feedback_set: bool) -> int:
    return FEEDBACK_SET if feedback_set else FEEDBACK_CLEAR


def encode_reply(reply: Reply) -> bytes:
    """The bytes a board sends for ``reply`` (for tests and tools; the simulator has its own)."""
    match reply:
        case OpenReply(board, lock, feedback_set):
            return _with_bcc(bytes([HEADER_OPEN, board, lock, _feedback_byte(feedback_set)]))
        case LockReply(board, lock, feedback_set):
            return _with_bcc(bytes([HEADER_READ, board, lock, _feedback_byte(feedback_set)]))
        case StatusReply(board, status):
            return _with_bcc(bytes([HEADER_READ, board, *status, CMD_READ]))
        case _:
            assert_never(reply)


def _header_of(request: Request) -> int:
    return HEADER_OPEN if isinstance(request, OpenLock | OpenAll) else HEADER_READ


def _fixed_reply(expect: Request, frame: bytes) -> Reply | None:
    """Decode a checksum-valid 5-byte frame, or None when its feedback byte is not 00/11."""
    if frame[3] not in (FEEDBACK_SET, FEEDBACK_CLEAR):
        return None
    feedback_set = frame[3] == FEEDBACK_SET
    if isinstance(expect, ReadLock):
        return LockReply(frame[1], frame[2], feedback_set)
    return OpenReply(frame[1], frame[2], feedback_set)


def _answers(expect: Request, reply: Reply) -> bool:
    if isinstance(reply, StatusReply):
        return reply.board == expect.board
    wanted = expect.lock if isinstance(expect, OpenLock | ReadLock) else ALL_LOCKS
    return (reply.board, reply.lock) == (expect.board, wanted)


class Parser(StreamParser[Request]):
    """Streaming parser for replies from 8A/80 boards.

    Tell it the request whose reply you await (``expect``), ``feed`` it bytes as they arrive, and
    for a read-all of unknown length call ``end_of_burst`` once the line has been silent for 3.5
    character times. It never raises on line noise: ``stats`` counts it.
    """

    @property
    def awaiting_silence(self) -> bool:
        """True when a checksum-valid reply of unknown length waits for ``end_of_burst``."""
        expect = self._expect
        return (
            isinstance(expect, ReadAll)
            and expect.status_bytes is None
            and bool(self._status_candidates())
        )

    def feed(self, data: bytes) -> list[Reply]:
        """Add received bytes; return every reply they complete."""
        self._buf += data
        return self._drain(silent=False)

    def end_of_burst(self) -> list[Reply]:
        """The line fell silent: complete a pending read-all reply of unknown length."""
        replies = self._drain(silent=True)
        self.reset()
        return replies

    def _drain(self, *, silent: bool) -> list[Reply]:
        replies: list[Reply] = []
        while (reply := self._next(silent=silent)) is not None:
            replies.append(reply)
        return replies

    def _hunt(self, header: int) -> None:
        index = self._buf.find(header)
        self._drop(len(self._buf) if index < 0 else index)

    def _next(self, *, silent: bool) -> Reply | None:
        while True:
            expect = self._expect
            if expect is None:
                self._drop(len(self._buf))
                return None
            self._hunt(_header_of(expect))
            if isinstance(expect, ReadAll):
                length = self._status_length(expect, silent=silent)
            else:
                length = FIXED_FRAME_LEN if len(self._buf) >= FIXED_FRAME_LEN else None
            if length is None:
                return None
            if length == 0:
                self.stats.bad_frames += 1
                self._drop(1)
                continue
            reply = self._decode(expect, bytes(self._buf[:length]))
            if reply is None:
                self.stats.bad_frames += 1
                self._drop(1)
                continue
            del self._buf[:length]
            if _answers(expect, reply):
                self.stats.frames += 1
                return reply
            self.stats.unexpected_frames += 1

    def _decode(self, expect: Request, frame: bytes) -> Reply | None:
        if xor_bcc(frame[:-1]) != frame[-1]:
            return None
        if isinstance(expect, ReadAll):
            return StatusReply(frame[1], frame[2:-2]) if frame[-2] == CMD_READ else None
        return _fixed_reply(expect, frame)

    def _status_candidates(self) -> list[int]:
        """Frame lengths at which the buffer holds a checksum-valid read-all reply."""
        buf = self._buf
        limit = min(len(buf), _MAX_STATUS_FRAME)
        return [
            n
            for n in range(_MIN_STATUS_FRAME, limit + 1)
            if buf[n - 2] == CMD_READ and buf[n - 1] == xor_bcc(buf[: n - 1])
        ]

    def _status_length(self, expect: ReadAll, *, silent: bool) -> int | None:
        """Length of the read-all frame at the buffer's head; None = wait, 0 = not a frame."""
        if not self._buf:
            return None
        if expect.status_bytes is not None:
            length = expect.status_bytes + 4
            return length if len(self._buf) >= length else None
        candidates = self._status_candidates()
        if candidates and silent:
            return candidates[-1]
        if candidates or (len(self._buf) < _MAX_STATUS_FRAME and not silent):
            return None
        return 0
