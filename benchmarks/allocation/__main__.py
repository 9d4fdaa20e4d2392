"""Run the allocation benchmark: ``python -m benchmarks.allocation [--quick]`` (see the package)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks import allocation
from benchmarks.allocation.config import BANK_SIZE, FULL_WAVES, QUICK_WAVES
from benchmarks.allocation.fleet import set_up
from benchmarks.allocation.report import fleet_table, header, load, notes, server_version, table
from benchmarks.allocation.server import serving
from benchmarks.allocation.waves import measure, measure_fleet, round_trip
from benchmarks.common import BenchmarkError, fresh_database, postgres_option

FULL_FLEET, QUICK_FLEET = 12_000, 1_500  # requests per path in the fleet round
SUMMARY = (allocation.__doc__ or "").splitlines()[0]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=SUMMARY)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_WAVES} wave of {BANK_SIZE} reservations per path, not {FULL_WAVES} (CI)",
    )
    postgres_option(parser)
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
            print(load("before"), flush=True)
            with serving(database_url, Path(tmp)) as server:
                keys = set_up(server)
                http, direct = asyncio.run(measure(server, waves, keys))
                floor = round_trip(server)
                for line in [*table(http, direct), *notes(floor)]:
                    print(line, flush=True)
                requests = QUICK_FLEET if args.quick else FULL_FLEET
                fleet = asyncio.run(measure_fleet(server, requests, keys))
            for line in fleet_table(fleet):
                print(line)
            print(load("after"))
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
