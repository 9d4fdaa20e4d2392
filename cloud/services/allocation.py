"""Allocation of shared compartments: reservations under each bank's sharing policy.

Policy, per bank and carrier (``SharingPolicy``): a *guaranteed* number of compartments the
carrier can always hold, a *ceiling* it can never exceed, and the rest a shared pool. A carrier
past its guarantee may take a compartment only while free compartments remain beyond what other
carriers are still owed of their guarantees. A carrier with no policy at a bank uses the shared
pool only.

Concurrency: the policy counts holdings, so decisions at one bank are serialised by locking the
bank's row (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite ``BEGIN IMMEDIATE``). The compartment is
then taken ``FOR UPDATE SKIP LOCKED``, and the partial unique index on active reservations makes
two holds on one compartment impossible whatever the code does.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import Engine, ScalarSelect, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.lifecycles import RESERVATION
from cloud.models import (
    Bank,
    Compartment,
    Parcel,
    Reservation,
    ReservationCreate,
    ReservationState,
    ShareState,
    SharingPolicy,
    Site,
    Size,
)
from cloud.services.auth import Principal, audit
from cloud.services.commands import enqueue_command
from cloud.services.errors import Conflict, NotFound
from locker_contract import commands as contract
from locker_contract.sharing import BankCounts, Share, Verdict, admit

HOLDING_PARCEL = ("in_locker", "return_pending")
NEAREST = 3


DEFAULT_TTL_S = 3600.0  # a soft hold's, when the request names none


def digest(request: ReservationCreate) -> str:
    """What an Idempotency-Key's replay must match: the request, its time to live resolved."""
    body = json.dumps([request.bank_id, str(request.size), request.kind, _ttl_s(request)])
    return hashlib.sha256(body.encode()).hexdigest()


def _ttl_s(request: ReservationCreate) -> float:
    return DEFAULT_TTL_S if request.ttl_s is None else request.ttl_s


def reserve(
    engine: Engine,
    who: Principal,
    request: ReservationCreate,
    idempotency_key: str | None = None,
    *,
    now: datetime | None = None,
) -> tuple[Reservation, bool]:
    """Reserve the smallest free fitting compartment at ``now``; return it and whether it is
    new."""
    carrier, now = who.carrier, now or utcnow()
    try:
        with transaction(engine) as s:
            earlier = _replay(s, carrier, idempotency_key, request)
            if earlier is not None:
                return earlier, False
            reservation = _reserve_locked(s, who, request, idempotency_key, now)
    except IntegrityError:
        # The same Idempotency-Key raced in on another connection and won: answer with its result.
        with transaction(engine) as s:
            earlier = _replay(s, carrier, idempotency_key, request)
        if earlier is None:
            raise
        return earlier, False
    return reservation, True


def _replay(
    s: Session, carrier: str, key: str | None, request: ReservationCreate
) -> Reservation | None:
    if key is None:
        return None
    query = select(Reservation).where(
        Reservation.carrier_id == carrier, Reservation.idempotency_key == key
    )
    earlier = s.exec(query).first()
    if earlier is not None and earlier.request_hash != digest(request):
        raise Conflict("this Idempotency-Key was used for a different request")
    return earlier


def _reserve_locked(
    s: Session, who: Principal, request: ReservationCreate, key: str | None, now: datetime
) -> Reservation:
    carrier = who.carrier
    _lock_bank(s, request.bank_id)
    _expire_due(s, request.bank_id, now)
    refusal = _admit(s, request.bank_id, carrier)
    compartment = None if refusal else pick_free(s, request.bank_id, request.size)
    if compartment is None:
        reason = refusal or f"no free compartment fits size {request.size} at {request.bank_id}"
        raise Conflict(reason, nearest=nearest_with_room(s, request.bank_id, request.size))
    soft = request.kind == "soft"
    reservation = Reservation(
        carrier_id=carrier,
        bank_id=request.bank_id,
        compartment_id=compartment.id,
        size=compartment.size,
        kind=request.kind,
        expires_at=now + timedelta(seconds=_ttl_s(request)) if soft else None,
        created_at=now,
        idempotency_key=key,
        request_hash=digest(request),
    )
    s.add(reservation)
    s.flush()
    audit(s, who, "reserve", reservation.id, bank=request.bank_id, compartment=compartment.label)
    push = contract.ReservationPush(
        reservation_id=reservation.id,
        carrier_id=carrier,
        compartment=compartment.label,
        kind="soft" if soft else "hard",
    )
    enqueue_command(s, request.bank_id, push, now=now)
    return reservation


def _lock_bank(s: Session, bank_id: str) -> None:
    """Serialise the bank's decisions: its row ``FOR UPDATE`` (SQLite, where SQLAlchemy leaves
    the clause out, serialises writers with ``BEGIN IMMEDIATE``)."""
    query = select(Bank).where(Bank.id == bank_id).with_for_update()
    if s.exec(query).first() is None:
        raise NotFound(f"no bank {bank_id}")


def _expire_due(s: Session, bank_id: str, now: datetime) -> None:
    due = select(Reservation).where(
        Reservation.bank_id == bank_id,
        Reservation.state == ReservationState.ACTIVE,
        col(Reservation.expires_at) < now,
    )
    for reservation in s.exec(due):
        reservation.state = RESERVATION.step(reservation.state, ReservationState.EXPIRED)
        s.add(reservation)
        withdraw = contract.ReservationWithdraw(reservation_id=reservation.id)
        enqueue_command(s, bank_id, withdraw, now=now)
    s.flush()


def _held_ids(bank_id: str) -> tuple[ScalarSelect[str], ScalarSelect[str | None]]:
    """The bank's compartments held by a reservation, and those a parcel is in."""
    reserved = select(Reservation.compartment_id).where(
        Reservation.bank_id == bank_id, Reservation.state == ReservationState.ACTIVE
    )
    occupied = select(Parcel.compartment_id).where(
        Parcel.bank_id == bank_id, col(Parcel.status).in_(HOLDING_PARCEL)
    )
    return reserved.scalar_subquery(), occupied.scalar_subquery()


def holdings(s: Session, bank_id: str) -> Counter[str]:
    """Compartments each carrier holds at the bank: active reservations and parcels inside.

    Counted in SQL: this runs while the bank's lock is held."""
    reserved = select(Reservation.carrier_id, func.count()).where(
        Reservation.bank_id == bank_id, Reservation.state == ReservationState.ACTIVE
    )
    parcels = select(Parcel.carrier_id, func.count()).where(
        Parcel.bank_id == bank_id, col(Parcel.status).in_(HOLDING_PARCEL)
    )
    held: Counter[str] = Counter()
    grouped = (
        reserved.group_by(col(Reservation.carrier_id)),
        parcels.group_by(col(Parcel.carrier_id)),
    )
    for query in grouped:
        for carrier, count in s.exec(query):
            held[carrier] += count
    return held


def sharing_counts(s: Session, bank_id: str) -> BankCounts:
    """The bank as the sharing rule counts it (``locker_contract.sharing``): only the shares
    its carriers accepted, the ones the bank itself was sent and enforces at walk-up."""
    policies = s.exec(
        select(SharingPolicy).where(
            SharingPolicy.bank_id == bank_id, SharingPolicy.state == ShareState.ACCEPTED
        )
    )
    shares = {p.carrier_id: Share(p.guaranteed, p.ceiling) for p in policies}
    free = sum(free_by_size(s, bank_id).values())
    return BankCounts(free=free, held=holdings(s, bank_id), shares=shares)


def _admit(s: Session, bank_id: str, carrier: str) -> str | None:
    """Why the bank's sharing rule refuses the carrier another hold, or None when it may.

    A carrier at its ceiling gets ``Conflict`` at once: other banks would not help it here."""
    bank = sharing_counts(s, bank_id)
    verdict = admit(bank, carrier)
    if verdict is Verdict.AT_CEILING:
        ceiling = bank.shares[carrier].ceiling
        held = bank.holds(carrier)
        raise Conflict(f"{carrier} holds {held} compartments here, its ceiling", ceiling=ceiling)
    if verdict is Verdict.FULL:
        return f"{bank_id} is full"
    if verdict is Verdict.OWED:
        return "the shared pool is empty; what is free is guaranteed to other carriers"
    return None


def pick_free(s: Session, bank_id: str, size: Size) -> Compartment | None:
    """The smallest free compartment that fits, locked for this transaction (``SKIP LOCKED``
    on PostgreSQL; SQLite has one writer at a time)."""
    reserved, occupied = _held_ids(bank_id)
    query = (
        select(Compartment)
        .where(
            Compartment.bank_id == bank_id,
            col(Compartment.in_service).is_(True),
            col(Compartment.size_rank) >= size.rank,
            col(Compartment.id).not_in(reserved),
            col(Compartment.id).not_in(occupied),
        )
        .order_by(col(Compartment.size_rank), col(Compartment.label))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return s.exec(query).first()


def nearest_with_room(s: Session, bank_id: str, size: Size) -> list[dict[str, object]]:
    """Up to three other banks with a free fitting compartment, nearest first."""
    here = s.exec(select(Site).join(Bank).where(Bank.id == bank_id)).first()
    if here is None:
        return []
    found = []
    for bank, site in s.exec(select(Bank, Site).join(Site).where(Bank.id != bank_id)):
        free = free_by_size(s, bank.id)
        room = sum(n for sz, n in free.items() if Size(sz).rank >= size.rank)
        if room:
            km = _km(here.lat, here.lon, site.lat, site.lon)
            found.append({"bank_id": bank.id, "distance_km": round(km, 2), "free": room})
    return sorted(found, key=lambda b: float(str(b["distance_km"])))[:NEAREST]


def free_by_size(s: Session, bank_id: str) -> dict[str, int]:
    """The bank's free compartments by size, every size named; counted in SQL."""
    reserved, occupied = _held_ids(bank_id)
    query = (
        select(Compartment.size, func.count())
        .where(
            Compartment.bank_id == bank_id,
            col(Compartment.in_service).is_(True),
            col(Compartment.id).not_in(reserved),
            col(Compartment.id).not_in(occupied),
        )
        .group_by(col(Compartment.size))
    )
    counts = dict(s.exec(query).all())
    return {str(size): counts.get(size, 0) for size in Size}


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def cancel(
    engine: Engine, who: Principal, reservation_id: str, now: datetime | None = None
) -> Reservation:
    with transaction(engine) as s:
        reservation = _own(s, who, reservation_id)
        reservation.state = RESERVATION.step(reservation.state, ReservationState.CANCELLED)
        s.add(reservation)
        audit(s, who, "cancel_reservation", reservation.id)
        withdraw = contract.ReservationWithdraw(reservation_id=reservation.id)
        enqueue_command(s, reservation.bank_id, withdraw, now=now)
        return reservation


def _own(s: Session, who: Principal, reservation_id: str) -> Reservation:
    reservation = s.get(Reservation, reservation_id)
    if reservation is None or reservation.carrier_id != who.carrier:
        raise NotFound("no such reservation")
    return reservation


def get(engine: Engine, who: Principal, reservation_id: str) -> Reservation:
    with transaction(engine) as s:
        return _own(s, who, reservation_id)


def list_own(engine: Engine, who: Principal, state: str | None = None) -> list[Reservation]:
    query = select(Reservation).where(Reservation.carrier_id == who.carrier)
    if state:
        query = query.where(Reservation.state == state)
    with transaction(engine) as s:
        return list(s.exec(query.order_by(col(Reservation.created_at))))
