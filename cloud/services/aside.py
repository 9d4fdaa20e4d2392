"""Setting an event aside (decision 0009): what ingest keeps of an event it cannot store or apply,
why, and which later events of the same parcel wait behind it.

An event set aside is kept raw in ``QuarantinedEvent`` (``held``) with an ``event.quarantined``
alarm naming its seq; the bank's stream counts it as done. ``cloud.services.quarantine`` lets an
operator release or drop it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlmodel import Session, and_, col, or_, select

from cloud.models import InboundEvent, QuarantinedEvent, QuarantineState
from cloud.services import alarms, bulk
from cloud.services.errors import CloudError
from locker_contract.events import Envelope
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
class Identity:
    """What can be read of an event the contract refuses: enough to set it aside."""

    event_id: str
    seq: int
    type: str
    parcel_id: str | None


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


def identity(envelope: Envelope) -> Identity:
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


@dataclass
class Aside:
    """What is set aside among a batch's banks: events set aside on receipt (never stored), and
    per bank and parcel the first seq held, which later events of that parcel wait behind."""

    on_receipt: set[str] = field(default_factory=set)
    held: dict[tuple[str, str], int] = field(default_factory=dict)

    def behind(self, event: InboundEvent) -> str | None:
        """Why ``event`` waits (an earlier event of its parcel is held), or None."""
        parcel = event.body.get("parcel_id")
        if not isinstance(parcel, str):
            return None
        first = self.held.get((event.bank_id, parcel))
        if first is None or first >= event.seq:
            return None
        return f"held behind seq {first} of the same parcel"

    def hold(self, bank_id: str, parcel_id: str | None, seq: int) -> None:
        if parcel_id is not None:
            first = self.held.get((bank_id, parcel_id), seq)
            self.held[(bank_id, parcel_id)] = min(first, seq)

    def copy(self) -> Aside:
        return Aside(set(self.on_receipt), dict(self.held))


def load_aside(s: Session, bank_ids: Collection[str], event_ids: Collection[str]) -> Aside:
    """One query: which of ``event_ids`` were set aside on receipt, and the parcels held at
    ``bank_ids`` (few rows: quarantine is rare)."""
    aside = Aside()
    if not event_ids:
        return aside
    query = select(QuarantinedEvent).where(
        or_(
            bulk.among(s, QuarantinedEvent.event_id, event_ids),
            and_(
                bulk.among(s, QuarantinedEvent.bank_id, bank_ids),
                col(QuarantinedEvent.state) == QuarantineState.HELD,
                col(QuarantinedEvent.parcel_id).is_not(None),
            ),
        )
    )
    for row in s.exec(query):
        if row.event_id in event_ids:
            aside.on_receipt.add(row.event_id)
        if row.state == QuarantineState.HELD:
            aside.hold(row.bank_id, row.parcel_id, row.seq)
    return aside


def hold_unstored(s: Session, bank_id: str, ident: Identity, raw: str, reason: str) -> Refusal:
    """Keep an event that could not be stored (or read): an empty row holds its seq."""
    s.add(InboundEvent(event_id=ident.event_id, bank_id=bank_id, seq=ident.seq, type=ident.type))
    s.flush()
    return hold(s, bank_id, ident, raw, reason)


def hold_stored(s: Session, event: InboundEvent, reason: str) -> Refusal:
    """Keep a stored event that could not be applied, as it was stored."""
    parcel = event.body.get("parcel_id")
    ident = Identity(
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
    return hold(s, event.bank_id, ident, json.dumps(stored, ensure_ascii=True), reason)


def hold(s: Session, bank_id: str, ident: Identity, raw: str, reason: str) -> Refusal:
    reason = sanitised(reason, REASON_MAX)
    log.warning("bank %s seq %d (%s) quarantined: %s", bank_id, ident.seq, ident.type, reason)
    s.add(
        QuarantinedEvent(
            event_id=ident.event_id,
            bank_id=bank_id,
            seq=ident.seq,
            type=ident.type,
            parcel_id=ident.parcel_id,
            raw=raw,
            reason=reason,
        )
    )
    s.flush()
    alarms.raise_open(s, [bank_id], QUARANTINED, f"seq {ident.seq}")
    return Refusal(ident.seq, reason)
