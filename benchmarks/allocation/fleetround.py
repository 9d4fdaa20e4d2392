"""The fleet round: 1,000 banks of 48 compartments, clients reserving at random banks.

The fleet is written straight into the database (untimed): ``FLEET_SITES`` sites on a grid about
2 km apart, ``FLEET_BANKS`` banks spread over them, every carrier with an accepted share at every
bank (guaranteed 6, ceiling 24), and one bank in ten filled (hard reservations, 12 per carrier),
so that a tenth of the requests meet a full bank and are refused with the nearest banks with
room. Each path then sends its requests to banks drawn at random (the same seeded draw for both
paths); between the paths the round's reservations are cancelled, so both start from the same
fleet. After every round: no compartment held twice, nobody past a ceiling.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator

import psycopg

from benchmarks.allocation.checks import scalar
from benchmarks.allocation.config import CARRIERS, SIZE
from benchmarks.allocation.fleet import labels
from benchmarks.common import BenchmarkError

FLEET_BANKS, FLEET_SITES, FLEET_SIZE = 1000, 250, 48
GUARANTEED, CEILING = 6, 24
FULL_EVERY = 10  # one bank in this many is full when the round starts
SEED = 20261201


def fleet_bank(n: int) -> str:
    return f"fleet-{n:04d}"


def banks() -> list[str]:
    return [fleet_bank(n) for n in range(FLEET_BANKS)]


def build(database_url: str) -> None:
    """The fleet's sites, banks, compartments and accepted shares, and the full banks."""
    with psycopg.connect(database_url) as db:
        operator = str(scalar(db, "SELECT id FROM operator LIMIT 1"))
        sites = [str(uuid.uuid4()) for _ in range(FLEET_SITES)]
        with db.cursor() as cur:
            cur.executemany(
                "INSERT INTO site (id, operator_id, name, address, lat, lon, timezone) "
                "VALUES (%s, %s, %s, '', %s, %s, 'UTC')",
                [(s, operator, f"fleet site {n}", *_where(n)) for n, s in enumerate(sites)],
            )
            cur.executemany(
                "INSERT INTO bank (id, site_id, name, online) VALUES (%s, %s, %s, false)",
                [(b, sites[n % FLEET_SITES], b) for n, b in enumerate(banks())],
            )
            with cur.copy(
                "COPY compartment (id, bank_id, label, size, size_rank, low, in_service) FROM STDIN"
            ) as copy:
                for row in _compartments():
                    copy.write_row(row)
            cur.executemany(
                "INSERT INTO sharingpolicy (bank_id, carrier_id, guaranteed, ceiling, state) "
                "VALUES (%s, %s, %s, %s, 'accepted')",
                [(b, c, GUARANTEED, CEILING) for b in banks() for c in CARRIERS],
            )
            _fill(cur)


def _where(n: int) -> tuple[float, float]:
    """Site ``n`` on a 25 x 10 grid, 0.02 degrees (about 2 km) apart."""
    return 31.0 + (n // 25) * 0.02, 121.0 + (n % 25) * 0.02


def _compartments() -> Iterator[tuple[object, ...]]:
    for bank in banks():
        for label in labels(FLEET_SIZE):
            yield (str(uuid.uuid4()), bank, label, SIZE.value, SIZE.rank, False, True)


def _fill(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    """Every ``FULL_EVERY``-th bank full: hard reservations, shared evenly by the carriers."""
    cur.execute(
        "INSERT INTO reservation (id, carrier_id, bank_id, compartment_id, size, kind, state, "
        "request_hash, created_at) "
        "SELECT gen_random_uuid()::text, (%s::text[])[1 + (row_number() OVER w - 1) %% %s], "
        "c.bank_id, c.id, c.size, 'hard', 'active', '', now() FROM compartment c "
        "WHERE c.bank_id LIKE 'fleet-%%' AND substr(c.bank_id, 7)::int %% %s = 0 "
        "WINDOW w AS (PARTITION BY c.bank_id ORDER BY c.label)",
        (list(CARRIERS), len(CARRIERS), FULL_EVERY),
    )


def draws(count: int) -> list[tuple[str, str]]:
    """(bank, carrier) of each request of a round: seeded, the same for both paths."""
    rng = random.Random(SEED)
    fleet = banks()
    return [(rng.choice(fleet), CARRIERS[n % len(CARRIERS)]) for n in range(count)]


def check_fleet(database_url: str) -> int:
    """No compartment held twice, nobody past its ceiling; the active reservations."""
    with psycopg.connect(database_url) as db:
        row = db.execute(
            "SELECT count(*), count(DISTINCT compartment_id) FROM reservation "
            "WHERE state = 'active' AND bank_id LIKE 'fleet-%'"
        ).fetchone()
        over = scalar(
            db,
            "SELECT count(*) FROM (SELECT 1 FROM reservation WHERE state = 'active' "
            "AND bank_id LIKE 'fleet-%' GROUP BY bank_id, carrier_id "
            f"HAVING count(*) > {CEILING}) AS past",
        )
    if row is None or row[0] != row[1]:
        raise BenchmarkError(f"double booking in the fleet: {row}")
    if over != 0:
        raise BenchmarkError(f"{over} carriers past their ceiling at a bank")
    return int(row[0])


def release_round(database_url: str) -> None:
    """The round's reservations cancelled (untimed); the full banks' hard ones stay."""
    with psycopg.connect(database_url) as db:
        db.execute(
            "UPDATE reservation SET state = 'cancelled' "
            "WHERE state = 'active' AND kind = 'soft' AND bank_id LIKE 'fleet-%'"
        )
