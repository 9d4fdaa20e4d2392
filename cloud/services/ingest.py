"""Events from banks enter the cloud here, and only here: ``ingest_event``.

Each event is stored once (its event id is the key, so a redelivery is a no-op), and a bank's
events are applied strictly in ``seq`` order: an event that arrives after a gap is parked and
applied when the gap fills. Applying an event updates parcels and their history, compartments,
alarms and reservations. The edge is the authority on what is physically in a compartment: when
a deposit lands in a compartment another reservation was bound to, that reservation moves to
another fitting compartment of the bank, or becomes ``unfulfillable`` for its carrier to see.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.core.db import is_postgres, transaction
from cloud.models import (
    Alarm,
    Bank,
    BankCursor,
    Carrier,
    Compartment,
    Courier,
    InboundEvent,
    Notification,
    Parcel,
    ParcelEvent,
    ParcelStatus,
    Reservation,
    ReservationState,
    Size,
    utcnow,
)
from cloud.services import allocation
from cloud.services.commands import enqueue_command
from cloud.services.errors import Conflict, NotFound
from cloud.services.notices import CODE_PLACEHOLDER
from locker_contract.events import Envelope, ParcelDeposited

log = logging.getLogger(__name__)

CODE_PREFIX = "Pickup code: "
ALARMING = {"door.forced_open", "door.left_open", "door.jammed", "kiosk.lockout"}


@dataclass(frozen=True)
class Ingested:
    duplicate: bool
    applied_seq: int  # everything up to here is applied: what the bank may drop from its outbox
    parked: int  # events waiting for a gap to fill


def ingest_event(engine: Engine, envelope: Envelope) -> Ingested:
    """Store ``envelope`` once and apply every event of its bank that is now in order."""
    with transaction(engine) as s:
        cursor = _cursor(s, engine, envelope.bank_id)
        if s.get(InboundEvent, str(envelope.event_id)) is not None:
            return Ingested(True, cursor.applied_seq, _parked(s, envelope.bank_id))
        if envelope.seq <= cursor.applied_seq or _seq_taken(s, envelope):
            raise Conflict(
                f"bank {envelope.bank_id} already sent seq {envelope.seq} with another id"
            )
        body = envelope.event.model_dump(mode="json")
        if isinstance(envelope.event, ParcelDeposited):
            body["sealed_code"] = _notify(s, envelope, envelope.event)
        s.add(InboundEvent(event_id=str(envelope.event_id), bank_id=envelope.bank_id,
                           seq=envelope.seq, type=envelope.event.type, body=body))  # fmt: skip
        s.flush()
        _apply_in_order(s, engine, cursor)
        return Ingested(False, cursor.applied_seq, _parked(s, envelope.bank_id))


def _notify(s: Session, envelope: Envelope, event: ParcelDeposited) -> str | None:
    """Hand the sealed pickup code to the recipient's notification; what the event keeps
    instead. No code when the parcel joined a pickup group (the code already sent opens it) or
    the bank has no notifier key (its courier handed the code on)."""
    if event.sealed_code is None:
        return None
    bank = s.get_one(Bank, envelope.bank_id)
    text = (f"Your parcel {event.waybill} is in the locker at {bank.name or bank.id}, "
            f"compartment {event.compartment}. {CODE_PREFIX}{CODE_PLACEHOLDER}")  # fmt: skip
    s.add(Notification(event_id=str(envelope.event_id), bank_id=bank.id,
                       carrier_id=event.carrier, waybill=event.waybill,
                       recipient_phone=event.recipient_phone, text=text,
                       sealed_code=event.sealed_code))  # fmt: skip
    return "[in the recipient's notification]"


def _cursor(s: Session, engine: Engine, bank_id: str) -> BankCursor:
    if s.get(Bank, bank_id) is None:
        raise NotFound(f"no bank {bank_id}")
    query = select(BankCursor).where(BankCursor.bank_id == bank_id)
    if is_postgres(engine):
        query = query.with_for_update()
    cursor = s.exec(query).first()
    if cursor is None:
        cursor = BankCursor(bank_id=bank_id)
        s.add(cursor)
        s.flush()
    return cursor


def _seq_taken(s: Session, envelope: Envelope) -> bool:
    query = select(InboundEvent).where(
        InboundEvent.bank_id == envelope.bank_id, InboundEvent.seq == envelope.seq
    )
    return s.exec(query).first() is not None


def _parked(s: Session, bank_id: str) -> int:
    query = select(InboundEvent.event_id).where(
        InboundEvent.bank_id == bank_id, col(InboundEvent.applied).is_(False)
    )
    return len(list(s.exec(query)))


def _apply_in_order(s: Session, engine: Engine, cursor: BankCursor) -> None:
    while True:
        query = select(InboundEvent).where(
            InboundEvent.bank_id == cursor.bank_id, InboundEvent.seq == cursor.applied_seq + 1
        )
        event = s.exec(query).first()
        if event is None:
            return
        APPLY.get(event.type, _record_only)(s, engine, event)
        event.applied = True
        cursor.applied_seq = event.seq
        s.add(event)
        s.add(cursor)
        s.flush()


# --- what each event means ------------------------------------------------------------------


def _record_only(s: Session, engine: Engine, event: InboundEvent) -> None:
    log.debug("bank %s event %s %s: recorded", event.bank_id, event.seq, event.type)


def _compartment(s: Session, bank_id: str, label: object) -> Compartment | None:
    query = select(Compartment).where(
        Compartment.bank_id == bank_id, Compartment.label == str(label)
    )
    found = s.exec(query).first()
    if found is None:
        log.warning("bank %s reported unknown compartment %s", bank_id, label)
    return found


def _status(s: Session, parcel: Parcel, status: ParcelStatus, source: str) -> None:
    parcel.status = status.value
    s.add(parcel)
    s.add(ParcelEvent(parcel_id=parcel.id, status=status.value, source=source))


def _deposited(s: Session, engine: Engine, event: InboundEvent) -> None:
    body = event.body
    compartment = _compartment(s, event.bank_id, body["compartment"])
    carrier = str(body["carrier"])
    if compartment is None or s.get(Carrier, carrier) is None:
        return
    query = select(Parcel).where(
        Parcel.carrier_id == carrier, Parcel.waybill == str(body["waybill"])
    )
    parcel = s.exec(query).first() or Parcel(
        carrier_id=carrier, waybill=str(body["waybill"]), bank_id=event.bank_id,
        recipient_phone=str(body["recipient_phone"]), consent=str(body["consent"]),
    )  # fmt: skip
    parcel.compartment_id = compartment.id
    courier = str(body["courier_id"])
    parcel.courier_id = courier if s.get(Courier, courier) is not None else None
    s.add(parcel)
    s.flush()
    _status(s, parcel, ParcelStatus.IN_LOCKER, f"bank {event.bank_id} seq {event.seq}")
    _settle_reservations(s, engine, compartment, carrier)


def _settle_reservations(
    s: Session, engine: Engine, compartment: Compartment, carrier: str
) -> None:
    """The physical fact wins: fulfil the carrier's hold on this compartment, move another's."""
    query = select(Reservation).where(
        Reservation.compartment_id == compartment.id,
        Reservation.state == ReservationState.ACTIVE.value,
    )
    for reservation in s.exec(query):
        if reservation.carrier_id == carrier:
            reservation.state = ReservationState.FULFILLED.value
        else:
            _move(s, engine, reservation, compartment)
        s.add(reservation)


def _move(s: Session, engine: Engine, reservation: Reservation, taken: Compartment) -> None:
    reservation.state = ReservationState.CANCELLED.value  # frees the index for the move
    s.flush()
    better = allocation.pick_free(s, engine, taken.bank_id, Size(reservation.size))
    if better is None:
        reservation.state = ReservationState.UNFULFILLABLE.value
        withdraw: dict[str, object] = {"reservation_id": reservation.id}
        enqueue_command(s, taken.bank_id, "reservation.withdraw", withdraw)
        return
    # no withdraw first: the push, with the same reservation id, moves the bank's hold, and
    # two commands could arrive in either order
    reservation.compartment_id, reservation.state = better.id, ReservationState.ACTIVE.value
    payload: dict[str, object] = {"reservation_id": reservation.id}
    payload |= {"carrier_id": reservation.carrier_id, "compartment": better.label}
    enqueue_command(s, taken.bank_id, "reservation.push", payload)


def _parcel_status(status: ParcelStatus) -> Callable[[Session, Engine, InboundEvent], None]:
    def apply(s: Session, engine: Engine, event: InboundEvent) -> None:
        query = select(Parcel).where(
            Parcel.bank_id == event.bank_id, Parcel.waybill == str(event.body["waybill"]),
            col(Parcel.status).not_in([ParcelStatus.PICKED_UP.value, ParcelStatus.RETURNED.value]),
        )  # fmt: skip
        parcel = s.exec(query).first()
        if parcel is not None:
            _status(s, parcel, status, f"bank {event.bank_id} seq {event.seq}")
            if status in (ParcelStatus.PICKED_UP, ParcelStatus.RETURNED):
                _forget_code(s, parcel)

    return apply


def _forget_code(s: Session, parcel: Parcel) -> None:
    """The parcel left the locker: its code opens nothing now, and is kept nowhere, sealed or
    not (an unsent notice can no longer be sent: it would only tell a used code)."""
    query = select(Notification).where(
        Notification.bank_id == parcel.bank_id, Notification.carrier_id == parcel.carrier_id,
        Notification.waybill == parcel.waybill,
    )  # fmt: skip
    for notice in s.exec(query):
        notice.sealed_code = None
        s.add(notice)


def _alarm(s: Session, engine: Engine, event: InboundEvent) -> None:
    where = str(event.body.get("compartment", event.body.get("scope", "")))
    s.add(Alarm(bank_id=event.bank_id, kind=event.type, compartment=where))


def _door_closed(s: Session, engine: Engine, event: InboundEvent) -> None:
    query = select(Alarm).where(
        Alarm.bank_id == event.bank_id, Alarm.kind == "door.left_open",
        Alarm.compartment == str(event.body["compartment"]), col(Alarm.cleared_at).is_(None),
    )  # fmt: skip
    for alarm in s.exec(query):
        alarm.cleared_at = utcnow()
        s.add(alarm)


def _service(s: Session, engine: Engine, event: InboundEvent) -> None:
    compartment = _compartment(s, event.bank_id, event.body["compartment"])
    if compartment is not None:
        compartment.in_service = bool(event.body["in_service"])
        s.add(compartment)


def _board(s: Session, engine: Engine, event: InboundEvent) -> None:
    where = f"{event.body['bus']}/{event.body['board']}"
    if not event.body["online"]:
        s.add(Alarm(bank_id=event.bank_id, kind="board.offline", compartment=where))
        return
    query = select(Alarm).where(
        Alarm.bank_id == event.bank_id, Alarm.kind == "board.offline",
        Alarm.compartment == where, col(Alarm.cleared_at).is_(None),
    )  # fmt: skip
    for alarm in s.exec(query):
        alarm.cleared_at = utcnow()
        s.add(alarm)


APPLY: dict[str, Callable[[Session, Engine, InboundEvent], None]] = {
    "parcel.deposited": _deposited,
    "parcel.picked_up": _parcel_status(ParcelStatus.PICKED_UP),
    "parcel.refused": _parcel_status(ParcelStatus.RETURN_PENDING),
    "parcel.returned": _parcel_status(ParcelStatus.RETURNED),
    "door.closed": _door_closed,
    "compartment.service": _service,
    "board.health": _board,
} | dict.fromkeys(ALARMING, _alarm)
