"""One compartment door and its lock, as physics on a clock: a table-driven state machine.

    LOCKED --pulse--> RELEASED --spring--> OPEN --close--> LOCKED
    LOCKED --force--> OPEN
    RELEASED --close--> LOCKED     (held shut through the pulse: the latch catches again)

A jammed lock ignores the pulse; a door that will not close ignores the close. The latch feedback
switch reads "closed" only in LOCKED. Events are scheduled on the simulation clock and applied
lazily when the door is looked at (``advance``), so a simulated day costs nothing while idle.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from enum import StrEnum


class DoorState(StrEnum):
    LOCKED = "locked"  # shut and latched
    RELEASED = "released"  # latch pulled by the pulse, door not yet sprung
    OPEN = "open"


class DoorEvent(StrEnum):
    PULSE = "pulse"
    SPRING = "spring"
    CLOSE = "close"
    FORCE = "force"


TRANSITIONS: dict[tuple[DoorState, DoorEvent], DoorState] = {
    (DoorState.LOCKED, DoorEvent.PULSE): DoorState.RELEASED,
    (DoorState.LOCKED, DoorEvent.FORCE): DoorState.OPEN,
    (DoorState.RELEASED, DoorEvent.SPRING): DoorState.OPEN,
    (DoorState.RELEASED, DoorEvent.CLOSE): DoorState.LOCKED,
    (DoorState.OPEN, DoorEvent.CLOSE): DoorState.LOCKED,
}

SPRING_DELAY = 0.15  # seconds from the pulse until the door has sprung open


@dataclass
class Door:
    """A door with its latch, item sensor and faults; times are simulation seconds."""

    board: int
    lock: int
    close_after: float | None = 5.0  # a person closes it this long after it opens; None: never
    jammed: bool = False
    wont_close: bool = False
    item: bool = False
    state: DoorState = DoorState.LOCKED
    history: list[tuple[float, str]] = field(default_factory=list)
    moves: list[tuple[float, DoorState]] = field(default_factory=list)  # (time, new state)
    _queue: list[tuple[float, int, DoorEvent]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def latch_closed(self) -> bool:
        return self.state is DoorState.LOCKED

    def schedule(self, at: float, event: DoorEvent) -> None:
        heapq.heappush(self._queue, (at, next(self._order), event))

    def advance(self, now: float) -> None:
        """Apply every event due by ``now``, in time order."""
        while self._queue and self._queue[0][0] <= now:
            at, _, event = heapq.heappop(self._queue)
            self._apply(at, event)

    def _apply(self, at: float, event: DoorEvent) -> None:
        if (event is DoorEvent.PULSE and self.jammed) or (
            event is DoorEvent.CLOSE and self.wont_close
        ):
            self.history.append((at, f"{event.value} ignored"))
            return
        new = TRANSITIONS.get((self.state, event))
        if new is None:
            self.history.append((at, f"{event.value}: no effect when {self.state.value}"))
            return
        self.state = new
        self.moves.append((at, new))
        self.history.append((at, f"{event.value} -> {new.value}"))
        if event is DoorEvent.PULSE:
            self.schedule(at + SPRING_DELAY, DoorEvent.SPRING)
        if new is DoorState.OPEN and self.close_after is not None:
            self.schedule(at + self.close_after, DoorEvent.CLOSE)
