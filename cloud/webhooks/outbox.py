"""Events written in the transaction of their cause (the outbox), one delivery row per
subscribed endpoint; ``locker cloud webhooks`` sends them.

``record`` is the one writer. The hooks below turn what the services do into events, one call
each: ``bank_event`` from ingest's effects (the time is when it happened at the bank),
``parcel_event`` and ``reservation_event`` from the carriers' API and allocation.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, col, select

from cloud.coldchain import ingest as coldchain
from cloud.models import Compartment, InboundEvent, Parcel, ParcelStatus, Reservation
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
    body = {"carrier_id": carrier_id, **(data or {}), **vocabularies(kind)}
    event = WebhookEvent(
        carrier_id=carrier_id,
        type=kind.value,
        subject=subject,
        waybill=waybill,
        occurred_at=at,
        recorded_at=now,
        data=body,
        dedupe=dedupe,
    )
    s.add(event)
    s.flush()
    assert event.seq is not None
    for endpoint_id in [only.id] if only else subscribed(s, carrier_id, kind):
        s.add(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_seq=event.seq,
                subject=subject,
                created_at=now,
                next_attempt_at=now,
            )
        )
    return event


def subscribed(s: Session, carrier_id: str, kind: Kind) -> list[str]:
    """The ids of the carrier's active endpoints that want ``kind`` (two columns read: this
    runs in every reservation's transaction)."""
    query = select(WebhookEndpoint.id, WebhookEndpoint.events).where(
        WebhookEndpoint.carrier_id == carrier_id,
        WebhookEndpoint.state == EndpointState.ACTIVE,
    )
    return [id_ for id_, events in s.exec(query) if not events or kind.value in events]


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
    expires = reservation.expires_at
    data: dict[str, object] = {
        "reservation_id": reservation.id,
        "bank_id": reservation.bank_id,
        "compartment": label(s, reservation.compartment_id),
        "size": reservation.size,
        "kind": reservation.kind,
        "state": str(reservation.state),
        "expires_at": None if expires is None else expires.isoformat(),
    }
    subject = f"reservation:{reservation.id}"
    return record(s, kind, reservation.carrier_id, subject, at=now, now=now, data=data)


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
