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
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from controller import admin
from controller.doors import DoorOutcome
from controller.errors import EdgeError
from controller.store import AppliedCommand, transaction, utcnow
from locker_contract.commands import (
    CarrierWithdraw,
    Command,
    CommandEnvelope,
    CompartmentServiceSet,
    CourierPush,
    CourierRevoke,
    KeypadReenable,
    MaintenanceSet,
    ParcelAnnounce,
    PolicyPush,
    RemoteOpen,
    ReservationPush,
    ReservationWithdraw,
)
from locker_contract.messages import CommandAck, Outcome

log = logging.getLogger(__name__)


class Opener(Protocol):
    """What a remote open needs of the door supervisor."""

    async def unlock(self, label: str, *, reason: str, flow: str, ref: str) -> DoorOutcome: ...


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    detail: str = ""
    repeat: bool = False


def _apply(s: Session, key: bytes, command: Command) -> None:
    """The effect of every command but a remote open, in the caller's transaction."""
    match command:
        case ReservationPush():
            admin.hold(s, reservation_id=command.reservation_id, carrier=command.carrier_id,
                       label=command.compartment, kind=command.kind)  # fmt: skip
        case ReservationWithdraw():
            admin.withdraw(s, command.reservation_id)
        case PolicyPush():
            admin.set_policy(s, carrier=command.carrier_id, guaranteed=command.guaranteed,
                             ceiling=command.ceiling)  # fmt: skip
        case ParcelAnnounce():
            admin.expect_parcel(s, waybill=command.waybill, carrier=command.carrier_id,
                                phone=command.recipient_phone, consent=command.consent)  # fmt: skip
        case CourierPush():
            admin.push_day_codes(s, key, courier_id=command.courier_id, carrier=command.carrier_id,
                                 name=command.name, days=command.codes)  # fmt: skip
        case CourierRevoke():
            admin.revoke_courier(s, command.courier_id, unknown_ok=True)
        case CarrierWithdraw():
            admin.withdraw_carrier(s, command.carrier_id)
        case CompartmentServiceSet():
            admin.set_service(s, command.compartment, in_service=command.in_service,
                              reason=command.reason)  # fmt: skip
        case MaintenanceSet():
            admin.set_maintenance(s, on=command.on)
        case KeypadReenable():
            admin.reenable_keypad(s)
        case RemoteOpen():  # pragma: no cover - routed to ``_open`` by ``run``
            raise AssertionError("a remote open is not applied in a transaction")


class CommandRunner:
    def __init__(self, engine: Engine, key: bytes, opener: Callable[[], Opener | None]) -> None:
        self.engine = engine
        self.key = key
        self.opener = opener

    async def run(self, envelope: CommandEnvelope, remaining_s: float) -> CommandAck:
        answer = self._first_seen(envelope, remaining_s)
        if answer is None:
            answer = await self._open(envelope)
        log.info("command %s %s: %s %s", envelope.command_id, envelope.command.type,
                 answer.outcome, answer.detail)  # fmt: skip
        return CommandAck(
            command_id=envelope.command_id, outcome=answer.outcome, detail=answer.detail,
            repeat=answer.repeat, edge_time=utcnow(),
        )  # fmt: skip

    def _first_seen(self, envelope: CommandEnvelope, remaining_s: float) -> Answer | None:
        """Answer a repeat, an expired command or any but a remote open; None: open the door."""
        command = envelope.command
        with transaction(self.engine) as s:
            seen = s.get(AppliedCommand, envelope.command_id)
            if seen is not None:
                return Answer(seen.outcome, seen.detail, repeat=True)  # type: ignore[arg-type]
            if remaining_s <= 0:
                answer = Answer("expired", f"arrived {-remaining_s:.0f} s after its time to live")
            elif not isinstance(command, RemoteOpen):
                answer = _try(s, self.key, command)
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
                command.compartment, reason=reason, flow="remote", ref=envelope.command_id
            )
        except KeyError:
            answer = Answer("rejected", f"no compartment {command.compartment}")
        else:
            opened = outcome in (DoorOutcome.OPENED, DoorOutcome.ALREADY_OPEN)
            answer = Answer("applied" if opened else "failed", f"door {outcome.value}")
        with transaction(self.engine) as s:
            row = s.get_one(AppliedCommand, envelope.command_id)
            row.outcome, row.detail = answer.outcome, answer.detail
            s.add(row)
        return answer


def _try(s: Session, key: bytes, command: Command) -> Answer:
    try:
        with s.begin_nested():
            _apply(s, key, command)
    except EdgeError as exc:
        return Answer("rejected", exc.message)
    return Answer("applied")


def _record(s: Session, envelope: CommandEnvelope, answer: Answer) -> None:
    s.add(AppliedCommand(command_id=envelope.command_id, type=envelope.command.type,
                         outcome=answer.outcome, detail=answer.detail))  # fmt: skip
