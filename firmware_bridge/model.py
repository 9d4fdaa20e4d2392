"""What the bridge reports about locks and boards, independent of any board family."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class LockState(StrEnum):
    """What a lock's feedback switch says, after polarity is applied."""

    OPEN = "open"
    CLOSED = "closed"
    UNKNOWN = "unknown"


class Polarity(StrEnum):
    """How a board's feedback switches are wired.

    ``set-closed``: a set bit (or ``11``) means the latch is closed, the most common wiring
    (switch shorted when locked). ``set-open``: the opposite (switch shorted when unlocked).
    """

    SET_IS_CLOSED = "set-closed"
    SET_IS_OPEN = "set-open"

    def state(self, bit: bool | None) -> LockState:
        """The lock state a raw feedback bit means under this wiring."""
        if bit is None:
            return LockState.UNKNOWN
        closed = bit if self is Polarity.SET_IS_CLOSED else not bit
        return LockState.CLOSED if closed else LockState.OPEN

    def inverted(self) -> Polarity:
        return Polarity.SET_IS_OPEN if self is Polarity.SET_IS_CLOSED else Polarity.SET_IS_CLOSED


@dataclass(frozen=True, slots=True)
class BoardConfig:
    """One board on a bus, as the installer configured it.

    ``channels``: how many locks to report (None: as many as the board's reply carries).
    ``inverted``: channels whose feedback switch is wired against the board's ``polarity``.
    ``status_bytes``: for 8A/80 boards, how many status bytes the firmware sends, when known.
    """

    address: int
    channels: int | None = None
    polarity: Polarity = Polarity.SET_IS_CLOSED
    inverted: frozenset[int] = field(default_factory=frozenset)
    status_bytes: int | None = None

    def polarity_of(self, channel: int) -> Polarity:
        return self.polarity.inverted() if channel in self.inverted else self.polarity


@dataclass(frozen=True, slots=True)
class LockStatus:
    """One lock: its state and, on boards with infrared sensors, whether an item is seen."""

    lock: int
    state: LockState
    item: bool | None = None


@dataclass(frozen=True, slots=True)
class BoardStatus:
    """Every lock of one board, lock 1 first."""

    board: int
    locks: tuple[LockStatus, ...]

    def lock(self, lock: int) -> LockStatus:
        for status in self.locks:
            if status.lock == lock:
                return status
        return LockStatus(lock, LockState.UNKNOWN)
