"""The allocation benchmark's header, table and notes."""

from __future__ import annotations

import os

import psycopg

from benchmarks.allocation.checks import scalar
from benchmarks.allocation.config import BANK_SIZE, CLIENTS, MS, SIZE, WORKERS
from benchmarks.allocation.fleetpaths import DIRECT_CLIENTS, FLEET_CLIENTS, FleetWave
from benchmarks.allocation.fleetround import FLEET_BANKS, FLEET_SIZE, FULL_EVERY
from benchmarks.allocation.waves import FleetResult, Row, percentile
from benchmarks.common import align, heading


def header(waves: int, version: str) -> str:
    return (
        f"{heading('allocation')}  PostgreSQL {version}  {CLIENTS} clients  "
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
        "one bank: each reservation waits for the bank's lock, so latency is mostly queueing",
        f"({CLIENTS} clients / throughput); HTTP adds the API key lookup, pre-ping, ORM and JSON.",
        f"HTTP floor: GET /docs on a kept-alive connection, one client: {floor * MS:.1f} ms.",
    ]


def server_version(database_url: str) -> str:
    with psycopg.connect(database_url) as db:
        return str(scalar(db, "SHOW server_version")).split()[0]


def fleet_table(result: FleetResult) -> list[str]:
    """The fleet round: rate, successes' and refusals' p50 and p99, per path, and the ratio."""

    def cells(path: str, wave: FleetWave) -> tuple[str, ...]:
        count = len(wave.ok) + len(wave.refused)
        figures = [
            percentile(wave.ok, 0.5),
            percentile(wave.ok, 0.99),
            percentile(wave.refused, 0.5),
            percentile(wave.refused, 0.99),
        ]
        spread = (str(len(wave.ok)), str(len(wave.refused)), f"{count / wave.wall:.1f}")
        return (path, *spread, *(f"{x * MS:.1f}" for x in figures))

    http, direct = result.http, result.direct
    ratio = (len(http.ok) + len(http.refused)) / http.wall
    ratio /= (len(direct.ok) + len(direct.refused)) / direct.wall
    cpu = " ".join(f"{s:.1f}" for s in result.workers_cpu_s)
    return [
        f"fleet: {FLEET_BANKS} banks of {FLEET_SIZE} {SIZE.value}, 4 carriers with accepted "
        f"shares, 1 bank in {FULL_EVERY} full; {FLEET_CLIENTS} HTTP clients ({DIRECT_CLIENTS} "
        "direct connections) at random banks",
        *align(
            [
                ("path", "201", "409", "requests/s", "201 p50", "201 p99", "409 p50", "409 p99"),
                cells(f"HTTP, {WORKERS} workers", http),
                cells("psycopg, same transaction", direct),
            ]
        ),
        f"ratio HTTP / direct: {ratio:.2f}   (latencies in ms; a 409 includes the nearest banks)",
        f"each worker's CPU seconds during the HTTP round: {cpu}",
        *_costs(result),
        f"0 double bookings, nobody past a ceiling ({result.active_after} active after the round)",
    ]


def load(when: str) -> str:
    """The machine's load average (1, 5, 15 min): others share its 2 cores."""
    one, five, fifteen = os.getloadavg()
    return f"load average {when}: {one:.2f} {five:.2f} {fifteen:.2f}"


def _costs(result: FleetResult) -> list[str]:
    """CPU milliseconds per request of each tier: what sizing divides by."""
    http_n = len(result.http.ok) + len(result.http.refused)
    direct_n = len(result.direct.ok) + len(result.direct.refused)
    api = sum(result.workers_cpu_s) / http_n * MS
    pg_http, pg_direct = (
        s / n * MS for s, n in zip(result.postgres_cpu_s, (http_n, direct_n), strict=True)
    )
    me_http, me_direct = (
        s / n * MS for s, n in zip(result.client_cpu_s, (http_n, direct_n), strict=True)
    )
    return [
        f"CPU ms per request: API workers {api:.2f}, PostgreSQL {pg_http:.2f} (HTTP, at least: "
        f"pool connections closed during the round are lost) and {pg_direct:.2f} (direct), "
        f"the clients {me_http:.2f} (HTTP) and {me_direct:.2f} (direct)"
    ]
