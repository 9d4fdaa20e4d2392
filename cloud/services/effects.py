"""What each event of a bank means to the cloud's records, once ``ingest`` has put it in order:
the stored body is read back into its contract model once (``parsed``) and dispatched with
``match`` (``apply``). The edge is the authority on what is physically in a compartment: when a
deposit lands in a compartment another reservation was bound to, that reservation moves to
another fitting compartment of the bank, or becomes ``unfulfillable`` for its carrier to see.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session, select

from cloud.coldchain import ingest as coldchain
from cloud.lifecycles import PARCEL, RESERVATION
from cloud.models import (
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
)
from cloud.services import alarms, allocation, storage_policy
from cloud.services.commands import enqueue_command
from cloud.services.named import GONE, named_parcel
from cloud.webhooks import outbox as webhooks
from cloud.webhooks.events import Kind
from locker_contract import commands as contract
from locker_contract.events import (
    BoardHealthChanged,
    CompartmentService,
    DoorClosed,
    DoorForcedOpen,
    DoorJammed,
    DoorLeftOpen,
    DoorOpened,
    DoorOutcomeUnknown,
    Event,
    EventAdapter,
    KioskLockout,
    ParcelDeposited,
    ParcelPickedUp,
    ParcelRefused,
    ParcelReturned,
)

Named = ParcelPickedUp | ParcelRefused | ParcelReturned  # events that name a parcel in the locker

log = logging.getLogger(__name__)


def parsed(event: InboundEvent) -> Event:
    """The stored body back as its contract model, read once. A deposit's sealed code is not
    kept (``stored_body``): it reads as None."""
    body = event.body
    if event.type == "parcel.deposited":
        body = body | {"sealed_code": None}
    return EventAdapter.validate_python(body)


def apply(s: Session, row: InboundEvent, event: Event, now: datetime) -> None:
    """What ``event`` means to the cloud; events not named here are recorded only."""
    bank_id, source = row.bank_id, f"bank {row.bank_id} seq {row.seq}"
    match event:
        case ParcelDeposited():
            _deposited(s, bank_id, event, source, now)
        case ParcelPickedUp():
            _parcel_status(s, bank_id, event, ParcelStatus.PICKED_UP, source)
        case ParcelRefused():
            _parcel_status(s, bank_id, event, ParcelStatus.RETURN_PENDING, source)
            storage_policy.on_refused(s, row, event, now)  # expired: its recipient is told
        case ParcelReturned():
            _parcel_status(s, bank_id, event, ParcelStatus.RETURNED, source)
        case DoorClosed(compartment=label):
            _door_closed(s, bank_id, label, now)
        case DoorOpened(compartment=label):
            _door_worked(s, bank_id, label, now)
        case CompartmentService(compartment=label, in_service=in_service):
            _service(s, bank_id, label, in_service, now)
        case BoardHealthChanged(bus=bus, board=board, online=online):
            _board(s, bank_id, f"{bus}/{board}", online, now)
        case DoorForcedOpen(compartment=where) | DoorLeftOpen(compartment=where):
            alarms.raise_open(s, [bank_id], event.type, where, now)
        case DoorJammed(compartment=where) | DoorOutcomeUnknown(compartment=where):
            alarms.raise_open(s, [bank_id], event.type, where, now)
        case KioskLockout(scope=where):
            alarms.raise_open(s, [bank_id], event.type, where, now)
        case _:
            log.debug("%s: %s recorded", source, event.type)
    coldchain.apply(s, row, event, now)  # zones' excursions, parcels' cold records (issue 17)
    webhooks.bank_event(s, row, event, now)  # the carrier's webhook event, in this transaction


def _compartment(s: Session, bank_id: str, label: str) -> Compartment | None:
    query = select(Compartment).where(Compartment.bank_id == bank_id, Compartment.label == label)
    found = s.exec(query).first()
    if found is None:
        log.warning("bank %s reported unknown compartment %s", bank_id, label)
    return found


def _status(s: Session, parcel: Parcel, status: ParcelStatus, source: str) -> None:
    parcel.status = PARCEL.step(parcel.status, status)
    s.add(parcel)
    s.add(ParcelEvent(parcel_id=parcel.id, status=status, source=source))


def _deposited(
    s: Session, bank_id: str, event: ParcelDeposited, source: str, now: datetime
) -> None:
    compartment = _compartment(s, bank_id, event.compartment)
    if compartment is None or s.get(Carrier, event.carrier) is None:
        return
    query = select(Parcel).where(
        Parcel.carrier_id == event.carrier, Parcel.waybill == event.waybill
    )
    parcel = s.exec(query).first() or Parcel(
        carrier_id=event.carrier,
        waybill=event.waybill,
        bank_id=bank_id,
        recipient_phone=event.recipient_phone,
        consent=event.consent,
    )
    parcel.compartment_id = compartment.id
    parcel.group_id = str(event.group_id)  # the recipient's page finds its parcels by it
    parcel.edge_id = str(event.parcel_id)  # what the bank's later events call it
    known = s.get(Courier, event.courier_id) is not None
    parcel.courier_id = event.courier_id if known else None
    s.add(parcel)
    s.flush()
    _status(s, parcel, ParcelStatus.IN_LOCKER, source)
    _settle_reservations(s, compartment, event.carrier, now)


def _settle_reservations(s: Session, compartment: Compartment, carrier: str, now: datetime) -> None:
    """The physical fact wins: fulfil the carrier's hold on this compartment, move another's."""
    query = select(Reservation).where(
        Reservation.compartment_id == compartment.id,
        Reservation.state == ReservationState.ACTIVE,
    )
    for reservation in s.exec(query):
        if reservation.carrier_id == carrier:
            reservation.state = RESERVATION.step(reservation.state, ReservationState.FULFILLED)
        else:
            move_reservation(s, reservation, compartment, now)
        s.add(reservation)


def move_reservation(
    s: Session, reservation: Reservation, taken: Compartment, now: datetime
) -> None:
    """Move the hold to another free fitting compartment (``taken`` is not free: the parcel is
    in it, or it is out of service), or make it unfulfillable."""
    better = allocation.pick_free(
        s, taken.bank_id, Size(reservation.size), reservation.temperature_class
    )
    if better is None:
        reservation.state = RESERVATION.step(reservation.state, ReservationState.UNFULFILLABLE)
        webhooks.reservation_event(s, Kind.RESERVATION_UNFULFILLABLE, reservation, now)
        withdraw = contract.ReservationWithdraw(reservation_id=reservation.id)
        enqueue_command(s, taken.bank_id, withdraw, now=now)
        return
    # no withdraw first: the push, with the same reservation id, moves the bank's hold, and
    # two commands could arrive in either order
    reservation.compartment_id = better.id
    webhooks.reservation_event(s, Kind.RESERVATION_MOVED, reservation, now)
    push = contract.ReservationPush(
        reservation_id=reservation.id, carrier_id=reservation.carrier_id, compartment=better.label
    )
    enqueue_command(s, taken.bank_id, push, now=now)


def _parcel_status(
    s: Session, bank_id: str, event: Named, status: ParcelStatus, source: str
) -> None:
    parcel = named_parcel(s, bank_id, event.parcel_id, event.waybill)
    if parcel is not None and parcel.status not in GONE:
        _status(s, parcel, status, source)
        if status in GONE:
            _forget_code(s, parcel)


def _forget_code(s: Session, parcel: Parcel) -> None:
    """The parcel left the locker: its code opens nothing now, and is kept nowhere, sealed or
    not (an unsent notice can no longer be sent: it would only tell a used code)."""
    query = select(Notification).where(
        Notification.bank_id == parcel.bank_id,
        Notification.carrier_id == parcel.carrier_id,
        Notification.waybill == parcel.waybill,
    )
    for notice in s.exec(query):
        notice.sealed_code = None
        s.add(notice)


# what a door's events clear at that door (decision 0023): shut, it is neither left open nor
# forced open any more (nor of unknown state); opened by an unlock, its lock works again
CLEARED_WHEN_SHUT = ("door.left_open", "door.forced_open", "door.outcome_unknown")
CLEARED_WHEN_OPENED = ("door.jammed", "door.outcome_unknown")


def _door_closed(s: Session, bank_id: str, label: str, now: datetime) -> None:
    for kind in CLEARED_WHEN_SHUT:
        alarms.clear_open(s, [bank_id], kind, now, where=label)


def _door_worked(s: Session, bank_id: str, label: str, now: datetime) -> None:
    for kind in CLEARED_WHEN_OPENED:
        alarms.clear_open(s, [bank_id], kind, now, where=label)


def _service(s: Session, bank_id: str, label: str, in_service: bool, now: datetime) -> None:
    compartment = _compartment(s, bank_id, label)
    if compartment is not None:
        compartment.in_service = in_service
        s.add(compartment)
        if not in_service:
            move_holds(s, compartment, now)


def move_holds(s: Session, door: Compartment, now: datetime) -> None:
    """The active holds on ``door``, out of service now: each moved to another free door of its
    size and class, or unfulfillable (``move_reservation``)."""
    s.flush()  # the door out of allocation before its holds look for another
    query = select(Reservation).where(
        Reservation.compartment_id == door.id, Reservation.state == ReservationState.ACTIVE
    )
    for reservation in s.exec(query.with_for_update()):
        move_reservation(s, reservation, door, now)
        s.add(reservation)


def _board(s: Session, bank_id: str, where: str, online: bool, now: datetime) -> None:
    if online:
        alarms.clear_open(s, [bank_id], "board.offline", now, where=where)
    else:
        alarms.raise_open(s, [bank_id], "board.offline", where, now)
