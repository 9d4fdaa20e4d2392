"""The fleet round's two paths: HTTP through ``serve``, and the same transaction on psycopg.

Both answer a refusal as the service does: the refused transaction ends, then the nearest
banks with room are looked up (``cloud.services.nearest``, its queries written out here). A
success and a refusal are timed apart, each from sending to the whole answer."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx2
import psycopg

from benchmarks.allocation.config import (
    HTTP_CREATED,
    REQUEST_TIMEOUT_S,
    SIZE,
    AsyncConnection,
)
from benchmarks.allocation.direct import reserve_directly
from benchmarks.allocation.fleet import bearer
from benchmarks.allocation.server import Server
from benchmarks.common import BenchmarkError, tail
from cloud.services.allocation_queries import HOLDING_PARCEL
from cloud.services.nearest import KM_PER_DEGREE, NEAREST, PAGE, RADII_KM, km

HTTP_CONFLICT = 409
FLEET_CLIENTS = 64
# The direct path's clients: as many connections as the workers' pools hold at rest (4 x 10).
# 64 more would pass PostgreSQL's max_connections (100) beside the workers' pools; on 2 cores
# more connections add no throughput, only queueing.
DIRECT_CLIENTS = 32

HERE = "SELECT site.lat, site.lon FROM site JOIN bank ON site.id = bank.site_id WHERE bank.id = %s"
BOX = (
    "SELECT bank.id, site.lat, site.lon FROM bank JOIN site ON site.id = bank.site_id "
    "WHERE bank.id != %s AND site.lat BETWEEN %s AND %s AND site.lon BETWEEN %s AND %s"
)
FREE_FITTING = (
    "SELECT bank_id, count(*) FROM compartment WHERE bank_id = ANY(%s) AND in_service IS true "
    "AND size_rank >= %s AND temperature_class = 'ambient' "
    "AND id NOT IN (SELECT compartment_id FROM reservation "
    "WHERE bank_id = ANY(%s) AND state = 'active') AND id NOT IN (SELECT compartment_id "
    "FROM parcel WHERE bank_id = ANY(%s) AND status IN (%s, %s)) GROUP BY bank_id"
)


@dataclass(frozen=True, slots=True)
class FleetWave:
    """One path's round: latencies of successes and of refusals, and the wall-clock time."""

    ok: list[float]
    refused: list[float]
    wall: float


async def http_fleet(
    server: Server, keys: dict[str, str], draws: Sequence[tuple[str, str]]
) -> FleetWave:
    """Every draw as ``POST /api/v1/reservations`` by ``FLEET_CLIENTS`` kept-alive clients."""
    tickets = iter(draws)
    ok: list[float] = []
    refused: list[float] = []
    odd: list[str] = []
    limits = httpx2.Limits(max_connections=FLEET_CLIENTS, max_keepalive_connections=FLEET_CLIENTS)

    async def client_loop(client: httpx2.AsyncClient) -> None:
        for bank, carrier in tickets:
            body = {"bank_id": bank, "size": SIZE.value}
            started = time.perf_counter()
            answer = await client.post(
                "/api/v1/reservations", json=body, headers=bearer(keys[carrier])
            )
            took = time.perf_counter() - started
            if answer.status_code == HTTP_CREATED:
                ok.append(took)
            elif answer.status_code == HTTP_CONFLICT and answer.json().get("nearest"):
                refused.append(took)
            else:
                odd.append(f"{answer.status_code} {answer.text[:200]}")

    async with httpx2.AsyncClient(
        base_url=server.url, limits=limits, timeout=REQUEST_TIMEOUT_S
    ) as client:
        started = time.perf_counter()
        try:
            await asyncio.gather(*(client_loop(client) for _ in range(FLEET_CLIENTS)))
        except httpx2.TransportError as exc:
            raise BenchmarkError(f"a reservation request failed: {exc!r}") from exc
        wall = time.perf_counter() - started
    if odd:
        raise BenchmarkError(f"{len(odd)} unexpected answers, e.g. {odd[0]}; {tail(server.log)}")
    return FleetWave(ok, refused, wall)


async def direct_fleet(
    connections: Sequence[AsyncConnection], actors: dict[str, str], draws: Sequence[tuple[str, str]]
) -> FleetWave:
    """Every draw as the service's transaction on psycopg, one client per connection."""
    tickets = iter(draws)
    ok: list[float] = []
    refused: list[float] = []

    async def client_loop(db: AsyncConnection) -> None:
        for bank, carrier in tickets:
            started = time.perf_counter()
            if await reserve_directly(db, bank, carrier, actors[carrier]) is None:
                ok.append(time.perf_counter() - started)
                continue
            if not await nearest(db, bank):
                raise BenchmarkError(f"no bank with room near {bank}")
            refused.append(time.perf_counter() - started)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(client_loop(db) for db in connections))
    except psycopg.Error as exc:
        raise BenchmarkError(f"a direct reservation failed: {exc!r}") from exc
    return FleetWave(ok, refused, time.perf_counter() - started)


async def nearest(db: AsyncConnection, bank: str) -> list[str]:
    """``nearest.nearest_with_room`` on psycopg, in its own transaction."""
    async with db.transaction():
        here = await (await db.execute(HERE, (bank,))).fetchone()
        if here is None:
            return []
        lat, lon = float(str(here[0])), float(str(here[1]))
        for radius in RADII_KM:
            found = await _within(db, bank, (lat, lon), radius)
            if len(found) >= NEAREST or math.isinf(radius):
                return found[:NEAREST]
    return []


async def _within(
    db: AsyncConnection, bank: str, here: tuple[float, float], radius: float
) -> list[str]:
    lat, lon = here
    dlat = radius / KM_PER_DEGREE if not math.isinf(radius) else 90.0
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01) if not math.isinf(radius) else 360.0
    rows = await (
        await db.execute(BOX, (bank, lat - dlat, lat + dlat, lon - dlon, lon + dlon))
    ).fetchall()
    distances = sorted((km(lat, lon, float(str(a)), float(str(o))), str(b)) for b, a, o in rows)
    found: list[str] = []
    for start in range(0, len(distances), PAGE):
        page = [b for d, b in distances[start : start + PAGE] if d <= radius]
        counted = (page, SIZE.rank, page, page, *HOLDING_PARCEL)
        rows = await (await db.execute(FREE_FITTING, counted)).fetchall()
        room = {str(b): int(str(n)) for b, n in rows}
        found += [b for b in page if room.get(b)]
        if len(found) >= NEAREST or len(page) < PAGE:
            break
    return found
