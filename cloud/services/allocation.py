"""Allocation of shared compartments: reservations under each bank's sharing policy.

Policy, per bank and carrier (``SharingPolicy``): a *guaranteed* number of compartments the
carrier can always hold, a *ceiling* it can never exceed, and the rest a shared pool. A carrier
past its guarantee may take a compartment only while free compartments remain beyond what other
carriers are still owed of their guarantees. A carrier with no policy at a bank uses the shared
pool only.

Concurrency: the policy counts holdings, so decisions at one bank are serialised: on PostgreSQL
by a transaction-scoped advisory lock named after the bank (not its row, which the ingest writes
with every heartbeat), on SQLite by ``BEGIN IMMEDIATE``. The compartment is then taken ``FOR
UPDATE SKIP LOCKED``, and the partial unique index on active reservations makes two holds on one
compartment impossible whatever the code does. Only the decision runs under the lock: a refusal
ends its transaction first, and the banks with room nearby are looked up after it
(``cloud.services.nearest``).

A carrier whose share of the bank is offered, declined or withdrawn is refused: nothing of it
goes to the bank until it accepts (the rule announcements follow too, ``refuse_unaccepted``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, Engine, func, union_all
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.lifecycles import RESERVATION
from cloud.models import (
    AuditEntry,
    Command,
    Compartment,
    Parcel,
    Reservation,
    ReservationCreate,
    ReservationState,
    ShareState,
    SharingPolicy,
    Size,
)
from cloud.services import bulk
from cloud.services.allocation_queries import (
    ALLOCATION_LOCK,
    ANY_DUE,
    DUE,
    FIND_BANK,
    HOLDING_PARCEL,
    LOCK_BANK,
    PICK,
    POLICIES,
    TALLY,
    Policy,
)
from cloud.services.auth import Principal, audit, audit_row
from cloud.services.commands import command_audit, command_row, enqueue_command
from cloud.services.errors import Conflict, NotFound
from cloud.services.nearest import nearest_with_room
from cloud.webhooks import outbox as webhooks
from cloud.webhooks.events import Kind
from locker_contract import commands as contract
from locker_contract.cold import TemperatureClass
from locker_contract.sharing import BankCounts, Share, Verdict, admit

__all__ = ["ALLOCATION_LOCK", "HOLDING_PARCEL", "nearest_with_room"]  # the benchmark mirrors these


DEFAULT_TTL_S = 3600.0  # a soft hold's, when the request names none


def digest(request: ReservationCreate) -> str:
    """What an Idempotency-Key's replay must match: the request, its time to live resolved."""
    fields: list[object] = [request.bank_id, str(request.size), request.kind, _ttl_s(request)]
    if request.temperature_class is not TemperatureClass.AMBIENT:  # ambient hashes as before
        fields.append(str(request.temperature_class))
    body = json.dumps(fields)
    return hashlib.sha256(body.encode()).hexdigest()


def _ttl_s(request: ReservationCreate) -> float:
    return DEFAULT_TTL_S if request.ttl_s is None else request.ttl_s


class Reserved(NamedTuple):
    """A reservation, whether this request made it, and its compartment's label when the
    request chose it (the answer then needs no second transaction to name it)."""

    reservation: Reservation
    created: bool
    label: str | None = None


@dataclass(frozen=True)
class Refused:
    """Why a reservation was refused, decided under the bank's lock; answered after it."""

    reason: str
    nearby: bool = True  # whether other banks could help: not when the carrier is at its ceiling
    detail: dict[str, object] = field(default_factory=dict)


Caller = Callable[[Session], Principal]  # who asks, found in the reservation's transaction


def reserve(
    engine: Engine,
    who: Principal | Caller,
    request: ReservationCreate,
    idempotency_key: str | None = None,
    *,
    now: datetime | None = None,
) -> Reserved:
    """Reserve the smallest free fitting compartment at ``now``; return it and whether it is
    new. A refusal is a ``Conflict`` naming the nearest banks with room (looked up once the
    refused transaction is over). ``who`` may be looked up in the reservation's transaction
    (the API's key: one transaction per request, not two)."""
    now = now or utcnow()
    with engine.connect() as db:  # one checkout: a refusal's lookup runs on it too
        outcome = _decide(db, who, request, idempotency_key, now)
        if isinstance(outcome, Refused):
            raise _refusal(db, outcome, request)
        return outcome


def _decide(
    db: Connection,
    who: Principal | Caller,
    request: ReservationCreate,
    idempotency_key: str | None,
    now: datetime,
) -> Reserved | Refused:
    carrier = who.carrier if isinstance(who, Principal) else None
    try:
        with transaction(db) as s:
            principal = who if isinstance(who, Principal) else who(s)
            carrier = principal.carrier
            earlier = _replay(s, carrier, idempotency_key, request)
            if earlier is not None:
                return Reserved(earlier, created=False)
            return _reserve_locked(s, principal, request, idempotency_key, now)
    except IntegrityError:
        # The same Idempotency-Key raced in on another connection and won: answer with its result.
        if carrier is None:
            raise
        with transaction(db) as s:
            earlier = _replay(s, carrier, idempotency_key, request)
        if earlier is None:
            raise
        return Reserved(earlier, created=False)


def _refusal(db: Connection, refused: Refused, request: ReservationCreate) -> Conflict:
    """The refusal, with the nearest banks with room looked up in a transaction of their own
    (the refused one, and the bank's lock, are over)."""
    if not refused.nearby:
        return Conflict(refused.reason, **refused.detail)
    with transaction(db) as s:
        nearest = nearest_with_room(s, request.bank_id, request.size, request.temperature_class)
    return Conflict(refused.reason, nearest=nearest, **refused.detail)


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
) -> Reserved | Refused:
    carrier = who.carrier
    _lock_bank(s, request.bank_id)
    _expire_due(s, request.bank_id, now)
    refusal = _admit(s, request.bank_id, carrier)
    if refusal is not None:
        return refusal
    klass = request.temperature_class
    compartment = pick_free(s, request.bank_id, request.size, klass)
    if compartment is None:
        kind = "" if klass is TemperatureClass.AMBIENT else f"{klass} "
        return Refused(
            f"no free {kind}compartment fits size {request.size} at {request.bank_id}",
            detail={"temperature_class": str(klass)},
        )
    reservation = _write(s, who, request, compartment, key=key, now=now)
    return Reserved(reservation, created=True, label=compartment.label)


def _write(
    s: Session,
    who: Principal,
    request: ReservationCreate,
    compartment: Compartment,
    *,
    key: str | None,
    now: datetime,
) -> Reservation:
    """The reservation's rows, as plain SQL (``bulk.write``; decision 0032): the reservation,
    its event and deliveries, the push to the bank, and both audit entries, in four
    statements. The reservation answered is built here and never enters the session."""
    soft = request.kind == "soft"
    reservation = Reservation(
        carrier_id=who.carrier,
        bank_id=request.bank_id,
        compartment_id=compartment.id,
        size=compartment.size,
        kind=request.kind,
        expires_at=now + timedelta(seconds=_ttl_s(request)) if soft else None,
        created_at=now,
        idempotency_key=key,
        request_hash=digest(request),
        temperature_class=str(request.temperature_class),
    )
    bulk.write(s, Reservation, [bulk.columns(reservation)])
    data = webhooks.reservation_data(reservation, compartment.label)
    confirmed = Kind.RESERVATION_CONFIRMED  # issue 16
    subject = f"reservation:{reservation.id}"
    event = webhooks.event_row(confirmed, who.carrier, subject, at=now, now=now, data=data)
    webhooks.write(s, confirmed, event)
    push = contract.ReservationPush(
        reservation_id=reservation.id,
        carrier_id=reservation.carrier_id,
        compartment=compartment.label,
        kind="soft" if soft else "hard",
    )
    command = command_row(request.bank_id, push, now=now)
    bulk.write(s, Command, [bulk.columns(command)])
    reserved = audit_row(
        who, "reserve", reservation.id, bank=request.bank_id, compartment=compartment.label
    )
    bulk.write(s, AuditEntry, [reserved, command_audit(None, command)])
    return reservation


def _lock_bank(s: Session, bank_id: str) -> None:
    """Serialise the bank's decisions. PostgreSQL: an advisory lock held to the transaction's
    end, taken in the statement that finds the bank (its row stays free for the ingest's
    writes); SQLite: its writers are serialised already (``BEGIN IMMEDIATE``)."""
    postgres = s.get_bind().dialect.name == "postgresql"
    found = s.connection().execute(LOCK_BANK if postgres else FIND_BANK, {"bank": bank_id}).first()
    if found is None:
        raise NotFound(f"no bank {bank_id}")


def _expire_due(s: Session, bank_id: str, now: datetime) -> None:
    """End the bank's soft reservations past their time. Most requests find none: asked first
    as plain SQL (``ANY_DUE``), loaded as entities only when there are some."""
    params = {"bank": bank_id, "now": now}
    if s.connection().execute(ANY_DUE, params).first() is None:
        return
    for reservation in s.exec(DUE, params=params):
        reservation.state = RESERVATION.step(reservation.state, ReservationState.EXPIRED)
        s.add(reservation)
        webhooks.reservation_event(s, Kind.RESERVATION_EXPIRED, reservation, now)  # issue 16
        withdraw = contract.ReservationWithdraw(reservation_id=reservation.id)
        enqueue_command(s, bank_id, withdraw, now=now)
    s.flush()


def _tally(s: Session, bank_id: str) -> tuple[int, Counter[str]]:
    """The bank's free compartments and what each carrier holds, in one statement: this runs
    while the bank's lock is held."""
    held: Counter[str] = Counter()
    free = 0
    rows: Iterable[tuple[str | None, int]] = s.connection().execute(TALLY, {"bank": bank_id})
    for carrier, count in rows:
        if carrier is None:
            free = count
        else:
            held[carrier] += count
    return free, held


def sharing_counts(s: Session, bank_id: str) -> BankCounts:
    """The bank as the sharing rule counts it (``locker_contract.sharing``): only the shares
    its carriers accepted, the ones the bank itself was sent and enforces at walk-up."""
    return _counts(s, bank_id, _policies(s, bank_id))


def _policies(s: Session, bank_id: str) -> dict[str, Policy]:
    """Every share of the bank, whatever its state."""
    shares = s.connection().execute(POLICIES, {"bank": bank_id})
    return {row[0]: Policy(*row) for row in shares}


def _counts(s: Session, bank_id: str, policies: dict[str, Policy]) -> BankCounts:
    shares = {
        c: Share(guaranteed, ceiling)
        for c, guaranteed, ceiling, state in policies.values()
        if state == ShareState.ACCEPTED
    }
    free, held = _tally(s, bank_id)
    return BankCounts(free=free, held=held, shares=shares)


def unaccepted(bank_id: str, state: str | None) -> str | None:
    """Why nothing of a carrier goes to a bank where its share is in ``state``: offered,
    declined or withdrawn. None when accepted, or when there is no share (walk-up deposits and
    the shared pool are open to any carrier)."""
    if state is None or state == ShareState.ACCEPTED:
        return None
    return f"your share of {bank_id} is {state}; accept it first"


def refuse_unaccepted(s: Session, bank_id: str, carrier_id: str) -> None:
    """``Conflict`` when the carrier's share of the bank is not accepted (``unaccepted``)."""
    share = s.get(SharingPolicy, (bank_id, carrier_id))
    reason = unaccepted(bank_id, None if share is None else share.state)
    if reason is not None:
        raise Conflict(reason)


def _admit(s: Session, bank_id: str, carrier: str) -> Refused | None:
    """Why the carrier may not take another compartment here, or None when it may."""
    policies = _policies(s, bank_id)
    mine = policies.get(carrier)
    reason = unaccepted(bank_id, None if mine is None else mine.state)
    if reason is not None:
        return Refused(reason, nearby=False)
    bank = _counts(s, bank_id, policies)
    verdict = admit(bank, carrier)
    if verdict is Verdict.AT_CEILING:  # other banks would not help it here
        ceiling = bank.shares[carrier].ceiling
        reason = f"{carrier} holds {bank.holds(carrier)} compartments here, its ceiling"
        return Refused(reason, nearby=False, detail={"ceiling": ceiling})
    if verdict is Verdict.FULL:
        return Refused(f"{bank_id} is full")
    if verdict is Verdict.OWED:
        return Refused("the shared pool is empty; what is free is guaranteed to other carriers")
    return None


def pick_free(
    s: Session, bank_id: str, size: Size, klass: str = TemperatureClass.AMBIENT
) -> Compartment | None:
    """The smallest free compartment of class ``klass`` that fits, locked for this transaction
    (``SKIP LOCKED`` on PostgreSQL; SQLite has one writer at a time). Classes match exactly
    (``locker_contract.cold.serves``): a chilled parcel only in a chilled compartment, an ambient
    one never in a fridge's room."""
    params = {"bank": bank_id, "rank": size.rank, "klass": str(klass)}
    return s.exec(PICK, params=params).first()


def free_by_size(s: Session, bank_id: str) -> dict[str, int]:
    """The bank's free compartments by size, every size named; counted in SQL."""
    return free_everywhere(s, [bank_id]).get(bank_id, no_sizes())


def free_everywhere(s: Session, banks: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Free ambient compartments by bank and size (``free_by_class``'s ambient share)."""
    by_class = free_by_class(s, banks)
    return {
        bank: classes.get(TemperatureClass.AMBIENT, no_sizes())
        for bank, classes in by_class.items()
    }


Free = dict[str, dict[str, dict[str, int]]]  # bank -> temperature class -> size -> free


def free_by_class(s: Session, banks: list[str] | None = None) -> Free:
    """Free compartments by bank, temperature class and size (every bank of ``banks``, or of
    the fleet, that has one), in one grouped query: a list of a thousand banks is not three
    thousand queries."""
    reserved = select(Reservation.compartment_id).where(
        Reservation.state == ReservationState.ACTIVE
    )
    occupied = select(Parcel.compartment_id).where(col(Parcel.status).in_(HOLDING_PARCEL))
    query = select(
        Compartment.bank_id, Compartment.temperature_class, Compartment.size, func.count()
    )
    if banks is not None:
        reserved = reserved.where(col(Reservation.bank_id).in_(banks))
        occupied = occupied.where(col(Parcel.bank_id).in_(banks))
        query = query.where(col(Compartment.bank_id).in_(banks))
    query = query.where(
        col(Compartment.in_service).is_(True),
        col(Compartment.id).not_in(reserved.scalar_subquery()),
        col(Compartment.id).not_in(occupied.scalar_subquery()),
    )
    found: Free = {}
    columns = (Compartment.bank_id, Compartment.temperature_class, Compartment.size)
    for bank, klass, size, count in s.exec(query.group_by(*(col(c) for c in columns))):
        found.setdefault(bank, {}).setdefault(klass, no_sizes())[size] = count
    return found


def held_everywhere(s: Session, carrier: str) -> Counter[str]:
    """Compartments ``carrier`` holds at each bank (reservations and parcels), one query."""
    reserved = select(Reservation.bank_id, func.count()).where(
        Reservation.carrier_id == carrier, Reservation.state == ReservationState.ACTIVE
    )
    parcels = select(Parcel.bank_id, func.count()).where(
        Parcel.carrier_id == carrier, col(Parcel.status).in_(HOLDING_PARCEL)
    )
    both = union_all(
        reserved.group_by(col(Reservation.bank_id)), parcels.group_by(col(Parcel.bank_id))
    )
    held: Counter[str] = Counter()
    for bank, count in s.execute(both):
        held[bank] += count
    return held


def no_sizes() -> dict[str, int]:
    """Every size, none free."""
    return {str(size): 0 for size in Size}


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


def end_withdrawn(s: Session, who: Principal, bank_id: str, carrier_id: str) -> list[str]:
    """The carrier withdrew its share of the bank, which drops the carrier's holds there
    (``carrier.withdraw``): its active reservations at the bank end too (cancelled, audited),
    in the caller's transaction. The ids ended."""
    query = select(Reservation).where(
        Reservation.bank_id == bank_id,
        Reservation.carrier_id == carrier_id,
        Reservation.state == ReservationState.ACTIVE,
    )
    ended = []
    for reservation in s.exec(query.with_for_update()):
        reservation.state = RESERVATION.step(reservation.state, ReservationState.CANCELLED)
        s.add(reservation)
        audit(s, who, "end_reservation", reservation.id, bank=bank_id, why="share withdrawn")
        ended.append(reservation.id)
    return ended


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
