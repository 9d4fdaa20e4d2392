"""The direct path: the allocation's statements on psycopg, without the API around them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.types.json import Json

from benchmarks.allocation.config import CARRIERS, DIRECT_BANK, SIZE, TTL_S, AsyncConnection
from benchmarks.allocation.http import Wave
from benchmarks.common import BenchmarkError
from cloud.models import ReservationCreate
from cloud.services.allocation import HOLDING_PARCEL, digest
from cloud.services.commands import DEFAULT_TTL_S

BANK_FOR_UPDATE = "SELECT id, site_id, name FROM bank WHERE id = %s FOR UPDATE"
DUE = (
    "SELECT id, carrier_id, bank_id, compartment_id, size, kind, state, expires_at, "
    "idempotency_key, request_hash, created_at FROM reservation "
    "WHERE bank_id = %s AND state = 'active' AND expires_at < %s"
)
POLICIES = "SELECT bank_id, carrier_id, guaranteed, ceiling FROM sharingpolicy WHERE bank_id = %s"
RESERVED_BY = (
    "SELECT carrier_id, count(*) FROM reservation WHERE bank_id = %s AND state = 'active' "
    "GROUP BY carrier_id"
)
PARCELS_BY = (
    "SELECT carrier_id, count(*) FROM parcel WHERE bank_id = %s AND status IN (%s, %s) "
    "GROUP BY carrier_id"
)
IN_SERVICE = "SELECT count(*) FROM compartment WHERE bank_id = %s AND in_service IS true"
PICK = (
    "SELECT id, bank_id, label, size, size_rank, low, in_service FROM compartment "
    "WHERE bank_id = %s AND in_service IS true AND size_rank >= %s "
    "AND id NOT IN (SELECT compartment_id FROM reservation WHERE bank_id = %s "
    "AND state = 'active') "
    "AND id NOT IN (SELECT compartment_id FROM parcel WHERE bank_id = %s AND status IN (%s, %s)) "
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
INSERT_AUDIT = (
    "INSERT INTO auditentry (at, actor, role, action, target, detail) "
    "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id"
)


async def refusal(db: AsyncConnection, bank: str, carrier: str) -> str | None:
    """The sharing policy's decision, with the queries and arithmetic of ``allocation._admit``."""
    policies = {row[1]: row for row in await (await db.execute(POLICIES, (bank,))).fetchall()}
    reserved = await (await db.execute(RESERVED_BY, (bank,))).fetchall()
    parcels = await (await db.execute(PARCELS_BY, (bank, *HOLDING_PARCEL))).fetchall()
    held: Counter[str] = Counter()
    for carrier_id, count in [*reserved, *parcels]:
        held[carrier_id] += count
    mine = policies.get(carrier)
    if mine is not None and held[carrier] >= mine[3]:
        return f"{carrier} is at its ceiling"
    if mine is not None and held[carrier] < mine[2]:
        return None
    counted = await (await db.execute(IN_SERVICE, (bank,))).fetchone()
    free = (counted[0] if counted else 0) - sum(held.values())
    owed = sum(max(0, row[2] - held[c]) for c, row in policies.items() if c != carrier)
    if free <= 0:
        return f"{bank} is full"
    if free - owed <= 0:
        return "the shared pool is empty"
    return None


async def reserve_directly(db: AsyncConnection, bank: str, carrier: str, actor: str) -> None:
    """One reservation, the service's transaction statement for statement."""
    request_hash = digest(ReservationCreate(bank_id=bank, size=SIZE, ttl_s=TTL_S))
    async with db.transaction():
        if await (await db.execute(BANK_FOR_UPDATE, (bank,))).fetchone() is None:
            raise BenchmarkError(f"no bank {bank}")
        if await (await db.execute(DUE, (bank, datetime.now(UTC)))).fetchall():
            raise BenchmarkError("a reservation expired during the run")
        reason = await refusal(db, bank, carrier)
        if reason is not None:
            raise BenchmarkError(f"direct reservation refused: {reason}")
        pick = (bank, SIZE.rank, bank, bank, *HOLDING_PARCEL)
        compartment = await (await db.execute(PICK, pick)).fetchone()
        if compartment is None:
            raise BenchmarkError(f"direct reservation found no free compartment at {bank}")
        compartment_id, label = compartment[0], compartment[2]
        now = datetime.now(UTC)
        reservation = str(uuid.uuid4())
        row = (reservation, carrier, bank, compartment_id, compartment[3])
        await db.execute(
            INSERT_RESERVATION, (*row, now + timedelta(seconds=TTL_S), request_hash, now)
        )
        detail = {"bank": bank, "compartment": label}
        audit = (datetime.now(UTC), actor, "carrier", "reserve", reservation, Json(detail))
        await db.execute(INSERT_AUDIT, audit)
        command = str(uuid.uuid4())
        push = {"reservation_id": reservation, "carrier_id": carrier}
        push |= {"compartment": label, "kind": "soft"}
        sent = (command, bank, Json(push), datetime.now(UTC), DEFAULT_TTL_S)
        await db.execute(INSERT_COMMAND, sent)
        what = {"command_id": command, **push}
        system = (datetime.now(UTC), "system", "system", "command:reservation.push", bank)
        await db.execute(INSERT_AUDIT, (*system, Json(what)))


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
            await reserve_directly(db, DIRECT_BANK, carrier, actors[carrier])
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client_loop(db) for db in connections))
    except psycopg.Error as exc:
        raise BenchmarkError(f"a direct reservation failed: {exc!r}") from exc
    return Wave(latencies, time.perf_counter() - started)
