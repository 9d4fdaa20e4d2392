"""The allocation benchmark's header, table and notes."""

from __future__ import annotations

import psycopg

from benchmarks.allocation.checks import scalar
from benchmarks.allocation.config import BANK_SIZE, CLIENTS, MS, SIZE
from benchmarks.allocation.waves import Row
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
        "one bank: each reservation waits for the bank's row lock, so latency is mostly queueing",
        f"({CLIENTS} clients / throughput); HTTP adds the API key lookup, pre-ping, ORM and JSON.",
        f"HTTP floor: GET /docs on a kept-alive connection, one client: {floor * MS:.1f} ms.",
    ]


def server_version(database_url: str) -> str:
    with psycopg.connect(database_url) as db:
        return str(scalar(db, "SHOW server_version")).split()[0]
