"""The console's read models (``cloud/console/views``) over a year of records on PostgreSQL.

    python -m benchmarks.console_reads [--quick] [--postgres URL]

Fills a fresh database in SQL (two operators, 40 sites, ``banks`` banks of 40 compartments,
``per_bank`` parcels each deposited 100 s apart through the year, all picked up but the last
40 per bank, which wait behind their doors), then times, for an operator admin who sees half
the fleet and a site manager who sees one site of 40: a records page and the next, the fleet
page, the dwell buckets, and the CSV export (its time a chunk and the process's peak memory).
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from benchmarks.common import align, fresh_database, heading, postgres_option
from cloud.console.views.fleet import fleet
from cloud.console.views.parcels import buckets
from cloud.console.views.records import export_csv, records
from cloud.core.db import make_engine
from cloud.core.migrate import upgrade

START = datetime(2026, 1, 1, tzinfo=UTC)
SITES, WAITING = 40, 40  # sites in all; parcels behind doors at each bank
FILL = (
    "INSERT INTO operator (id, name) VALUES ('op', 'Op'), ('op2', 'Other')",
    "INSERT INTO site (id, operator_id, name, address, lat, lon, timezone) SELECT 's' || g,"
    " CASE WHEN g < :sites / 2 THEN 'op' ELSE 'op2' END, 'Site ' || g, '', 0, 0, 'UTC'"
    " FROM generate_series(0, :sites - 1) g",
    "INSERT INTO carrier (id, name) VALUES ('sf', 'SF')",
    "INSERT INTO bank (id, site_id, name, online) SELECT 'b' || g, 's' || (g % :sites),"
    " 'b' || g, true FROM generate_series(0, :banks - 1) g",
    "INSERT INTO compartment (id, bank_id, label, size, size_rank, low, in_service)"
    " SELECT 'c' || b || '-' || k, 'b' || b, 'A' || lpad(k::text, 2, '0'), 'M', 1, false, true"
    " FROM generate_series(0, :banks - 1) b, generate_series(1, :waiting) k",
    "INSERT INTO parcel (id, carrier_id, waybill, bank_id, recipient_phone, consent, status,"
    " compartment_id, created_at) SELECT 'p' || g, 'sf', 'W' || g, 'b' || (g % :banks),"
    " '138' || lpad(g::text, 8, '0'), 'x', CASE WHEN g >= :parcels - :banks * :waiting"
    " THEN 'in_locker' ELSE 'picked_up' END,"
    " 'c' || (g % :banks) || '-' || (1 + (g / :banks) % :waiting), :start"
    " FROM generate_series(0, :parcels - 1) g",
    "INSERT INTO parcelevent (parcel_id, status, at, source) SELECT 'p' || g, 'in_locker',"
    " :start + g * interval '100 seconds', '' FROM generate_series(0, :parcels - 1) g",
    "INSERT INTO parcelevent (parcel_id, status, at, source) SELECT 'p' || g, 'picked_up',"
    " :start + g * interval '100 seconds' + interval '5 hours', ''"
    " FROM generate_series(0, :parcels - 1) g WHERE g < :parcels - :banks * :waiting",
    "ANALYZE",
)


@dataclass(frozen=True)
class Reader:
    """A signed-in person, as the read models take it (``scope.Viewer``)."""

    operator_id: str
    site_ids: frozenset[str]


def fill(engine: Engine, banks: int, per_bank: int) -> None:
    values = {"sites": SITES, "banks": banks, "waiting": WAITING, "start": START}
    with engine.begin() as connection:
        for statement in FILL:
            connection.execute(text(statement), values | {"parcels": banks * per_bank})


def timed(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def export(engine: Engine, reader: Reader) -> tuple[int, float, int]:
    """Records exported, milliseconds a chunk, peak memory growth in kB."""
    before, chunks, lines = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 0, 0
    began = time.perf_counter()
    for piece in export_csv(engine, reader):
        chunks, lines = chunks + 1, lines + piece.count("\r\n")
    spent = (time.perf_counter() - began) * 1000 / max(chunks - 1, 1)
    return lines - 1, spent, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before


def measure(engine: Engine, label: str, reader: Reader) -> tuple[str, ...]:
    now = START + timedelta(days=365)
    first = records(engine, reader)
    rows, per_chunk, memory = export(engine, reader)
    return (
        label,
        f"{timed(lambda: records(engine, reader)):.0f}",
        f"{timed(lambda: records(engine, reader, after=first.next)):.0f}",
        f"{timed(lambda: fleet(engine, reader)):.0f}",
        f"{timed(lambda: buckets(engine, reader, now)):.0f}",
        f"{rows}",
        f"{per_chunk:.0f}",
        f"{memory / 1024:.1f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 banks of 300 parcels")
    postgres_option(parser)
    args = parser.parse_args()
    banks, per_bank = (50, 300) if args.quick else (200, 1500)
    print(heading("console reads"))
    print(f"{banks} banks, {banks * per_bank} parcels in a year, {SITES} sites")
    with fresh_database(args.postgres) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            fill(engine, banks, per_bank)
            admin = Reader("op", frozenset(f"s{n}" for n in range(SITES // 2)))
            manager = Reader("op", frozenset({"s3"}))
            head = ("reader", "page ms", "next ms", "fleet ms", "buckets ms", "exported",
                    "ms/chunk", "+MB")  # fmt: skip
            lines = [head, measure(engine, "admin", admin), measure(engine, "site", manager)]
            print("\n".join(align(lines)))
        finally:
            engine.dispose()


if __name__ == "__main__":
    main()
