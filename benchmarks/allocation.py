"""Allocation benchmark: reservations per second at one bank, through HTTP and directly.

Everything runs against a fresh PostgreSQL database, dropped afterwards. The cloud is served as in
production (``locker cloud serve --workers 4``: uvicorn, one process per worker, each with its own
connection pool), and two banks of 500 size-M compartments (the API's maximum for one bank) are
set up through its API, with four carriers and no sharing policy (everyone uses the shared pool).
32 clients then reserve concurrently, as fast as they can, until the bank is full:

- HTTP: ``POST /api/v1/reservations`` through ``httpx2`` (one connection per client); each
  request is timed from sending to the whole answer, which must be 201.
- direct: the same reservation transaction, written out in SQL and sent through psycopg 3 on one
  connection per client: lock the bank's row, expire due soft reservations, the policy's counts
  (the same queries as ``cloud/services/allocation.py``), take the smallest free compartment
  ``FOR UPDATE SKIP LOCKED``, insert the reservation, the ``reservation.push`` command and their
  audit entries, commit. Each transaction is timed from ``BEGIN`` to the end of ``COMMIT``.

The two paths take turns, a full bank each (a wave): direct, then HTTP, on their own bank. Between
waves the reservations are cancelled in SQL, outside the timed windows, so every wave fills a bank
from empty, as a busy locker does in a day. Throughput is reservations over the sum of the waves'
wall-clock times; the ratio row divides HTTP's figure by direct's. After each wave the database
must hold exactly one active reservation per compartment, and both paths must have written the
same rows per reservation (if the service changes what it writes, the direct path no longer
mirrors it and the benchmark fails).

Read the figures with this in mind: at one bank every reservation waits for the bank's row lock,
so both paths run one transaction at a time and their latency is mostly queueing behind the other
clients (latency is about clients / throughput). HTTP's overhead on top of the transaction is the
API key lookup (its own transaction), the pool's pre-ping, the ORM, JSON and uvicorn; for scale,
the run also times ``GET /docs`` on a kept-alive connection with one client (the HTTP floor, no
database work). The client, the workers and PostgreSQL share this machine's cores; compare runs
from the same machine only.

Run ``python -m benchmarks.allocation`` (PostgreSQL with trust authentication on 127.0.0.1:5432 by
default, see ``--postgres``), or with ``--quick`` for a short CI run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import psycopg
from psycopg.rows import TupleRow
from psycopg.types.json import Json

from benchmarks.common import BenchmarkError, align, free_port, fresh_database, tail
from cloud.models import Size
from cloud.services.allocation import HOLDING_PARCEL, ReserveRequest
from cloud.services.commands import DEFAULT_TTL_S

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
FULL_WAVES, QUICK_WAVES = 4, 1
BANK_SIZE = 500  # compartments per bank: the most one POST /api/v1/banks accepts
WORKERS = 4
CLIENTS = 32
CARRIERS = ("bench-a", "bench-b", "bench-c", "bench-d")
HTTP_BANK, DIRECT_BANK = "bench-http", "bench-direct"
SIZE = Size.M
TTL_S = 3600.0  # the API's default for a soft reservation; nothing expires during a run
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 60.0
HTTP_OK, HTTP_CREATED = 200, 201
MS = 1000.0
AsyncConnection = psycopg.AsyncConnection[TupleRow]


# --- the server ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    database_url: str
    admin_key: str
    log: Path


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to uvicorn's supervisor (it stops its workers); SIGKILL to its group if stuck."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group started below: supervisor and workers
        proc.wait()


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx2.Client(base_url=url, timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise BenchmarkError(f"the server exited with {proc.returncode}: {tail(log)}")
            with contextlib.suppress(httpx2.TransportError):
                if client.get("/docs").status_code == HTTP_OK:
                    return
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the server did not answer within {START_TIMEOUT_S:g} s")
            time.sleep(0.1)


@contextlib.contextmanager
def serving(database_url: str, folder: Path) -> Iterator[Server]:
    """``locker cloud create-admin`` (it migrates), then ``serve`` with several workers."""
    env = os.environ | {
        "LOCKER_CLOUD_DATABASE_URL": database_url,
        "LOCKER_CLOUD_SECRET_KEY": secrets.token_hex(32),
        "LOCKER_CLOUD_RATE_PER_MINUTE": "1000000",  # the rate limiter is not what is measured
    }
    cli = [sys.executable, "-m", "locker_cli.main", "cloud"]
    made = subprocess.run(
        [*cli, "create-admin"], check=False, env=env, capture_output=True, text=True, timeout=120
    )
    if made.returncode != 0 or not made.stdout.strip():
        raise BenchmarkError(f"create-admin failed: {made.stderr.strip()[-500:]}")
    admin_key = made.stdout.strip().splitlines()[-1]
    port, log = free_port(), folder / "server.log"
    args = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(proc, url, log)
        yield Server(url, database_url, admin_key, log)
    finally:
        stop(proc)


# --- the fleet ----------------------------------------------------------------------------


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ok(client: httpx2.Client, method: str, path: str, key: str, **kw: Any) -> Any:
    answer = client.request(method, path, headers=bearer(key), **kw)
    if answer.status_code not in (HTTP_OK, HTTP_CREATED):
        raise BenchmarkError(f"{method} {path}: {answer.status_code} {answer.text}")
    return answer.json()


def labels(count: int) -> list[str]:
    """A00..A99, B00..B99, ...: labels the API accepts (a letter and two digits)."""
    return [f"{chr(ord('A') + n // 100)}{n % 100:02d}" for n in range(count)]


def set_up(server: Server) -> dict[str, str]:
    """An operator, a site with the two banks, the carriers; the carriers' API keys."""
    with httpx2.Client(base_url=server.url, timeout=30.0) as client:
        made = ok(client, "POST", "/api/v1/operators", server.admin_key, json={"name": "Bench"})
        operator = made["api_key"]
        where = {"name": "Bench site", "lat": 31.2, "lon": 121.4}
        site = ok(client, "POST", "/api/v1/sites", operator, json=where)["id"]
        for bank in (HTTP_BANK, DIRECT_BANK):
            compartments = [{"label": label, "size": SIZE.value} for label in labels(BANK_SIZE)]
            body = {"id": bank, "site_id": site, "name": bank, "compartments": compartments}
            ok(client, "POST", "/api/v1/banks", operator, json=body)
        keys = {}
        for carrier in CARRIERS:
            body = {"id": carrier, "name": carrier.upper()}
            keys[carrier] = ok(client, "POST", "/api/v1/carriers", server.admin_key, json=body)[
                "api_key"
            ]
    return keys


def key_ids(database_url: str) -> dict[str, str]:
    """Carrier -> the id of its API key: the actor its audit entries name."""
    with psycopg.connect(database_url) as db:
        rows = db.execute("SELECT carrier_id, id FROM apikey WHERE role = 'carrier'").fetchall()
    return {str(carrier): str(key) for carrier, key in rows}


# --- the two paths ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wave:
    """One path filling its bank: each reservation's latency and the wall-clock time."""

    latencies: list[float]
    wall: float


async def http_wave(server: Server, keys: dict[str, str], count: int) -> Wave:
    """``count`` reservations through the API by ``CLIENTS`` concurrent clients."""
    tickets = iter(range(count))
    latencies: list[float] = []
    refused: list[str] = []
    body = {"bank_id": HTTP_BANK, "size": SIZE.value}
    limits = httpx2.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def client_loop(client: httpx2.AsyncClient) -> None:
        for n in tickets:
            headers = bearer(keys[CARRIERS[n % len(CARRIERS)]])
            started = time.perf_counter()
            answer = await client.post("/api/v1/reservations", json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if answer.status_code != HTTP_CREATED:
                refused.append(f"{answer.status_code} {answer.text[:200]}")

    async with httpx2.AsyncClient(
        base_url=server.url, limits=limits, timeout=REQUEST_TIMEOUT_S
    ) as client:
        # Warm-up, untimed: every client's connection open and every worker's pool in use.
        warm = [
            client.get("/api/v1/banks", headers=bearer(keys[CARRIERS[n % len(CARRIERS)]]))
            for n in range(2 * CLIENTS)
        ]
        if any(a.status_code != HTTP_OK for a in await asyncio.gather(*warm)):
            raise BenchmarkError("GET /api/v1/banks failed during the warm-up")
        started = time.perf_counter()
        try:
            await asyncio.gather(*(client_loop(client) for _ in range(CLIENTS)))
        except httpx2.TransportError as exc:
            raise BenchmarkError(f"a reservation request failed: {exc!r}") from exc
        wall = time.perf_counter() - started
    if refused:
        raise BenchmarkError(
            f"{len(refused)} of {count} reservations refused, e.g. {refused[0]}; "
            f"server log: {tail(server.log)}"
        )
    return Wave(latencies, wall)


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
    digest = ReserveRequest(bank, SIZE, "soft", TTL_S).digest()
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
        await db.execute(INSERT_RESERVATION, (*row, now + timedelta(seconds=TTL_S), digest, now))
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


# --- checks between waves -----------------------------------------------------------------


def scalar(db: psycopg.Connection[TupleRow], query: str) -> object:
    row = db.execute(query).fetchone()
    if row is None:
        raise BenchmarkError(f"no answer to {query}")
    return row[0]


def rows_written(database_url: str) -> Counter[str]:
    """Rows in the tables a reservation writes to."""
    tables = ("reservation", "command", "auditentry")
    with psycopg.connect(database_url) as db:
        return Counter({t: int(str(scalar(db, f"SELECT count(*) FROM {t}"))) for t in tables})


def check_bank_full(database_url: str, bank: str, count: int) -> None:
    """Exactly ``count`` active reservations at ``bank``, each on its own compartment."""
    with psycopg.connect(database_url) as db:
        row = db.execute(
            "SELECT count(*), count(DISTINCT compartment_id) FROM reservation "
            "WHERE bank_id = %s AND state = 'active'",
            (bank,),
        ).fetchone()
    if row != (count, count):
        raise BenchmarkError(f"{bank}: expected {count} active reservations, found {row}")


def release(database_url: str) -> None:
    """Empty both banks again (untimed): every active reservation cancelled."""
    with psycopg.connect(database_url) as db:
        db.execute("UPDATE reservation SET state = 'cancelled' WHERE state = 'active'")


# --- measuring ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    path: str
    waves: list[Wave]

    @property
    def latencies(self) -> list[float]:
        return [latency for wave in self.waves for latency in wave.latencies]

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / sum(wave.wall for wave in self.waves)

    @property
    def median(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[math.ceil(0.99 * len(ordered)) - 1]


def round_trip(server: Server, count: int = 20) -> float:
    """Median seconds of ``GET /docs`` on one kept-alive connection: HTTP without the database."""
    with httpx2.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
        client.get("/docs")  # opens the connection
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            if client.get("/docs").status_code != HTTP_OK:
                raise BenchmarkError("GET /docs failed")
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def measure(server: Server, waves: int) -> tuple[Row, Row]:
    keys = set_up(server)
    actors = key_ids(server.database_url)
    direct: list[Wave] = []
    http: list[Wave] = []
    connections = [
        await psycopg.AsyncConnection.connect(server.database_url, autocommit=True)
        for _ in range(CLIENTS)
    ]
    try:
        for _ in range(waves):
            before = rows_written(server.database_url)
            direct.append(await direct_wave(connections, actors, BANK_SIZE))
            check_bank_full(server.database_url, DIRECT_BANK, BANK_SIZE)
            middle = rows_written(server.database_url)
            http.append(await http_wave(server, keys, BANK_SIZE))
            check_bank_full(server.database_url, HTTP_BANK, BANK_SIZE)
            after = rows_written(server.database_url)
            if middle - before != after - middle:
                raise BenchmarkError(
                    f"the paths wrote different rows: direct {dict(middle - before)}, "
                    f"HTTP {dict(after - middle)}; the direct transaction no longer mirrors "
                    "cloud/services/allocation.py"
                )
            release(server.database_url)
    finally:
        for db in connections:
            await db.close()
    return Row(f"HTTP, {WORKERS} workers", http), Row("psycopg, same transaction", direct)


# --- reporting ----------------------------------------------------------------------------


def header(waves: int, version: str) -> str:
    return (
        f"smartlocker allocation benchmark  {date.today().isoformat()}  "
        f"Python {platform.python_version()} ({platform.machine()}, {platform.system()}, "
        f"{os.cpu_count()} cores)  PostgreSQL {version}  {CLIENTS} clients  "
        f"{waves} x {BANK_SIZE} reservations per path (one bank of {BANK_SIZE} {SIZE.value}, "
        "filled from empty each wave)"
    )


def table(http: Row, direct: Row) -> list[str]:
    def cells(row: Row) -> tuple[str, ...]:
        figures = (row.rate, row.median * MS, row.p99 * MS)
        return (row.path, str(row.count), *(f"{x:.1f}" for x in figures))

    ratios = (http.rate / direct.rate, http.median / direct.median, http.p99 / direct.p99)
    return align(
        [
            ("path", "reservations", "reservations/s", "p50 ms", "p99 ms"),
            cells(http),
            cells(direct),
            ("ratio HTTP / direct", "", *(f"{x:.2f}" for x in ratios)),
        ]
    )


def notes(floor: float) -> list[str]:
    return [
        "one bank: each reservation waits for the bank's row lock, so latency is mostly queueing",
        f"({CLIENTS} clients / throughput); HTTP adds the API key lookup, pre-ping, ORM and JSON.",
        f"HTTP floor: GET /docs on a kept-alive connection, one client: {floor * MS:.1f} ms.",
    ]


def server_version(database_url: str) -> str:
    with psycopg.connect(database_url) as db:
        return str(scalar(db, "SHOW server_version")).split()[0]


# --- entry point --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_WAVES} wave of {BANK_SIZE} reservations per path, not {FULL_WAVES} (CI)",
    )
    parser.add_argument(
        "--postgres",
        default=PG_ADMIN,
        help=f"a PostgreSQL URL allowed to create databases (default {PG_ADMIN})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    waves = QUICK_WAVES if args.quick else FULL_WAVES
    try:
        with (
            tempfile.TemporaryDirectory(prefix="allocation-bench-") as tmp,
            fresh_database(args.postgres) as database_url,
        ):
            print(header(waves, server_version(database_url)), flush=True)
            with serving(database_url, Path(tmp)) as server:
                http, direct = asyncio.run(measure(server, waves))
                floor = round_trip(server)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    for line in [*table(http, direct), *notes(floor)]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
