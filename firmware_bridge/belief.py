"""The double-read rule: a lock's change of state is believed only once read the same way twice.

A checksum misses any error that flips an even number of bits in the same column, so one reading
is not enough to report that a door moved. ``Belief`` keeps what is believed per lock and a
candidate for each lock whose latest reading disagrees.
"""

from __future__ import annotations

from firmware_bridge.model import BoardStatus, LockState, LockStatus

_Reading = tuple[LockState, bool | None]


class Belief:
    """Believed lock states of one board, updated from successive readings."""

    def __init__(self, board: int) -> None:
        self.board = board
        self._believed: dict[int, _Reading] = {}
        self._candidate: dict[int, _Reading] = {}

    def absorb(self, status: BoardStatus) -> bool:
        """Take one reading; return True when no lock is left waiting for confirmation."""
        for lock in status.locks:
            self._absorb_one(lock.lock, (lock.state, lock.item))
        return not self._candidate

    def _absorb_one(self, lock: int, reading: _Reading) -> None:
        if self._believed.get(lock) == reading:
            self._candidate.pop(lock, None)
        elif self._candidate.get(lock) == reading:
            self._believed[lock] = reading
            del self._candidate[lock]
        else:
            self._candidate[lock] = reading

    def status(self, locks: int) -> BoardStatus:
        """What is believed of locks 1..``locks``; a lock never confirmed is UNKNOWN."""
        unknown: _Reading = (LockState.UNKNOWN, None)
        return BoardStatus(
            self.board,
            tuple(LockStatus(n, *self._believed.get(n, unknown)) for n in range(1, locks + 1)),
        )
