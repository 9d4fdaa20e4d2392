"""A recipient's personal data: masked wherever a person reads it, erased after the parcel.

- ``mask_phone`` is what the audit log, logs and views show of a phone number: its last two
  digits. ``masked`` applies it to every ``*phone*`` field of an audit entry's detail.
- ``purge_personal_data`` erases the phone number of every parcel that ended (picked up or
  returned) ``retention`` ago, from the parcel and from every copy the cloud keeps: the
  recipient's notification, the bank's inbound events, the announcement command; and from every
  quarantined event settled (released or dropped) ``retention`` ago, whatever became of its
  parcel. A parcel announced and never deposited ends when its announcement lapses
  (``announcement_expiry`` after it was made): its phone goes ``retention`` after that. It is
  run by ``locker cloud purge`` (daily); it is idempotent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.lifecycles import CommandState
from cloud.models import (
    Command,
    InboundEvent,
    Notification,
    Parcel,
    ParcelEvent,
    ParcelStatus,
    QuarantinedEvent,
)

log = logging.getLogger(__name__)

SHOWN_DIGITS = 2  # of a phone number, in anything a person reads
ERASED = ""  # what an erased phone number becomes (the columns are NOT NULL)
ENDED = (ParcelStatus.PICKED_UP, ParcelStatus.RETURNED)
PURGE_BATCH = 500  # parcels per transaction
ANNOUNCEMENT_EXPIRY = timedelta(days=14)  # the setting's default (announcement_expiry_days)
PHONE_FIELD = "recipient_phone"
# a phone in JSON text, its closing quote perhaps cut off with the rest of the text
_PHONE_IN_JSON = re.compile(r'"recipient_phone"\s*:\s*"(?:[^"\\]|\\.)*(?:"|$)')


def mask_phone(phone: str) -> str:
    """``13800138000`` -> ``*********00``: never more than the last two digits."""
    digits = [ch for ch in phone if ch.isdigit()]
    shown = digits[-SHOWN_DIGITS:] if len(digits) > 2 * SHOWN_DIGITS else []
    return "*" * (len(digits) - len(shown)) + "".join(shown)


def masked(detail: dict[str, object]) -> dict[str, object]:
    """``detail`` with every string under a key naming a phone masked (nested dicts too)."""
    out: dict[str, object] = {}
    for key, value in detail.items():
        if isinstance(value, dict):
            out[key] = masked(value)
        elif isinstance(value, str) and "phone" in key.lower():
            out[key] = mask_phone(value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class Purged:
    parcels: int
    notifications: int
    events: int
    commands: int
    quarantined: int = 0


def purge_personal_data(
    engine: Engine,
    now: datetime,
    retention: timedelta,
    announcement_expiry: timedelta = ANNOUNCEMENT_EXPIRY,
) -> Purged:
    """Erase the phone numbers of parcels that ended (an announcement never deposited ends when
    it lapses), and of quarantined events settled, at or before ``now - retention``."""
    totals = [0, 0, 0, 0]
    lapsed_before = now - retention - announcement_expiry
    for due in (partial(_due, before=now - retention), partial(_lapsed, before=lapsed_before)):
        while True:
            with transaction(engine) as s:
                parcels = due(s)
                for parcel in parcels:
                    counts = _erase(s, parcel)
                    totals = [t + c for t, c in zip(totals, counts, strict=True)]
            if len(parcels) < PURGE_BATCH:
                break
    with transaction(engine) as s:
        quarantined = _erase_settled_quarantine(s, now - retention)
    purged = Purged(totals[0], totals[1], totals[2], totals[3], quarantined)
    if purged.parcels or quarantined:
        log.info(
            "erased the phone numbers of %d ended parcels and %d settled quarantined events",
            purged.parcels,
            quarantined,
        )
    return purged


def _due(s: Session, before: datetime) -> list[Parcel]:
    ended_at = (
        select(ParcelEvent.parcel_id, func.max(ParcelEvent.at).label("at"))
        .where(col(ParcelEvent.status).in_(ENDED))
        .group_by(col(ParcelEvent.parcel_id))
        .subquery()
    )
    query = (
        select(Parcel)
        .join(ended_at, ended_at.c.parcel_id == col(Parcel.id))
        .where(col(Parcel.status).in_(ENDED), Parcel.recipient_phone != ERASED)
        .where(ended_at.c.at <= before)
        .limit(PURGE_BATCH)
    )
    return list(s.exec(query))


def _lapsed(s: Session, before: datetime) -> list[Parcel]:
    """Parcels announced before ``before`` and never deposited, their phone still kept."""
    query = select(Parcel).where(
        Parcel.status == ParcelStatus.ANNOUNCED,
        Parcel.recipient_phone != ERASED,
        col(Parcel.created_at) <= before,
    )
    return list(s.exec(query.limit(PURGE_BATCH)))


def _erase(s: Session, parcel: Parcel) -> tuple[int, int, int, int]:
    parcel.recipient_phone = ERASED
    s.add(parcel)
    notices = select(Notification).where(
        Notification.carrier_id == parcel.carrier_id, Notification.waybill == parcel.waybill
    )
    n_notices = 0
    for notice in s.exec(notices):
        notice.recipient_phone = ERASED
        s.add(notice)
        n_notices += 1
    events = select(InboundEvent).where(
        InboundEvent.bank_id == parcel.bank_id, InboundEvent.type == "parcel.deposited"
    )
    found: list[InboundEvent] = list(s.exec(events))
    n_events = _erase_json(s, found, "body", parcel, "carrier")
    commands = select(Command).where(
        Command.bank_id == parcel.bank_id,
        Command.type == "parcel.announce",
        Command.state != CommandState.PENDING,
    )
    sent: list[Command] = list(s.exec(commands))
    n_commands = _erase_json(s, sent, "payload", parcel, "carrier_id")
    return 1, n_notices, n_events, n_commands


def _erase_settled_quarantine(s: Session, before: datetime) -> int:
    """Erase phones from quarantined events settled before ``before``: the raw text kept for the
    operator (perhaps cut short, so by pattern) and the stored event's body."""
    query = select(QuarantinedEvent).where(
        col(QuarantinedEvent.settled_at).is_not(None),
        col(QuarantinedEvent.settled_at) <= before,
        col(QuarantinedEvent.raw).contains(PHONE_FIELD),
    )
    erased = 0
    for row in s.exec(query):
        raw = _PHONE_IN_JSON.sub(f'"{PHONE_FIELD}": ""', row.raw)
        if raw != row.raw:
            row.raw = raw
            s.add(row)
            erased += 1
        event = s.get(InboundEvent, row.event_id)
        if event is not None and _has_phone(event.body):
            event.body = _without_phone(event.body)
            s.add(event)
    return erased


def _has_phone(data: object) -> bool:
    if isinstance(data, dict):
        return bool(data.get(PHONE_FIELD)) or any(_has_phone(v) for v in data.values())
    return False


def _without_phone(data: dict[str, object]) -> dict[str, object]:
    return {
        k: ERASED if k == PHONE_FIELD else _without_phone(v) if isinstance(v, dict) else v
        for k, v in data.items()
    }


def _erase_json(
    s: Session,
    rows: Sequence[InboundEvent | Command],
    column: str,
    parcel: Parcel,
    carrier_field: str,
) -> int:
    """Erase ``recipient_phone`` in the JSON ``column`` of each row about ``parcel`` (same
    waybill and carrier); a new dict, so that the change is saved."""
    erased = 0
    for row in rows:
        data: dict[str, object] = getattr(row, column)
        about = data.get("waybill") == parcel.waybill and data.get(carrier_field) in (
            parcel.carrier_id,
            None,
        )
        if about and data.get("recipient_phone") not in (None, ERASED):
            setattr(row, column, {**data, "recipient_phone": ERASED})
            s.add(row)
            erased += 1
    return erased
