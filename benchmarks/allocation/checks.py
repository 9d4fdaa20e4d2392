"""Checks between waves: every compartment taken once, then released for the next wave."""

from __future__ import annotations

from collections import Counter

import psycopg
from psycopg.rows import TupleRow

from benchmarks.common import BenchmarkError


def scalar(db: psycopg.Connection[TupleRow], query: str) -> object:
    row = db.execute(query).fetchone()
    if row is None:
        raise BenchmarkError(f"no answer to {query}")
    return row[0]


def rows_written(database_url: str) -> Counter[str]:
    """Rows in the tables a reservation writes to."""
    tables = ("reservation", "command", "auditentry", "webhookevent")
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
