"""The rounds of a fleet's ordinary life and its bad days: heartbeats alone (what they cost a
worker), a catch-up (events queued at the broker while no worker ran, then drained) and a flood
(one bank sends thousands of events at once while the others go on)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import psycopg

from benchmarks.common import BenchmarkError
from benchmarks.ingest.config import (
    BEAT_PERIOD_S,
    FLOOD_BANK,
    PROBE_BANK,
    SETTLE_S,
    STALL_S,
    Plan,
)
from benchmarks.ingest.messages import Publish, Published, Ready, payloads
from benchmarks.ingest.mqtt import SimBank
from benchmarks.ingest.rounds import (
    Cpu,
    CpuClock,
    Row,
    Run,
    applied_total,
    ingest_round,
    paced_order,
    postgres_backends,
    publish_all,
    scalar_at,
    settle,
    start_workers,
    stop_workers,
)
from benchmarks.ingest.services import quiet_child


@dataclass(frozen=True, slots=True)
class Beats:
    banks: int
    seconds: float
    heard: int  # banks whose heartbeat the worker stored in the window
    start: Cpu  # the worker's first seconds: every bank's retained status, written once

    @property
    def expected(self) -> int:
        return round(self.banks * min(1.0, self.seconds / BEAT_PERIOD_S))

    cpu: Cpu

    @property
    def rate(self) -> float:
        return self.banks / BEAT_PERIOD_S


def beats_round(run: Run, seconds: float) -> Beats:
    """One worker, no events: only every bank's heartbeat every ``BEAT_PERIOD_S``. Measured
    from ``SETTLE_S`` after it connected: in its first seconds it takes every bank's retained
    status and marks the banks online, once, a cost of its start (shown apart)."""
    processes = start_workers(run, 1)
    clock = CpuClock([processes[0].pid], run.broker.pid)
    time.sleep(SETTLE_S)
    start = clock.read(postgres_backends(run))
    began = time.time()
    clock = CpuClock([processes[0].pid], run.broker.pid, postgres_backends(run) or ())
    time.sleep(seconds)
    cpu = clock.read(postgres_backends(run))
    query = (
        "SELECT count(*) FROM bank WHERE last_heartbeat_at >= to_timestamp(%s) "
        f"AND id NOT IN ('{PROBE_BANK}', '{FLOOD_BANK}')"
    )
    with psycopg.connect(run.database_url) as db:
        row = db.execute(query, (began,)).fetchone()
    stop_workers(run, processes)
    heard = int(row[0]) if row else 0  # a starved machine hears fewer: shown, not failed
    return Beats(len(run.banks), seconds, heard, start, cpu)


@dataclass(frozen=True, slots=True)
class CatchUp:
    row: Row
    drained_s: float  # from the worker connecting to the last queued event stored


def catchup_round(run: Run, plan: Plan) -> CatchUp:
    """Banks publish while their worker is down (its session keeps their events at the broker);
    the worker comes back and drains them."""
    order = run.order(plan.catchup_events, plan.catchup_banks)
    stop_workers(run, start_workers(run, 1), end=False)  # its session waits at the broker
    done = publish_all(run, order)
    before = applied_total(run)
    processes = start_workers(run, 1, probe=False)
    back = time.time()
    clock = CpuClock([processes[0].pid], run.broker.pid)
    banks = len(run.chosen(order.banks))
    name = f"catch-up: {banks * order.count} queued from {banks} banks"
    row = settle(run, processes, order, name=name, done=done, clock=clock, before=before)
    last = scalar_at(
        run,
        "SELECT extract(epoch FROM max(received_at))::float8 FROM inboundevent "
        f"WHERE bank_id NOT IN ('{PROBE_BANK}', '{FLOOD_BANK}')",
    )
    return CatchUp(row, float(last) - back)


def flood_round(run: Run, plan: Plan, rate: float, most: int, *, window: int | None) -> Row:
    """One bank publishes ``plan.flood_events`` while the others publish, paced: the others'
    ages say whether the flood held them back. With a ``window``, the bank publishes as the
    edge's link does (a backlog after days offline); without, all at once (a bank gone wrong)."""
    before = int(
        scalar_at(run, "SELECT count(*) FROM inboundevent WHERE bank_id = %s", (FLOOD_BANK,))
    )
    flood = run.kids.start(
        "the flooding bank", flood_process, run.broker.port, before + 1, plan.flood_events, window
    )
    flood.expect(Ready)
    order = paced_order(run, rate, plan.flood_s, most)
    how = "ignoring the window, all at once" if window is None else f"through a window of {window}"
    name = f"others at {rate:.0f}/s, one bank sending {plan.flood_events} {how}"
    row = ingest_round(run, 1, order, name, flood=flood)
    run.kids.stop(flood)
    stored = scalar_at(
        run,
        "SELECT count(*) FILTER (WHERE applied) FROM inboundevent WHERE bank_id = %s",
        (FLOOD_BANK,),
    )
    if int(stored) != before + plan.flood_events:
        raise BenchmarkError(f"the flood: {int(stored) - before} of {plan.flood_events} applied")
    return row


def flood_process(
    conn: Connection, port: int, first_seq: int, count: int, window: int | None
) -> None:
    quiet_child()
    asyncio.run(flood(conn, port, first_seq, count, window))


async def flood(
    conn: Connection, port: int, first_seq: int, count: int, window: int | None
) -> None:
    """The flooding bank: connected, then, when told, ``count`` events from ``first_seq``."""
    sim = SimBank(FLOOD_BANK)
    sim.acked_seq = first_seq - 1
    await sim.open(port, f"edge-{FLOOD_BANK}")
    ready = payloads(FLOOD_BANK, first_seq, count)
    conn.send(Ready())
    order = await asyncio.to_thread(conn.recv)
    if not isinstance(order, Publish):
        return
    began = time.time()
    sending = sim.flood(ready) if window is None else sim.backlog(ready, first_seq, window)
    sent = await asyncio.wait_for(sending, STALL_S)
    conn.send(Published(count, began, time.time(), {FLOOD_BANK: sent}))
    sim.close()
    await asyncio.sleep(0.1)
