"""The door supervisor: turns unlocks and board polls into truthful door events.

Every door event comes from a transition of the compartment's stored door state, made in one
transaction with the event (and with whatever the flows record because of it). So the poller and
an unlock in flight cannot both report one opening, and a restart continues from what was
committed: an unlock whose frame left before a crash is recognised when the poller sees the door
open, and one that never left is abandoned once the door is read shut.

Events: unlock requested (committed before the frame is sent), opened, already open, jammed
(pulse sent, never seen open), outcome unknown, left open (past the policy's limit), forced open
(opened without an unlock), closed, compartment out of service (after repeated jams), board
offline and back.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controller.clock import Clock, SystemClock
from controller.config import EdgeConfig
from controller.failpoints import failpoint
from controller.lifecycles import (
    DOOR,
    INTENT,
    UNANSWERED,
    DoorEvent,
    DoorState,
    IntentEvent,
    UnlockFlow,
)
from controller.store import Compartment, Intent, emit, transaction
from firmware_bridge.bus import BusMaster, UnlockOutcome
from firmware_bridge.errors import (
    BoardNoReply,
    BoardOffline,
    TransportError,
    UnlockNotSent,
    UnlockOutcomeUnknown,
)
from firmware_bridge.model import BoardStatus, LockState
from locker_contract.events import (
    BoardHealthChanged,
    CompartmentService,
    DoorAlreadyOpen,
    DoorClosed,
    DoorForcedOpen,
    DoorJammed,
    DoorLeftOpen,
    DoorOpened,
    DoorOutcomeUnknown,
    UnlockAbandoned,
    UnlockRequested,
)

log = logging.getLogger(__name__)

OPEN, CLOSED, UNKNOWN = DoorState.OPEN, DoorState.CLOSED, DoorState.UNKNOWN


class DoorOutcome(StrEnum):
    OPENED = "opened"
    ALREADY_OPEN = "already_open"
    JAMMED = "jammed"
    UNKNOWN = "unknown"  # sent, not read back: the poller will tell
    NOT_SENT = "not_sent"  # certainly not sent: the board or port is unreachable


class DoorListener(Protocol):
    """What the flows are told, inside the transaction that records the door's change."""

    def door_opened(self, session: Session, label: str, intent: Intent | None) -> None: ...

    def door_closed(self, session: Session, label: str, item: bool | None) -> None: ...

    def unlock_interrupted(self, session: Session, intent: Intent) -> None: ...


class DoorSupervisor:
    """Owns every door of the bank: unlocks, polling, and the events they produce."""

    def __init__(
        self,
        engine: Engine,
        config: EdgeConfig,
        buses: Mapping[str, BusMaster],
        listener: DoorListener,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.clock: Clock = clock or SystemClock()
        self.config = config
        self.policy = config.policy
        self.buses = buses
        self.listener = listener
        self.wiring = {c.label: c for c in config.compartments}
        self.items: dict[str, bool | None] = {}
        self._online: dict[tuple[str, int], bool] = {}
        self._started = self.clock.wall()

    # --- unlocking ------------------------------------------------------------------------

    async def unlock(self, label: str, *, reason: str, flow: UnlockFlow, ref: str) -> DoorOutcome:
        """Open one compartment's door: intent committed first, outcome recorded after."""
        spec = self.wiring[label]
        with transaction(self.engine) as s:
            intent = Intent(
                compartment=label, reason=reason, flow=flow, ref=ref, created_at=self.clock.wall()
            )
            s.add(intent)
            emit(
                s,
                UnlockRequested(
                    compartment=label, intent_id=_uuid(intent), reason=reason, flow=flow
                ),
            )
        failpoint("after_intent")
        bus = self.buses[spec.bus]
        try:
            result = await bus.open_lock(spec.board, spec.channel, lambda: failpoint("after_frame"))
        except UnlockOutcomeUnknown:
            return self._settle(intent.id, DoorOutcome.UNKNOWN)
        except (UnlockNotSent, BoardNoReply, BoardOffline, TransportError) as exc:
            log.warning("unlock of %s not sent: %s", label, exc)
            return self._settle(intent.id, DoorOutcome.NOT_SENT, str(exc))
        outcome = {
            UnlockOutcome.OPENED: DoorOutcome.OPENED,
            UnlockOutcome.ALREADY_OPEN: DoorOutcome.ALREADY_OPEN,
            UnlockOutcome.NOT_OPENED: DoorOutcome.JAMMED,
        }[result.outcome]
        return self._settle(intent.id, outcome)

    def _settle(self, intent_id: str, outcome: DoorOutcome, why: str = "") -> DoorOutcome:
        with transaction(self.engine) as s:
            intent = s.get_one(Intent, intent_id)
            comp = s.get_one(Compartment, intent.compartment)
            match outcome:
                case DoorOutcome.OPENED | DoorOutcome.ALREADY_OPEN:
                    self._door_open(s, comp, intent, already=outcome is DoorOutcome.ALREADY_OPEN)
                case DoorOutcome.JAMMED:
                    self._jammed(s, comp, intent)
                case DoorOutcome.UNKNOWN:
                    intent.state = INTENT.next(intent.state, IntentEvent.NO_ANSWER)
                    emit(s, DoorOutcomeUnknown(compartment=comp.label, intent_id=_uuid(intent)))
                case DoorOutcome.NOT_SENT:
                    intent.state = INTENT.next(intent.state, IntentEvent.NOT_SENT)
                    emit(
                        s,
                        UnlockAbandoned(
                            compartment=comp.label, intent_id=_uuid(intent), reason=why
                        ),
                    )
        if outcome in (DoorOutcome.OPENED, DoorOutcome.ALREADY_OPEN):
            failpoint("after_open")
        return outcome

    def _jammed(self, s: Session, comp: Compartment, intent: Intent) -> None:
        intent.state = INTENT.next(intent.state, IntentEvent.JAMMED)
        comp.jam_count += 1
        emit(
            s, DoorJammed(compartment=comp.label, intent_id=_uuid(intent), jam_count=comp.jam_count)
        )
        if comp.jam_count >= self.policy.jams_before_out_of_service and comp.in_service:
            comp.in_service = False
            comp.service_note = f"jammed {comp.jam_count} times"
            emit(
                s,
                CompartmentService(
                    compartment=comp.label, in_service=False, reason=comp.service_note
                ),
            )
        s.add(comp)

    def _door_open(
        self, s: Session, comp: Compartment, intent: Intent | None, *, already: bool
    ) -> None:
        """The door is open: report it once, attributed to ``intent`` when there is one."""
        if intent is not None and intent.state in UNANSWERED:
            opened = IntentEvent.ALREADY_OPEN if already else IntentEvent.OPENED
            intent.state = INTENT.next(intent.state, opened)
            comp.jam_count = 0
        if comp.door == OPEN:
            return
        comp.door = DOOR.next(comp.door, DoorEvent.OPENED)
        comp.opened_at, comp.left_open_reported = self.clock.wall(), False
        if intent is None:
            emit(s, DoorForcedOpen(compartment=comp.label))
        elif already:
            emit(s, DoorAlreadyOpen(compartment=comp.label, intent_id=_uuid(intent)))
        else:
            emit(s, DoorOpened(compartment=comp.label, intent_id=_uuid(intent)))
        s.add(comp)
        self.listener.door_opened(s, comp.label, intent)

    # --- polling --------------------------------------------------------------------------

    async def run(self) -> None:
        """Poll every board forever, at the policy's interval."""
        while True:
            await self.poll_once()
            await self.clock.sleep(self.policy.poll_interval_s)

    async def poll_once(self) -> None:
        for bus_spec in self.config.buses:
            for board in bus_spec.boards:
                await self._poll_board(bus_spec.name, board.address)
        self._check_left_open()

    async def _poll_board(self, bus_name: str, board: int) -> None:
        try:
            status = await self.buses[bus_name].confirmed_status(board)
        except (BoardNoReply, BoardOffline, TransportError):
            self._board_health(bus_name, board, online=False)
            return
        self._board_health(bus_name, board, online=True)
        labels = [
            c.label for c in self.config.compartments if (c.bus, c.board) == (bus_name, board)
        ]
        with transaction(self.engine) as s:
            for comp in s.exec(select(Compartment).where(col(Compartment.label).in_(labels))):
                self._observe(s, comp, status)

    def _observe(self, s: Session, comp: Compartment, status: BoardStatus) -> None:
        reading = status.lock(self.wiring[comp.label].channel)
        self.items[comp.label] = reading.item
        if reading.state is LockState.OPEN:
            claimable = self.clock.wall() - timedelta(seconds=self.policy.unlock_claim_s)
            intent = None if comp.door == OPEN else _claim(s, comp.label, claimable)
            self._door_open(s, comp, intent, already=False)
        elif reading.state is LockState.CLOSED and comp.door != CLOSED:
            was_open = comp.door == OPEN
            comp.door, comp.opened_at = DOOR.next(comp.door, DoorEvent.SHUT), None
            s.add(comp)
            if was_open:
                emit(s, DoorClosed(compartment=comp.label))
                self.listener.door_closed(s, comp.label, reading.item)
            self._interrupted(s, comp.label)

    def reconcile_restart(self) -> None:
        """After the first poll: settle unlocks the previous process left unanswered behind
        doors now read shut. (A door read open claims its intent in ``_observe`` instead.)"""
        with transaction(self.engine) as s:
            for comp in s.exec(select(Compartment).where(Compartment.door == CLOSED)):
                self._interrupted(s, comp.label)

    def _interrupted(self, s: Session, label: str) -> None:
        """Intents left unanswered by an earlier process, with the door now read shut."""
        stale = select(Intent).where(
            Intent.compartment == label,
            col(Intent.state).in_(UNANSWERED),
            col(Intent.created_at) < self._started,
        )
        for intent in s.exec(stale):
            intent.state = INTENT.next(intent.state, IntentEvent.INTERRUPTED)
            reason = "restart found the door shut; the unlock may not have been sent"
            emit(s, UnlockAbandoned(compartment=label, intent_id=_uuid(intent), reason=reason))
            self.listener.unlock_interrupted(s, intent)

    def _check_left_open(self) -> None:
        now = self.clock.wall()
        limit = now - timedelta(seconds=self.policy.left_open_after_s)
        with transaction(self.engine) as s:
            query = select(Compartment).where(
                Compartment.door == OPEN,
                col(Compartment.left_open_reported).is_(False),
                col(Compartment.opened_at) < limit,
            )
            for comp in s.exec(query):
                assert comp.opened_at is not None
                opened = comp.opened_at.replace(tzinfo=limit.tzinfo)
                open_for = (now - opened).total_seconds()
                comp.left_open_reported = True
                emit(s, DoorLeftOpen(compartment=comp.label, open_for_s=round(open_for, 1)))

    def _board_health(self, bus: str, board: int, *, online: bool) -> None:
        if self._online.get((bus, board), True) == online:
            self._online[(bus, board)] = online
            return
        self._online[(bus, board)] = online
        with transaction(self.engine) as s:
            emit(s, BoardHealthChanged(bus=bus, board=board, online=online))

    def boards_online(self) -> dict[tuple[str, int], bool]:
        return dict(self._online)


def _claim(s: Session, label: str, since: datetime) -> Intent | None:
    """The newest unanswered intent for ``label`` made after ``since``, if the door opening can
    be put down to it. An older one explains nothing: a door found open days after an unlock
    whose outcome was never read is reported forced, not authorised."""
    query = (
        select(Intent)
        .where(
            Intent.compartment == label,
            col(Intent.state).in_(UNANSWERED),
            col(Intent.created_at) > since,
        )
        .order_by(col(Intent.created_at).desc())
    )
    return s.exec(query).first()


def _uuid(intent: Intent) -> uuid.UUID:
    return uuid.UUID(intent.id)
