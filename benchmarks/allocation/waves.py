"""Measuring: the waves of each path, their latencies and throughput."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import httpx2
import psycopg

from benchmarks.allocation.checks import check_bank_full, release, rows_written
from benchmarks.allocation.config import (
    BANK_SIZE,
    CLIENTS,
    DIRECT_BANK,
    HTTP_BANK,
    HTTP_OK,
    REQUEST_TIMEOUT_S,
    WORKERS,
)
from benchmarks.allocation.direct import direct_wave
from benchmarks.allocation.fleet import key_ids
from benchmarks.allocation.fleetpaths import DIRECT_CLIENTS, FleetWave, direct_fleet, http_fleet
from benchmarks.allocation.fleetround import build, check_fleet, release_round
from benchmarks.allocation.fleetround import draws as fleet_draws
from benchmarks.allocation.http import Wave, http_wave
from benchmarks.allocation.server import Server, cpu_since, postgres_cpu_s, worker_cpu_s
from benchmarks.common import BenchmarkError


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
        return percentile(self.latencies, 0.99)


def percentile(samples: list[float], fraction: float) -> float:
    """The nearest-rank percentile; NaN when there are no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


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


async def measure(server: Server, waves: int, keys: dict[str, str]) -> tuple[Row, Row]:
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


@dataclass(frozen=True, slots=True)
class FleetResult:
    http: FleetWave
    direct: FleetWave
    workers_cpu_s: list[float]  # each worker's CPU seconds during the HTTP round
    postgres_cpu_s: tuple[float, float]  # PostgreSQL's CPU seconds: HTTP round, direct round
    client_cpu_s: tuple[float, float]  # this process's: HTTP round, direct round
    active_after: int


async def measure_fleet(server: Server, requests: int, keys: dict[str, str]) -> FleetResult:
    """The fleet round: the fleet built, then ``requests`` draws through each path; the checks
    after each path, and the round's reservations released between them."""
    actors = key_ids(server.database_url)
    build(server.database_url)
    draws = fleet_draws(requests)
    connections = [
        await psycopg.AsyncConnection.connect(server.database_url, autocommit=True)
        for _ in range(DIRECT_CLIENTS)
    ]
    try:
        pg, me = postgres_cpu_s(server.database_url), time.process_time()
        direct = await direct_fleet(connections, actors, draws)
        pg_direct = cpu_since(pg, postgres_cpu_s(server.database_url))
        me_direct = time.process_time() - me
    finally:
        for db in connections:
            await db.close()
    check_fleet(server.database_url)
    release_round(server.database_url)
    before, pg, me = worker_cpu_s(server), postgres_cpu_s(server.database_url), time.process_time()
    http = await http_fleet(server, keys, draws)
    after, me_http = worker_cpu_s(server), time.process_time() - me
    pg_http = cpu_since(pg, postgres_cpu_s(server.database_url))
    active = check_fleet(server.database_url)
    release_round(server.database_url)
    used = [after[pid] - before.get(pid, 0.0) for pid in sorted(after)]
    return FleetResult(http, direct, used, (pg_http, pg_direct), (me_http, me_direct), active)
