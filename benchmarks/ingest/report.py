"""The ingest benchmark's table, notes and header."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version

import psycopg

from benchmarks.common import align, heading
from benchmarks.ingest.config import (
    BEAT_PERIOD_S,
    LANES,
    LOADERS,
    PACED_SHARE,
    RATED_S,
    SETTLE_S,
    Plan,
)
from benchmarks.ingest.fleet_rounds import Beats, CatchUp
from benchmarks.ingest.rounds import Row
from benchmarks.ingest.services import Broker, scalar

COLUMNS = (
    "consumer",
    "connections",
    "events",
    "published/s",
    "events/s",
    "age p50 s",
    "age p99 s",
    "cpu consumer",
    "cpu postgres",
    "cpu mosquitto",
)


@dataclass(frozen=True, slots=True)
class Figures:
    # counted as aiomqtt's iterator hands them out (issue 13's baseline), then in paho's callback
    bare: list[Row]
    bursts: list[Row]
    paced: Row
    beats: Beats
    catchup: CatchUp
    floods: list[Row]  # through the edge's window, then ignoring it
    setup: list[str]


def lines(connections: int, f: Figures) -> list[str]:
    rows = [*f.bursts, f.catchup.row, f.paced, *f.floods]
    return [
        *table(connections, f.bare, rows, f.bursts),
        *targets(f),
        *notes(rows),
        *f.setup,
    ]


def targets(f: Figures) -> list[str]:
    """The figures issue 13 sets targets for, each beside its target."""
    one, (bare, callback) = f.bursts[0], f.bare
    said = [
        f"one worker / {bare.consumer}: {one.rate / bare.rate:.3f} (target >= 0.5), "
        f"heartbeats of {f.beats.banks} banks every {BEAT_PERIOD_S:g} s flowing; "
        f"/ {callback.consumer} (reading as the worker does): {one.rate / callback.rate:.3f}"
        + _too_short(one, bare),
    ]
    if len(f.bursts) > 1:
        said.append(f"two workers / one: {f.bursts[1].rate / one.rate:.2f} (target >= 1.5)")
    beats = f.beats
    said += [
        f"heartbeats alone ({beats.rate:.0f}/s from {beats.banks} banks, {beats.seconds:g} s, "
        f"{beats.heard} banks heard of {beats.expected}): one worker used "
        f"{beats.cpu.consumer:.3f} of a core "
        f"(target <= 0.10), PostgreSQL {_cores(beats.cpu.postgres)}, Mosquitto "
        f"{beats.cpu.broker:.3f}; in its first {SETTLE_S:g} s (every bank's retained status) "
        f"{beats.start.consumer:.3f}, PostgreSQL {_cores(beats.start.postgres)}",
        f"{f.catchup.row.consumer}: drained in {f.catchup.drained_s:.1f} s from the worker's "
        "return (target <= 10 s for 10,000)",
    ]
    said += [
        f"{flood.consumer}: the other banks' events p99 age {flood.age(0.99):.3f} s (target <= 1 s)"
        for flood in f.floods
    ]
    return said


def _too_short(*rows: Row) -> str:
    """A rate over less than ``RATED_S`` is a few batches' timing, not a rate (``--quick``)."""
    shortest = min(row.seconds for row in rows)
    if shortest >= RATED_S:
        return ""
    return f" (over {shortest:.3f} s: too short to rate; the full run's figure is the one)"


def _cores(value: float | None) -> str:
    return "not measured (elsewhere)" if value is None else f"{value:.3f}"


def table(
    connections: int, bares: Sequence[Row], rows: Sequence[Row], bursts: Sequence[Row]
) -> list[str]:
    def cells(row: Row) -> tuple[str, ...]:
        ages = (f"{row.age(0.5):.3f}", f"{row.age(0.99):.3f}") if row.ages else ("", "")
        figures = (str(connections), str(row.events), f"{row.offered:.0f}", f"{row.rate:.0f}")
        postgres = "" if row.cpu.postgres is None else f"{row.cpu.postgres:.2f}"
        cpu = (f"{row.cpu.consumer:.2f}", postgres, f"{row.cpu.broker:.2f}")
        return (row.consumer, *figures, *ages, *cpu)

    def ratio(row: Row) -> tuple[str, ...]:
        bare = bares[0]
        return (f"ratio {row.consumer} / bare", *[""] * 3, f"{row.rate / bare.rate:.3f}", *[""] * 5)

    shown = [cells(row) for row in (*bares, *rows)]
    return align([COLUMNS, *shown, *(ratio(row) for row in bursts)])


def notes(ingest: Sequence[Row]) -> list[str]:
    return [
        "exactly once, checked after each IngestWorker round: cursors at each bank's last seq, "
        "events stored once and applied, an events/ack at each bank; redeliveries recognised: "
        f"{sum(row.duplicates for row in ingest)}.",
        "published/s: the banks, first publish to last PUBACK; events/s: received (bare) or "
        "stored in PostgreSQL (IngestWorker), first event to last.",
        "age: from a bank publishing an event to the worker storing it; in a burst, mostly the "
        f"wait behind the backlog. The paced round: {PACED_SHARE:.0%} of one worker's burst rate "
        "(of the banks' published/s, if lower).",
        "cpu: cores used (CPU seconds over wall seconds) from the first publish until the "
        f"consumer had every event; everything shares this machine's {os.cpu_count()} cores.",
    ]


def versions(database_url: str, broker: Broker) -> str:
    with psycopg.connect(database_url) as db:
        postgres = str(scalar(db, "SHOW server_version")).split()[0]
    libraries = ("aiomqtt", "paho-mqtt", "SQLAlchemy", "psycopg")
    return f"PostgreSQL {postgres}  Mosquitto {broker.version}  " + "  ".join(
        f"{name} {version(name)}" for name in libraries
    )


def header(banks: int, plan: Plan, versions_line: str) -> str:
    return (
        f"{heading('ingest')}  {versions_line}  "
        f"{banks} banks connected from {LOADERS} load processes  events per bank per burst: "
        f"{plan.events}  ingest lanes per worker: {LANES}"
    )
