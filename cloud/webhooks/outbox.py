"""Events written in the transaction of their cause (the outbox), one delivery row per
subscribed endpoint; ``locker cloud webhooks`` sends them.

``record`` is the one writer. The hooks below turn what the services do into events, one call
each: ``bank_event`` from ingest's effects (the time is when it happened at the bank),
``parcel_event`` and ``reservation_event`` from the carriers' API and allocation.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TypedDict

from sqlalchemy import String, bindparam
from sqlmodel import Session, col, select

from cloud.coldchain import ingest as coldchain
from cloud.models import Compartment, InboundEvent, Parcel, ParcelStatus, Reservation
from cloud.services import bulk
from cloud.webhooks.events import Kind, vocabularies
from cloud.webhooks.tables import EndpointState, WebhookDelivery, WebhookEndpoint, WebhookEvent
from locker_contract import storage
from locker_contract.events import (
    DoorJammed,
    Event,
    ParcelDeposited,
    ParcelPickedUp,
    ParcelRefused,
    ParcelReturned,
)

log = logging.getLogger(__name__)

# what the edge says when a parcel's storage period ends (controller/flows/returns.py)
EXPIRY_REASONS = frozenset({"storage period ended"})
HELD = (ParcelStatus.IN_LOCKER, ParcelStatus.RETURN_PENDING)
# what ingest's effects made of the parcel a bank's event names by waybill alone: another
# carrier's parcel of the same waybill at the bank (announced, say) is not it
BECOMES = {
    Kind.IN_LOCKER: ParcelStatus.IN_LOCKER,
    Kind.PICKED_UP: ParcelStatus.PICKED_UP,
    Kind.REFUSED: ParcelStatus.RETURN_PENDING,
    Kind.EXPIRED: ParcelStatus.RETURN_PENDING,
    Kind.RETURNED: ParcelStatus.RETURNED,
}


class EventRow(TypedDict):
    carrier_id: str
    type: str
    subject: str
    occurred_at: datetime
    recorded_at: datetime
    data: dict[str, object]


class DeliveryRow(TypedDict):
    endpoint_id: str
    event_seq: int
    subject: str
    created_at: datetime
    next_attempt_at: datetime


def record(
    s: Session,
    kind: Kind,
    carrier_id: str,
    subject: str,
    *,
    at: datetime,
    now: datetime,
    waybill: str | None = None,
    data: dict[str, object] | None = None,
    dedupe: str | None = None,
    only: WebhookEndpoint | None = None,
) -> WebhookEvent:
    """Write one event of ``carrier_id`` and a delivery to each of its active endpoints that
    wants ``kind`` (or to ``only``), due at ``now``."""
    event = WebhookEvent(
        **event_row(kind, carrier_id, subject, at=at, now=now, data=data),
        waybill=waybill,
        dedupe=dedupe,
    )
    s.add(event)
    s.flush()
    assert event.seq is not None
    endpoints = [only.id] if only else subscribed(s, carrier_id, kind)
    s.add_all(WebhookDelivery(**row) for row in _deliveries(endpoints, event.seq, subject, now))
    return event


def write(s: Session, kind: Kind, row: EventRow) -> int:
    """``record`` of an ``event_row`` written at once as plain SQL (``bulk.write``): one
    ``INSERT ... RETURNING`` for the event, one for its deliveries, nothing through the session
    (a reservation's event, decision 0032). The event's ``seq``."""
    s.flush()
    seq = int(s.connection().execute(_NEW_EVENT, row).scalar_one())
    endpoints = subscribed(s, row["carrier_id"], kind)
    now = row["recorded_at"]
    bulk.write(s, WebhookDelivery, _deliveries(endpoints, seq, row["subject"], now))
    return seq


_NEW_EVENT = bulk.inserting(WebhookEvent).returning(bulk.table_of(WebhookEvent).c.seq)


def event_row(
    kind: Kind,
    carrier_id: str,
    subject: str,
    *,
    at: datetime,
    now: datetime,
    data: dict[str, object] | None,
) -> EventRow:
    """An event's columns, its body stamped with the carrier and the kind's vocabularies."""
    body = {"carrier_id": carrier_id, **(data or {}), **vocabularies(kind)}
    return {
        "carrier_id": carrier_id,
        "type": kind.value,
        "subject": subject,
        "occurred_at": at,
        "recorded_at": now,
        "data": body,
    }


def _deliveries(endpoints: list[str], seq: int, subject: str, now: datetime) -> list[DeliveryRow]:
    return [
        {
            "endpoint_id": endpoint_id,
            "event_seq": seq,
            "subject": subject,
            "created_at": now,
            "next_attempt_at": now,
        }
        for endpoint_id in endpoints
    ]


def subscribed(s: Session, carrier_id: str, kind: Kind) -> list[str]:
    """The ids of the carrier's active endpoints that want ``kind``: two columns read, in a
    statement built once, past the session (this runs in every reservation's transaction;
    both writers flush before they ask)."""
    rows = s.connection().execute(_SUBSCRIBED, {"carrier": carrier_id})
    return [id_ for id_, events in rows if not events or kind.value in events]


_SUBSCRIBED = select(WebhookEndpoint.id, WebhookEndpoint.events).where(
    WebhookEndpoint.carrier_id == bindparam("carrier", type_=String()),
    WebhookEndpoint.state == EndpointState.ACTIVE,
)


def label(s: Session, compartment_id: str | None) -> str | None:
    found = None if compartment_id is None else s.get(Compartment, compartment_id)
    return None if found is None else found.label


def parcel_event(
    s: Session,
    kind: Kind,
    parcel: Parcel,
    *,
    at: datetime,
    now: datetime | None = None,
    **extra: object,
) -> WebhookEvent:
    """``parcel``'s event, at ``at`` (due at ``now``, by default ``at``)."""
    data: dict[str, object] = {
        "waybill": parcel.waybill,
        "bank_id": parcel.bank_id,
        "compartment": label(s, parcel.compartment_id),
        **extra,
    }
    subject = f"parcel:{parcel.waybill}"
    return record(
        s, kind, parcel.carrier_id, subject, at=at, now=now or at, waybill=parcel.waybill, data=data
    )


def reservation_event(
    s: Session, kind: Kind, reservation: Reservation, now: datetime
) -> WebhookEvent:
    data = reservation_data(reservation, label(s, reservation.compartment_id))
    subject = f"reservation:{reservation.id}"
    return record(s, kind, reservation.carrier_id, subject, at=now, now=now, data=data)


def reservation_data(reservation: Reservation, compartment: str | None) -> dict[str, object]:
    """What a reservation's event says of it; ``compartment`` is its compartment's label."""
    expires = reservation.expires_at
    return {
        "reservation_id": reservation.id,
        "bank_id": reservation.bank_id,
        "compartment": compartment,
        "size": reservation.size,
        "kind": reservation.kind,
        "state": str(reservation.state),
        "expires_at": None if expires is None else expires.isoformat(),
    }


# --- from a bank's events, as ingest applies them ------------------------------------------


def bank_event(s: Session, row: InboundEvent, event: Event, now: datetime) -> None:
    """The carrier's event for what a bank reported (after ``effects.apply`` applied it), at
    the time the bank stamped it."""
    at = row.happened_at or now
    match event:
        case ParcelDeposited(waybill=waybill, carrier=carrier):
            until = deadline(event)
            when = None if until is None else until.isoformat()
            _about(
                s,
                Kind.IN_LOCKER,
                row.bank_id,
                waybill,
                at=at,
                now=now,
                carrier=carrier,
                deadline=when,
            )
        case ParcelPickedUp(waybill=waybill, parcel_id=edge_id):
            chain = coldchain.chain_fields(s, row.bank_id, str(edge_id))  # issue 17
            _about(s, Kind.PICKED_UP, row.bank_id, waybill, at=at, now=now, **chain)
        case ParcelRefused(waybill=waybill, reason=reason):
            expired = reason in EXPIRY_REASONS
            kind = Kind.EXPIRED if expired else Kind.REFUSED
            _about(s, kind, row.bank_id, waybill, at=at, now=now, reason=reason)
        case ParcelReturned(waybill=waybill):
            _about(s, Kind.RETURNED, row.bank_id, waybill, at=at, now=now)
        case DoorJammed(compartment=where):
            _jammed(s, row.bank_id, where, at, now)
        case _:
            pass


def deadline(event: ParcelDeposited) -> datetime | None:
    """When the deposited parcel becomes a return, by the policy the bank keeps it under (the
    bank's own count; outages later move it: ``locker_contract.storage``). None from a bank
    that does not say."""
    if event.deposited_at is None or event.storage is None:
        return None
    at = event.deposited_at
    return storage.deadline(at, event.storage, [], at)


def _about(
    s: Session,
    kind: Kind,
    bank_id: str,
    waybill: str,
    *,
    at: datetime,
    now: datetime,
    carrier: str | None = None,
    **extra: object,
) -> None:
    query = select(Parcel).where(
        Parcel.bank_id == bank_id,
        Parcel.waybill == waybill,
        Parcel.status == BECOMES[kind],  # the parcel the effect just moved, not a namesake
    )
    if carrier is not None:
        query = query.where(Parcel.carrier_id == carrier)
    parcel = s.exec(query.order_by(col(Parcel.created_at).desc())).first()
    if parcel is None:
        log.debug("bank %s: no parcel %s to tell its carrier about", bank_id, waybill)
        return
    parcel_event(s, kind, parcel, at=at, now=now, **extra)


def _jammed(s: Session, bank_id: str, where: str, at: datetime, now: datetime) -> None:
    query = (
        select(Parcel)
        .join(Compartment, col(Compartment.id) == col(Parcel.compartment_id))
        .where(
            Compartment.bank_id == bank_id,
            Compartment.label == where,
            col(Parcel.status).in_(HELD),
        )
    )
    for parcel in s.exec(query):
        parcel_event(s, Kind.DOOR_JAMMED, parcel, at=at, now=now)
