"""The statements a reservation runs under its bank's lock, built once with named parameters.

Built per request, SQLAlchemy spends more time constructing an expression and its cache key
than PostgreSQL spends answering it; these are built at import and run with ``{"bank": ...}``
(and ``"rank"``, ``"klass"``: the temperature class). They select columns, not ORM objects,
but for the compartment taken."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import (
    BindParameter,
    CompoundSelect,
    String,
    bindparam,
    func,
    literal,
    null,
    or_,
    union_all,
)
from sqlmodel import col, select

from cloud.coldchain.ingest import EXCURSION
from cloud.models import (
    Alarm,
    Bank,
    Compartment,
    Parcel,
    Reservation,
    ReservationState,
    SharingPolicy,
)

HOLDING_PARCEL = ("in_locker", "return_pending")  # the parcel states that occupy a compartment
ALLOCATION_LOCK = 0x5EA7  # the advisory locks' first key: allocation's (the second: the bank's)

_BANK: BindParameter[str] = bindparam("bank")  # typed by the column it is compared with


class Policy(NamedTuple):
    """A carrier's share of the bank, in whatever state."""

    carrier_id: str
    guaranteed: int
    ceiling: int
    state: str


_RESERVED = (
    select(Reservation.compartment_id)
    .where(Reservation.bank_id == _BANK, Reservation.state == ReservationState.ACTIVE)
    .scalar_subquery()
)
_OCCUPIED = (
    select(Parcel.compartment_id)
    .where(Parcel.bank_id == _BANK, col(Parcel.status).in_(HOLDING_PARCEL))
    .scalar_subquery()
)
_FREE = (
    col(Compartment.in_service).is_(True),
    col(Compartment.id).not_in(_RESERVED),
    col(Compartment.id).not_in(_OCCUPIED),
)

FIND_BANK = select(Bank.id, literal(0)).where(Bank.id == _BANK)
LOCK_BANK = select(
    Bank.id, func.pg_advisory_xact_lock(ALLOCATION_LOCK, func.hashtext(Bank.id))
).where(Bank.id == _BANK)

# the bank's soft reservations past their time, to expire before counting; whether there is one
_PAST_TIME = (
    Reservation.bank_id == _BANK,
    Reservation.state == ReservationState.ACTIVE,
    col(Reservation.expires_at) < bindparam("now"),
)
DUE = select(Reservation).where(*_PAST_TIME)
ANY_DUE = select(Reservation.id).where(*_PAST_TIME).limit(1)

POLICIES = select(
    SharingPolicy.carrier_id, SharingPolicy.guaranteed, SharingPolicy.ceiling, SharingPolicy.state
).where(SharingPolicy.bank_id == _BANK)

# (carrier, compartments it holds) for each carrier, and (NULL, free compartments)
TALLY: CompoundSelect[tuple[str | None, int]] = union_all(
    select(Reservation.carrier_id, func.count())
    .where(Reservation.bank_id == _BANK, Reservation.state == ReservationState.ACTIVE)
    .group_by(col(Reservation.carrier_id)),
    select(Parcel.carrier_id, func.count())
    .where(Parcel.bank_id == _BANK, col(Parcel.status).in_(HOLDING_PARCEL))
    .group_by(col(Parcel.carrier_id)),
    select(null(), func.count())
    .select_from(Compartment)
    .where(Compartment.bank_id == _BANK, *_FREE),
)

# the bank's zones in an excursion: they take no new parcel until back in range (the bank
# refuses them too, decision 0026; the cloud must not reserve what the bank will refuse)
_WARM_ZONES = (
    select(Alarm.compartment)
    .where(Alarm.bank_id == _BANK, Alarm.kind == EXCURSION, col(Alarm.cleared_at).is_(None))
    .scalar_subquery()
)

# an entity, not columns: it stays in the session's identity map for what reads it next
PICK = (
    select(Compartment)
    .where(
        Compartment.bank_id == _BANK,
        col(Compartment.size_rank) >= bindparam("rank"),
        Compartment.temperature_class == bindparam("klass", type_=String()),  # issue 17
        or_(col(Compartment.zone).is_(None), col(Compartment.zone).not_in(_WARM_ZONES)),
        *_FREE,
    )
    .order_by(col(Compartment.size_rank), col(Compartment.label))
    .limit(1)
    .with_for_update(skip_locked=True)
)
