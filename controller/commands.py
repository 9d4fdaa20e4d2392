"""The cloud's commands, applied at most once and answered every time.

``CommandRunner.run`` takes one delivery of a command with the seconds it has left to live,
counted from its receipt here. The id is looked up first: a command seen before is answered with
its first outcome (``repeat``) and never applied again; one past its time is refused and recorded
as expired, so that a later copy is refused too. Otherwise the command's effect and the record
of its id commit in one transaction. A remote open records its id before the unlock frame leaves
(the door may move from then on), and its reason travels in the bank's own unlock event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlmodel import Session

from controller import admin, recipients, storage
from controller.clock import Clock, SystemClock
from controller.cold import placement
from controller.doors import DoorOutcome
from controller.errors import EdgeError
from controller.lifecycles import UnlockFlow
from controller.store import AppliedCommand, transaction
from locker_contract.commands import (
    CarrierWithdraw,
    Command,
    CommandEnvelope,
    CompartmentServiceSet,
    CourierPush,
    CourierRevoke,
    GroupExtend,
    GroupShare,
    GroupUnshare,
    KeypadReenable,
    MaintenanceSet,
    ParcelAnnounce,
    ParcelRefuse,
    PolicyPush,
    RecipientRefusal,
    RemoteOpen,
    ReservationPush,
    ReservationWithdraw,
    StoragePolicyPush,
)
from locker_contract.messages import CommandAck, Outcome

log = logging.getLogger(__name__)

OUTCOME: TypeAdapter[Outcome] = TypeAdapter(Outcome)  # a stored outcome, read back


class Opener(Protocol):
    """What a remote open needs of the door supervisor."""

    async def unlock(
        self, label: str, *, reason: str, flow: UnlockFlow, ref: str
    ) -> DoorOutcome: ...


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    detail: str = ""
    repeat: bool = False


def _apply(s: Session, key: bytes, command: Command, now: datetime) -> None:
    """The effect of every command but a remote open, in the caller's transaction."""
    match command:
        case ReservationPush():
            admin.hold(
                s,
                reservation_id=command.reservation_id,
                carrier=command.carrier_id,
                label=command.compartment,
                kind=command.kind,
            )
        case ReservationWithdraw():
            admin.withdraw(s, command.reservation_id)
        case PolicyPush():
            admin.set_policy(
                s,
                carrier=command.carrier_id,
                guaranteed=command.guaranteed,
                ceiling=command.ceiling,
            )
        case ParcelAnnounce():
            admin.expect_parcel(
                s,
                waybill=command.waybill,
                carrier=command.carrier_id,
                phone=command.recipient_phone,
                consent=command.consent,
            )
            placement.announce(s, command.carrier_id, command.waybill, command.temperature_class)
        case CourierPush():
            admin.push_day_codes(
                s,
                key,
                courier_id=command.courier_id,
                carrier=command.carrier_id,
                name=command.name,
                days=command.codes,
            )
        case CourierRevoke():
            admin.revoke_courier(s, command.courier_id, unknown_ok=True)
        case CarrierWithdraw():
            admin.withdraw_carrier(s, command.carrier_id)
        case CompartmentServiceSet():
            admin.set_service(
                s, command.compartment, in_service=command.in_service, reason=command.reason
            )
        case MaintenanceSet() | StoragePolicyPush():
            _storage(s, command, now)
        case KeypadReenable():
            admin.reenable_keypad(s)
        case GroupExtend() | GroupShare() | GroupUnshare() | ParcelRefuse() | RecipientRefusal():
            recipients.apply(s, key, command)
        case RemoteOpen():  # pragma: no cover - routed to ``_open`` by ``run``
            raise AssertionError("a remote open is not applied in a transaction")


class CommandRunner:
    def __init__(
        self,
        engine: Engine,
        key: bytes,
        opener: Callable[[], Opener | None],
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.key = key
        self.opener = opener
        self.clock: Clock = clock or SystemClock()

    async def run(self, envelope: CommandEnvelope, remaining_s: float) -> CommandAck:
        answer = self._first_seen(envelope, remaining_s)
        if answer is None:
            answer = await self._open(envelope)
        kind, outcome = envelope.command.type, answer.outcome
        log.info("command %s %s: %s %s", envelope.command_id, kind, outcome, answer.detail)
        return CommandAck(
            command_id=envelope.command_id,
            outcome=answer.outcome,
            detail=answer.detail,
            repeat=answer.repeat,
            edge_time=self.clock.wall(),
        )

    def _first_seen(self, envelope: CommandEnvelope, remaining_s: float) -> Answer | None:
        """Answer a repeat, an expired command or any but a remote open; None: open the door."""
        command = envelope.command
        with transaction(self.engine) as s:
            seen = s.get(AppliedCommand, envelope.command_id)
            if seen is not None:
                return Answer(OUTCOME.validate_python(seen.outcome), seen.detail, repeat=True)
            if remaining_s <= 0:
                answer = Answer("expired", f"arrived {-remaining_s:.0f} s after its time to live")
            elif not isinstance(command, RemoteOpen):
                answer = _try(s, self.key, command, self.clock.wall())
            elif self.opener() is None:
                answer = Answer("failed", "the bank's doors are not running")
            else:  # recorded before the frame leaves: at most once, even across a crash
                _record(s, envelope, Answer("failed", "the bank stopped while opening the door"))
                return None
            _record(s, envelope, answer)
            return answer

    async def _open(self, envelope: CommandEnvelope) -> Answer:
        command = envelope.command
        assert isinstance(command, RemoteOpen)
        opener = self.opener()
        assert opener is not None
        reason = f"remote: {command.reason} (by {command.requested_by})"
        try:
            outcome = await opener.unlock(
                command.compartment, reason=reason, flow=UnlockFlow.REMOTE, ref=envelope.command_id
            )
        except KeyError:
            answer = Answer("rejected", f"no compartment {command.compartment}")
        else:
            opened = outcome in (DoorOutcome.OPENED, DoorOutcome.ALREADY_OPEN)
            answer = Answer("applied" if opened else "failed", f"door {outcome}")
        with transaction(self.engine) as s:
            row = s.get_one(AppliedCommand, envelope.command_id)
            row.outcome, row.detail = answer.outcome, answer.detail
            s.add(row)
        return answer


def _storage(s: Session, command: MaintenanceSet | StoragePolicyPush, now: datetime) -> None:
    """What changes how parcels' storage is counted: maintenance stops their clocks."""
    if isinstance(command, MaintenanceSet):
        admin.set_maintenance(s, on=command.on, now=now)
    else:
        storage.set_policy(s, command.policy)


def _try(s: Session, key: bytes, command: Command, now: datetime) -> Answer:
    try:
        with s.begin_nested():
            _apply(s, key, command, now)
    except EdgeError as exc:
        return Answer("rejected", exc.message)
    return Answer("applied")


def _record(s: Session, envelope: CommandEnvelope, answer: Answer) -> None:
    row = AppliedCommand(
        command_id=envelope.command_id,
        type=envelope.command.type,
        outcome=answer.outcome,
        detail=answer.detail,
    )
    s.add(row)
