"""The direct path: the allocation's statements on psycopg, without the API around them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Json

from benchmarks.allocation.config import CARRIERS, DIRECT_BANK, SIZE, TTL_S, AsyncConnection
from benchmarks.allocation.http import Wave
from benchmarks.common import BenchmarkError
from cloud.models import ReservationCreate
from cloud.services.allocation import ALLOCATION_LOCK, HOLDING_PARCEL, digest
from cloud.services.commands import DEFAULT_TTL_S
from cloud.webhooks.events import Kind, vocabularies
from locker_contract.sharing import BankCounts, Share, Verdict, admit

Row = tuple[object, ...]

LOCK_BANK = (
    "SELECT bank.id, pg_advisory_xact_lock(%s, hashtext(bank.id)) FROM bank WHERE bank.id = %s"
)
ANY_DUE = (
    "SELECT id FROM reservation WHERE bank_id = %s AND state = 'active' AND expires_at < %s LIMIT 1"
)
POLICIES = (
    "SELECT bank_id, carrier_id, guaranteed, ceiling, state, codes_through, refresh_at "
    "FROM sharingpolicy WHERE bank_id = %s"
)
TALLY = (
    "SELECT carrier_id, count(*) FROM reservation WHERE bank_id = %(b)s AND state = 'active' "
    "GROUP BY carrier_id UNION ALL "
    "SELECT carrier_id, count(*) FROM parcel WHERE bank_id = %(b)s AND status = ANY(%(h)s) "
    "GROUP BY carrier_id UNION ALL "
    "SELECT NULL, count(*) FROM compartment WHERE bank_id = %(b)s AND in_service IS true "
    "AND id NOT IN (SELECT compartment_id FROM reservation WHERE bank_id = %(b)s "
    "AND state = 'active') "
    "AND id NOT IN (SELECT compartment_id FROM parcel WHERE bank_id = %(b)s "
    "AND status = ANY(%(h)s))"
)
PICK = (
    "SELECT id, bank_id, label, size, size_rank, low, in_service FROM compartment "
    "WHERE bank_id = %s AND in_service IS true AND size_rank >= %s "
    "AND id NOT IN (SELECT compartment_id FROM reservation WHERE bank_id IN (%s) "
    "AND state = 'active') "
    "AND id NOT IN (SELECT compartment_id FROM parcel WHERE bank_id IN (%s) "
    "AND status IN (%s, %s)) "
    "ORDER BY size_rank, label LIMIT 1 FOR UPDATE SKIP LOCKED"
)
INSERT_RESERVATION = (
    "INSERT INTO reservation (id, carrier_id, bank_id, compartment_id, size, kind, state, "
    "expires_at, idempotency_key, request_hash, created_at) "
    "VALUES (%s, %s, %s, %s, %s, 'soft', 'active', %s, NULL, %s, %s)"
)
INSERT_COMMAND = (
    "INSERT INTO command (id, bank_id, type, payload, created_at, ttl_s, state) "
    "VALUES (%s, %s, 'reservation.push', %s, %s, %s, 'pending')"
)
INSERT_EVENT = (
    "INSERT INTO webhookevent (id, carrier_id, type, subject, waybill, occurred_at, recorded_at, "
    "data, dedupe) VALUES (%s, %s, %s, %s, NULL, %s, %s, %s, NULL) RETURNING seq"
)
ENDPOINTS = "SELECT id, events FROM webhookendpoint WHERE carrier_id = %s AND state = 'active'"
INSERT_DELIVERY = (
    "INSERT INTO webhookdelivery (id, endpoint_id, event_seq, subject, created_at, "
    "next_attempt_at, state, attempts) VALUES (%s, %s, %s, %s, %s, %s, 'pending', 0)"
)
INSERT_AUDITS = (  # two entries, one statement
    "INSERT INTO auditentry (at, actor, role, action, target, detail) "
    "VALUES (%s, %s, %s, %s, %s, %s), (%s, %s, %s, %s, %s, %s)"
)


async def refusal(db: AsyncConnection, bank: str, carrier: str) -> str | None:
    """The sharing policy's decision, with the queries of ``allocation._admit`` and the rule
    itself (``locker_contract.sharing.admit``)."""
    policies = {row[1]: row for row in await (await db.execute(POLICIES, (bank,))).fetchall()}
    mine = policies.get(carrier)
    if mine is not None and mine[4] != "accepted":
        return f"your share of {bank} is {mine[4]}; accept it first"
    held: Counter[str] = Counter()
    free = 0
    tally = {"b": bank, "h": list(HOLDING_PARCEL)}
    for carrier_id, count in await (await db.execute(TALLY, tally)).fetchall():
        if carrier_id is None:
            free = int(str(count))
        else:
            held[str(carrier_id)] += int(str(count))
    shares = {c: Share(row[2], row[3]) for c, row in policies.items() if row[4] == "accepted"}
    counts = BankCounts(free=free, held=held, shares=shares)
    verdict = admit(counts, carrier)
    return None if verdict is Verdict.ADMITTED else str(verdict)


async def reserve_directly(db: AsyncConnection, bank: str, carrier: str, actor: str) -> str | None:
    """One reservation, the service's transaction statement for statement; the refusal's
    reason when refused (the nearest banks with room are then the caller's to look up, after
    the transaction, as the service does)."""
    request_hash = digest(ReservationCreate(bank_id=bank, size=SIZE, ttl_s=TTL_S))
    async with db.transaction():
        if await (await db.execute(LOCK_BANK, (ALLOCATION_LOCK, bank))).fetchone() is None:
            raise BenchmarkError(f"no bank {bank}")
        if await (await db.execute(ANY_DUE, (bank, datetime.now(UTC)))).fetchone():
            raise BenchmarkError("a reservation expired during the run")
        reason = await refusal(db, bank, carrier)
        if reason is not None:
            return reason
        pick = (bank, SIZE.rank, bank, bank, *HOLDING_PARCEL)
        compartment = await (await db.execute(PICK, pick)).fetchone()
        if compartment is None:
            return "no free compartment fits"
        await _write(db, (bank, carrier, actor, request_hash), compartment)
    return None


async def _write(db: AsyncConnection, who: tuple[str, str, str, str], compartment: Row) -> None:
    """The reservation, its event, the ``reservation.push`` command, both audit entries."""
    bank, carrier, actor, request_hash = who
    compartment_id, label = compartment[0], str(compartment[2])
    now = datetime.now(UTC)
    reservation = str(uuid.uuid4())
    row = (reservation, carrier, bank, compartment_id, compartment[3])
    await db.execute(INSERT_RESERVATION, (*row, now + timedelta(seconds=TTL_S), request_hash, now))
    push = {"reservation_id": reservation, "carrier_id": carrier}
    push |= {"compartment": label, "kind": "soft"}
    expires = (now + timedelta(seconds=TTL_S)).isoformat()
    await _webhook(db, carrier, push | {"bank_id": bank, "size": SIZE.value, "expires_at": expires})
    command = str(uuid.uuid4())
    sent = (command, bank, Json(push), datetime.now(UTC), DEFAULT_TTL_S)
    await db.execute(INSERT_COMMAND, sent)
    detail = {"bank": bank, "compartment": label}
    reserved = (datetime.now(UTC), actor, "carrier", "reserve", reservation, Json(detail))
    what = {"command_id": command, **push}
    system = (datetime.now(UTC), "system", "system", "command:reservation.push", bank)
    await db.execute(INSERT_AUDITS, (*reserved, *system, Json(what)))


async def _webhook(db: AsyncConnection, carrier: str, reservation: Mapping[str, object]) -> None:
    """The carrier's ``reservation.confirmed`` event and its deliveries (``webhooks.outbox``)."""
    kind = Kind.RESERVATION_CONFIRMED
    body = {"carrier_id": carrier, **reservation, "state": "active", **vocabularies(kind)}
    subject = f"reservation:{reservation['reservation_id']}"
    now = datetime.now(UTC)
    event = (str(uuid.uuid4()), carrier, kind.value, subject, now, now, Json(body))
    seq = await (await db.execute(INSERT_EVENT, event)).fetchone()
    endpoints = await (await db.execute(ENDPOINTS, (carrier,))).fetchall()
    for endpoint in endpoints:
        delivery = (f"msg_{uuid.uuid4().hex}", endpoint[0], seq[0] if seq else None, subject, now)
        await db.execute(INSERT_DELIVERY, (*delivery, now))


async def direct_wave(
    connections: Sequence[AsyncConnection], actors: dict[str, str], count: int
) -> Wave:
    """``count`` reservations through psycopg, one client per connection."""
    tickets = iter(range(count))
    latencies: list[float] = []

    async def client_loop(db: AsyncConnection) -> None:
        for n in tickets:
            carrier = CARRIERS[n % len(CARRIERS)]
            started = time.perf_counter()
            refused = await reserve_directly(db, DIRECT_BANK, carrier, actors[carrier])
            if refused is not None:
                raise BenchmarkError(f"direct reservation refused: {refused}")
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client_loop(db) for db in connections))
    except psycopg.Error as exc:
        raise BenchmarkError(f"a direct reservation failed: {exc!r}") from exc
    return Wave(latencies, time.perf_counter() - started)
