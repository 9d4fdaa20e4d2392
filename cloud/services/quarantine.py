"""Events set aside by ingest (decision 0009), for an operator to see, release or drop.

- ``held`` lists a bank's quarantined events, newest first, with why and a preview of the raw
  event in which the recipient's phone and the pickup code are masked.
- ``release`` applies one after a fix: after a code fix, as it was stored; an event the
  contract refused (it was never stored) with the event ``amended`` by the operator (only the
  event: its id, seq, bank and time stay the bank's). It must go now, else nothing changes
  (``Conflict``, with why). Later events of the same parcel held behind it follow it, in
  order, as far as they apply.
- ``drop`` gives one up: its raw copy (which may hold a phone number and a sealed code) is
  erased; later events of its parcel stay held, each for the operator to release or drop.

Each clears the event's ``event.quarantined`` alarm and is audited. Admins and the bank's
operator may do this; the stream itself never waited for it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.lifecycles import QUARANTINE
from cloud.models import Alarm, InboundEvent, QuarantinedEvent, QuarantineState, Role
from cloud.services import aside, ingest
from cloud.services.auth import Principal, audit
from cloud.services.errors import Conflict, IllegalTransition, Invalid, NotFound
from cloud.services.fleet import own_bank
from cloud.services.personal_data import mask_phone
from locker_contract.events import Envelope, EventAdapter
from locker_contract.messages import problems
from locker_contract.text import sanitised

log = logging.getLogger(__name__)

LISTED = 200
PREVIEW_MAX = 2000
SECRET = frozenset({"pickup_code", "sealed_code"})  # shown as *** when set


def held(engine: Engine, who: Principal, bank_id: str) -> list[QuarantinedEvent]:
    """The bank's quarantined events (held, released and dropped), newest first."""
    who.require(Role.ADMIN, Role.OPERATOR)
    with transaction(engine) as s:
        own_bank(s, who, bank_id)
        query = select(QuarantinedEvent).where(QuarantinedEvent.bank_id == bank_id)
        return list(s.exec(query.order_by(col(QuarantinedEvent.seq).desc()).limit(LISTED)))


def release(
    engine: Engine,
    who: Principal,
    bank_id: str,
    event_id: str,
    amended: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> QuarantinedEvent:
    """Apply a held event now (``amended``: the operator's corrected event), then the events of
    its parcel held behind it; ``Conflict`` if it still cannot be applied."""
    who.require(Role.ADMIN, Role.OPERATOR)
    now = now or utcnow()
    with transaction(engine) as s:
        row = _held(s, who, bank_id, event_id)
        if amended is not None:
            _valid_event(amended)
        earlier = _earlier_of_parcel(s, row)
        if earlier is not None:
            raise Conflict(f"seq {earlier.seq} of the same parcel is held before it: that first")
        reason = _apply(s, row, amended, now)
        if reason is not None:
            raise Conflict(f"it still cannot be applied: {reason}")
        _settle(s, who, row, QuarantineState.RELEASED, now, amended=amended is not None)
        _release_followers(s, who, row, now)
        return row


def drop(
    engine: Engine, who: Principal, bank_id: str, event_id: str, now: datetime | None = None
) -> QuarantinedEvent:
    """Give a held event up for good; its raw copy is erased."""
    who.require(Role.ADMIN, Role.OPERATOR)
    now = now or utcnow()
    with transaction(engine) as s:
        row = _held(s, who, bank_id, event_id)
        row.raw = ""
        _settle(s, who, row, QuarantineState.DROPPED, now)
        return row


def _valid_event(amended: dict[str, Any]) -> None:
    try:
        EventAdapter.validate_python(amended)
    except ValidationError as exc:
        raise Invalid(f"not a valid event: {problems(exc)}") from None


def preview(row: QuarantinedEvent) -> str:
    """The raw event for a person to read: phone and codes masked, bounded, printable."""
    try:
        shown = json.dumps(_masked(json.loads(row.raw)), ensure_ascii=False)
    except (ValueError, RecursionError):  # cut at RAW_MAX, or never JSON: no field to go by
        shown = _DIGIT_RUN.sub("***", row.raw)
    return sanitised(shown, PREVIEW_MAX)


_DIGIT_RUN = re.compile(r"\d{4,}")  # a phone, a code: what a text that is not JSON may hide


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _field(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value


def _field(name: str, value: Any) -> Any:
    if name == "recipient_phone" and isinstance(value, str):
        return mask_phone(value)
    if name in SECRET and value:
        return "***"
    return _masked(value)


def _held(s: Session, who: Principal, bank_id: str, event_id: str) -> QuarantinedEvent:
    own_bank(s, who, bank_id)
    query = select(QuarantinedEvent).where(QuarantinedEvent.event_id == event_id)
    row = s.exec(query.with_for_update()).first()  # two releases, or a release and a drop
    if row is None or row.bank_id != bank_id:
        raise NotFound("no such quarantined event")
    if row.state != QuarantineState.HELD:
        raise IllegalTransition(f"this event was {row.state} already")
    return row


def _earlier_of_parcel(s: Session, row: QuarantinedEvent) -> QuarantinedEvent | None:
    if row.parcel_id is None:
        return None
    query = select(QuarantinedEvent).where(
        QuarantinedEvent.bank_id == row.bank_id,
        QuarantinedEvent.parcel_id == row.parcel_id,
        QuarantinedEvent.state == QuarantineState.HELD,
        QuarantinedEvent.seq < row.seq,
    )
    return s.exec(query.order_by(col(QuarantinedEvent.seq))).first()


def _apply(
    s: Session, row: QuarantinedEvent, amended: dict[str, Any] | None, now: datetime
) -> str | None:
    """Store the event again if it never was (or was amended), then apply it: None if it
    went, else why not (and nothing of it is kept)."""
    event = s.get_one(InboundEvent, row.event_id)
    if event.body and amended is not None:
        return "it was stored as the bank sent it (its recipient told): release it unamended"
    if not event.body:
        try:
            envelope = _envelope(row, event, amended)
        except ValidationError as exc:
            return f"not a valid event: {problems(exc)}"
        reason = _restore(s, event, envelope)
        if reason is not None:
            return reason
    return ingest.apply_one(s, event, now)


def _envelope(
    row: QuarantinedEvent, event: InboundEvent, amended: dict[str, Any] | None
) -> Envelope:
    try:
        data = json.loads(row.raw)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        data = {"time": _aware(event.received_at).isoformat()}
    data |= {"event_id": row.event_id, "bank_id": row.bank_id, "seq": row.seq}
    if amended is not None:
        data["event"] = amended
    return Envelope.model_validate(data)


def _restore(s: Session, event: InboundEvent, envelope: Envelope) -> str | None:
    try:
        with s.begin_nested():
            event.body, event.type = ingest.stored_body(s, envelope), envelope.event.type
            s.add(event)
    except Exception as exc:
        if aside.lost_database(exc):
            raise
        return aside.why(exc)
    return None


def _release_followers(s: Session, who: Principal, first: QuarantinedEvent, now: datetime) -> None:
    if first.parcel_id is None:
        return
    query = select(QuarantinedEvent).where(
        QuarantinedEvent.bank_id == first.bank_id,
        QuarantinedEvent.parcel_id == first.parcel_id,
        QuarantinedEvent.state == QuarantineState.HELD,
        QuarantinedEvent.seq > first.seq,
    )
    for row in s.exec(query.order_by(col(QuarantinedEvent.seq))).all():
        reason = _apply(s, row, None, now)
        if reason is not None:  # it stays held, with its new reason, and so do the rest
            row.reason = reason
            s.add(row)
            return
        _settle(s, who, row, QuarantineState.RELEASED, now, following=first.seq)


def _settle(
    s: Session,
    who: Principal,
    row: QuarantinedEvent,
    state: QuarantineState,
    now: datetime,
    **detail: object,
) -> None:
    row.state = QUARANTINE.step(row.state, state)
    row.settled_at, row.settled_by = now, who.key_id
    s.add(row)
    query = select(Alarm).where(
        Alarm.bank_id == row.bank_id,
        Alarm.kind == aside.QUARANTINED,
        Alarm.compartment == f"seq {row.seq}",
        col(Alarm.cleared_at).is_(None),
    )
    for alarm in s.exec(query):
        alarm.clear(row.settled_at)
        s.add(alarm)
    audit(
        s,
        who,
        f"quarantine.{state}",
        row.bank_id,
        event_id=row.event_id,
        seq=row.seq,
        type=row.type,
        **detail,
    )
    log.info("bank %s seq %d: %s by %s", row.bank_id, row.seq, state, who.key_id)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
