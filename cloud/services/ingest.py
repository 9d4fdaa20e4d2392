"""Events from banks enter the cloud here, and only here: ``ingest_event``.

Each event is stored once (its event id is the key, so a redelivery is a no-op), and a bank's
events are applied strictly in ``seq`` order: an event that arrives after a gap is parked and
applied when the gap fills. Applying an event (``cloud.services.effects``) updates parcels and
their history, compartments, alarms and reservations.

One event never stops a bank (decision 0009): an event the contract refuses, or whose storing or
applying fails (a database error, a bug; anything but losing the database itself), is rolled
back alone (a savepoint), kept raw in ``QuarantinedEvent`` with an ``event.quarantined`` alarm,
and counted as done, so the cursor goes on past it and the bank is told (``Ingested.refused``,
in its ack). Later events of the same parcel are held behind it. ``cloud.services.quarantine``
lets an operator release or drop it.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, func
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.models import (
    Alarm,
    Bank,
    BankCursor,
    InboundEvent,
    QuarantinedEvent,
    QuarantineState,
)
from cloud.services import effects, notices
from cloud.services.errors import CloudError, Conflict, NotFound
from locker_contract.events import (
    Envelope,
    ParcelDeposited,
)
from locker_contract.messages import problems
from locker_contract.text import sanitised

log = logging.getLogger(__name__)

QUARANTINED = "event.quarantined"  # the alarm's kind
RAW_MAX = 64 * 1024  # what is kept of an event that could not be read (characters)
REASON_MAX = 400  # what is kept of why


@dataclass(frozen=True)
class Refusal:
    """An event set aside: the stream counts it as done; the bank is told ``reason``."""

    seq: int
    reason: str


@dataclass(frozen=True)
class Ingested:
    duplicate: bool
    applied_seq: int  # everything up to here is done: what the bank may drop from its outbox
    parked: int  # events waiting for a gap to fill
    refused: tuple[Refusal, ...] = ()  # events this call set aside (quarantined)


@dataclass(frozen=True)
class Identity:
    """What can be read of an event the contract refuses: enough to set it aside."""

    event_id: str
    seq: int
    type: str
    parcel_id: str | None


def ingest_event(engine: Engine, envelope: Envelope, now: datetime | None = None) -> Ingested:
    """Store ``envelope`` once and apply every event of its bank that is now in order (at
    ``now``: what the cursor and the alarms it clears are stamped with)."""
    now = now or utcnow()
    with transaction(engine) as s:
        cursor = _cursor(s, envelope.bank_id)
        if s.get(InboundEvent, str(envelope.event_id)) is not None:
            return Ingested(True, cursor.applied_seq, _parked(s, cursor))
        _check_seq(s, cursor, envelope.seq)
        refused: list[Refusal] = []
        try:
            with s.begin_nested():
                _store(s, envelope)
        except Exception as exc:
            if lost_database(exc):
                raise
            raw = envelope.model_dump_json()
            refused.append(_hold_unstored(s, envelope.bank_id, _identity(envelope), raw, why(exc)))
        refused += _apply_in_order(s, cursor, now)
        return Ingested(False, cursor.applied_seq, _parked(s, cursor), tuple(refused))


def ingest_unreadable(
    engine: Engine, bank_id: str, payload: bytes, reason: str, now: datetime | None = None
) -> Ingested | None:
    """An event of ``bank_id`` the contract refuses: set aside if its id and seq can be read, so
    that the stream goes on past it; None (nothing done) if not even they can."""
    identity = read_identity(bank_id, payload)
    if identity is None:
        return None
    now = now or utcnow()
    with transaction(engine) as s:
        cursor = _cursor(s, bank_id)
        if s.get(InboundEvent, identity.event_id) is not None:
            return Ingested(True, cursor.applied_seq, _parked(s, cursor))
        _check_seq(s, cursor, identity.seq)
        refused = [_hold_unstored(s, bank_id, identity, raw_text(payload), reason)]
        refused += _apply_in_order(s, cursor, now)
        return Ingested(False, cursor.applied_seq, _parked(s, cursor), tuple(refused))


def _store(s: Session, envelope: Envelope) -> None:
    s.add(
        InboundEvent(
            event_id=str(envelope.event_id),
            bank_id=envelope.bank_id,
            seq=envelope.seq,
            type=envelope.event.type,
            body=stored_body(s, envelope),
            happened_at=envelope.time,  # what carriers' webhooks report (cloud.webhooks.outbox)
        )
    )


def stored_body(s: Session, envelope: Envelope) -> dict[str, object]:
    """What the cloud keeps of an event: its fields, the pickup code handed on, not kept."""
    body = envelope.event.model_dump(mode="json")
    if isinstance(envelope.event, ParcelDeposited):
        body["sealed_code"] = notices.record_deposit(s, envelope, envelope.event)
    return body


def _cursor(s: Session, bank_id: str) -> BankCursor:
    """The bank's cursor, its row locked for the transaction (SQLite: ``BEGIN IMMEDIATE``)."""
    if s.get(Bank, bank_id) is None:
        raise NotFound(f"no bank {bank_id}")
    query = select(BankCursor).where(BankCursor.bank_id == bank_id).with_for_update()
    cursor = s.exec(query).first()
    if cursor is None:
        cursor = BankCursor(bank_id=bank_id)
        s.add(cursor)
        s.flush()
    return cursor


def _check_seq(s: Session, cursor: BankCursor, seq: int) -> None:
    query = select(InboundEvent).where(
        InboundEvent.bank_id == cursor.bank_id, InboundEvent.seq == seq
    )
    if seq <= cursor.applied_seq or s.exec(query).first() is not None:
        raise Conflict(f"bank {cursor.bank_id} already sent seq {seq} with another id")


def _parked(s: Session, cursor: BankCursor) -> int:
    query = (
        select(func.count())
        .select_from(InboundEvent)
        .where(InboundEvent.bank_id == cursor.bank_id, InboundEvent.seq > cursor.applied_seq)
    )
    return s.exec(query).one()


def _apply_in_order(s: Session, cursor: BankCursor, now: datetime) -> list[Refusal]:
    """Apply the bank's events that are next in order; set aside any that fails."""
    refused: list[Refusal] = []
    while True:
        query = select(InboundEvent).where(
            InboundEvent.bank_id == cursor.bank_id, InboundEvent.seq == cursor.applied_seq + 1
        )
        event = s.exec(query).first()
        if event is None:
            return refused
        if s.get(QuarantinedEvent, event.event_id) is None:  # not set aside on receipt
            reason = _held_behind(s, event) or apply_one(s, event, now)
            if reason is not None:
                refused.append(_hold_stored(s, event, reason))
        cursor.applied_seq, cursor.advanced_at = event.seq, now
        s.add(cursor)
        s.flush()


def apply_one(s: Session, event: InboundEvent, now: datetime) -> str | None:
    """Apply one stored event in a savepoint: None if it was, else why not (and nothing of it
    was applied)."""
    try:
        with s.begin_nested():
            effects.apply(s, event, effects.parsed(event), now)
            event.applied = True
            s.add(event)
    except Exception as exc:
        if lost_database(exc):
            raise
        return why(exc)
    return None


# --- setting an event aside -----------------------------------------------------------------


def lost_database(exc: BaseException) -> bool:
    """The worker lost its database (or lost a race in it): retry later, quarantine nothing."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def why(exc: BaseException) -> str:
    """Why an event could not be applied, bounded and quoting none of its values (a database
    error's parameters, a validation error's input)."""
    if isinstance(exc, DBAPIError):
        first = str(exc.orig).strip().splitlines()[:1]
        said = f"the database refused it: {type(exc).__name__}: {''.join(first)}"
    elif isinstance(exc, ValidationError):
        said = f"not a valid event: {problems(exc)}"
    elif isinstance(exc, CloudError):
        said = exc.message
    else:
        log.error("applying an event failed", exc_info=exc)  # a bug: its traceback is wanted
        said = f"{type(exc).__name__}: {exc}"
    return sanitised(said, REASON_MAX)


def _identity(envelope: Envelope) -> Identity:
    parcel = getattr(envelope.event, "parcel_id", None)
    return Identity(
        str(envelope.event_id),
        envelope.seq,
        envelope.event.type,
        None if parcel is None else str(parcel),
    )


def read_identity(bank_id: str, payload: bytes) -> Identity | None:
    """The id, seq and type of an event the contract refuses, if they can be read and it is
    ``bank_id``'s; a type that cannot is ``unknown``."""
    try:
        data = json.loads(payload)
        if not isinstance(data, dict) or data.get("bank_id") != bank_id:
            return None
        event_id = str(uuid.UUID(str(data.get("event_id"))))
    except (ValueError, RecursionError):
        return None
    seq = data.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**63:
        return None
    found = data.get("event")
    event: dict[str, Any] = found if isinstance(found, dict) else {}
    return Identity(
        event_id, seq, _short(event.get("type")) or "unknown", _short(event.get("parcel_id"))
    )


def _short(value: Any) -> str | None:
    return sanitised(value, 64) if isinstance(value, str) and value else None


def raw_text(payload: bytes) -> str:
    """The payload as storable text: ASCII JSON (NUL and surrogates escaped), bounded."""
    try:
        text = json.dumps(json.loads(payload), ensure_ascii=True)
    except (ValueError, RecursionError):
        text = payload.decode("ascii", "backslashreplace")
    return text[:RAW_MAX]


def _held_behind(s: Session, event: InboundEvent) -> str | None:
    """An event of a parcel whose earlier event is set aside waits behind it."""
    parcel = event.body.get("parcel_id")
    if not isinstance(parcel, str):
        return None
    query = select(QuarantinedEvent).where(
        QuarantinedEvent.bank_id == event.bank_id,
        QuarantinedEvent.parcel_id == parcel,
        QuarantinedEvent.state == QuarantineState.HELD,
        QuarantinedEvent.seq < event.seq,
    )
    first = s.exec(query.order_by(col(QuarantinedEvent.seq))).first()
    return None if first is None else f"held behind seq {first.seq} of the same parcel"


def _hold_unstored(s: Session, bank_id: str, identity: Identity, raw: str, reason: str) -> Refusal:
    s.add(
        InboundEvent(
            event_id=identity.event_id,
            bank_id=bank_id,
            seq=identity.seq,
            type=identity.type,
            body={},
        )
    )
    s.flush()
    return _hold(s, bank_id, identity, raw, reason)


def _hold_stored(s: Session, event: InboundEvent, reason: str) -> Refusal:
    parcel = event.body.get("parcel_id")
    identity = Identity(
        event.event_id, event.seq, event.type, parcel if isinstance(parcel, str) else None
    )
    at = event.received_at if event.received_at.tzinfo else event.received_at.replace(tzinfo=UTC)
    stored = {
        "event_id": event.event_id,
        "bank_id": event.bank_id,
        "seq": event.seq,
        "time": at.isoformat(),
        "event": event.body,
    }
    return _hold(s, event.bank_id, identity, json.dumps(stored, ensure_ascii=True), reason)


def _hold(s: Session, bank_id: str, identity: Identity, raw: str, reason: str) -> Refusal:
    reason = sanitised(reason, REASON_MAX)
    log.warning("bank %s seq %d (%s) quarantined: %s", bank_id, identity.seq, identity.type, reason)
    s.add(
        QuarantinedEvent(
            event_id=identity.event_id,
            bank_id=bank_id,
            seq=identity.seq,
            type=identity.type,
            parcel_id=identity.parcel_id,
            raw=raw,
            reason=reason,
        )
    )
    s.add(Alarm(bank_id=bank_id, kind=QUARANTINED, compartment=f"seq {identity.seq}"))
    s.flush()
    return Refusal(identity.seq, reason)
