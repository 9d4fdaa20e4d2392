"""The console's actions on a bank, taken by a signed-in ``Person``: thin functions over
``cloud.services.operations`` (which enqueue the bank's command and audit it), each returning
the command, and its live state for the page that shows it until the bank answers.

- ``remote_open(engine, person, bank_id, label, reason) -> Command``: a reason is required;
  operator admins and site managers alike (a resident's parcel behind a stuck door).
- ``set_maintenance(engine, person, bank_id, *, on) -> Command``
- ``set_service(engine, person, bank_id, label, *, in_service, reason) -> Command``
- ``reenable_keypad(engine, person, bank_id) -> Command``
  (these three are the operator's: a site manager is refused, 403, as in ``operations``)
- ``command_state(s, person, command_id) -> CommandView``: pending (not sent yet), sent,
  acked (the bank applied it), failed (the bank rejected it or failed), expired (its time ran
  out, in the cloud or at the bank), with the bank's answer.

Each is audited by ``enqueue_command`` with the person's principal: the entry's actor is
``person:<id>``. A bank (or door, or command) the person does not see is not found (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Session

from cloud.console.accounts.deps import Person
from cloud.core.db import transaction
from cloud.lifecycles import CommandState
from cloud.models import Bank, Command, CommandAck
from cloud.services import operations
from cloud.services.auth import Principal
from cloud.services.errors import Invalid, NotFound
from locker_contract import commands as contract
from locker_contract.text import check_text

REASON_MAX = 200  # characters of a remote open's reason


class Live(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    ACKED = "acked"
    FAILED = "failed"
    EXPIRED = "expired"


ANSWERS = {"applied": Live.ACKED, "expired": Live.EXPIRED, "rejected": Live.FAILED}


@dataclass(frozen=True)
class CommandView:
    id: str
    bank_id: str
    type: str
    state: Live
    created_at: datetime
    attempts: int
    last_sent_at: datetime | None
    outcome: str | None  # the bank's answer: applied, expired, rejected, failed
    detail: str  # ... and what it said
    answered_at: datetime | None


def _principal(engine: Engine, person: Person, bank_id: str) -> Principal:
    with transaction(engine) as s:
        bank = s.get(Bank, bank_id)
        if bank is None or not person.sees(bank.site_id):
            raise NotFound("no such bank")
        return person.principal_for(bank.site_id)


def _bounds(command: type[contract.Command]) -> tuple[int, int]:
    """The length of ``command``'s ``reason`` as the contract bounds it (within ``REASON_MAX``)."""
    metadata = command.model_fields["reason"].metadata
    lows = [m.min_length for m in metadata if getattr(m, "min_length", None) is not None]
    highs = [m.max_length for m in metadata if getattr(m, "max_length", None) is not None]
    return max(lows, default=1), min([*highs, REASON_MAX])


OPEN_REASON = _bounds(contract.RemoteOpen)
SERVICE_REASON = _bounds(contract.CompartmentServiceSet)


def _reason(reason: str, bounds: tuple[int, int]) -> str:
    """``reason`` stripped, if the bank's command can carry it; else ``Invalid`` (422), never
    the command's ``ValidationError`` (a 500)."""
    reason = reason.strip()
    shortest, longest = bounds
    if not shortest <= len(reason) <= longest:
        raise Invalid(f"say why, in {shortest} to {longest} characters")
    try:
        return check_text(reason)
    except ValueError as exc:
        raise Invalid(f"say why in printable text: {exc}") from None


def remote_open(engine: Engine, person: Person, bank_id: str, label: str, reason: str) -> Command:
    who = _principal(engine, person, bank_id)
    return operations.remote_open(engine, who, bank_id, label, _reason(reason, OPEN_REASON))


def set_maintenance(engine: Engine, person: Person, bank_id: str, *, on: bool) -> Command:
    return operations.set_maintenance(engine, _principal(engine, person, bank_id), bank_id, on=on)


def set_service(
    engine: Engine, person: Person, bank_id: str, label: str, *, in_service: bool, reason: str
) -> Command:
    who = _principal(engine, person, bank_id)
    why = _reason(reason, SERVICE_REASON)
    return operations.set_service(engine, who, bank_id, label, in_service=in_service, reason=why)


def reenable_keypad(engine: Engine, person: Person, bank_id: str) -> Command:
    return operations.reenable_keypad(engine, _principal(engine, person, bank_id), bank_id)


def live_state(command: Command, ack: CommandAck | None) -> Live:
    if ack is not None:
        return ANSWERS.get(ack.outcome, Live.FAILED)
    if command.state is CommandState.EXPIRED:
        return Live.EXPIRED
    return Live.PENDING if command.last_sent_at is None else Live.SENT


def command_state(s: Session, person: Person, command_id: str) -> CommandView:
    """The command's state as the console shows it live; another site's is not found."""
    command = s.get(Command, command_id)
    bank = None if command is None else s.get(Bank, command.bank_id)
    if command is None or bank is None or not person.sees(bank.site_id):
        raise NotFound("no such command")
    ack = s.get(CommandAck, command_id)
    return CommandView(
        id=command.id,
        bank_id=command.bank_id,
        type=command.type,
        state=live_state(command, ack),
        created_at=command.created_at,
        attempts=command.attempts,
        last_sent_at=command.last_sent_at,
        outcome=None if ack is None else ack.outcome,
        detail="" if ack is None else ack.detail,
        answered_at=None if ack is None else ack.at,
    )
