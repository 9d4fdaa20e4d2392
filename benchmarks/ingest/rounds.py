"""The rounds (bare, burst, paced), what they measure and the exactly-once check."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import psycopg

from benchmarks.common import BenchmarkError
from benchmarks.ingest.children import Child, Children
from benchmarks.ingest.config import (
    FLOOD_BANK,
    HISTORY,
    LOADERS,
    PROBE_BANK,
    STALL_S,
    START_TIMEOUT_S,
)
from benchmarks.ingest.consumers import bare_process, worker_process
from benchmarks.ingest.messages import (
    Acked,
    AwaitAcks,
    Publish,
    Published,
    Ready,
    Received,
    Stop,
    WorkerReport,
)
from benchmarks.ingest.mqtt import SimBank
from benchmarks.ingest.services import Broker, scalar
from locker_contract.messages import Heartbeat
from locker_contract.topics import Channel, topic


@dataclass(frozen=True, slots=True)
class Cpu:
    """Cores used from the first publish until the consumer had every event: CPU seconds of
    the processes (all their threads) over the wall-clock seconds."""

    consumer: float
    postgres: float | None  # the worker's backends; None when PostgreSQL is not on this machine
    broker: float


@dataclass(frozen=True, slots=True)
class Row:
    consumer: str
    events: int
    seconds: float  # first event received to last received (bare) or stored (ingest)
    offered: float  # events/s the banks published at, first publish to last PUBACK
    ages: list[float]  # seconds from publishing to storing, per event (ingest only)
    cpu: Cpu
    duplicates: int = 0  # redeliveries the workers recognised

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def age(self, q: float) -> float:
        ordered = sorted(self.ages)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Run:
    kids: Children
    loaders: list[Child]
    broker: Broker
    database_url: str
    banks: list[str]
    at: dict[str, int] = field(default_factory=dict)  # each bank's last seq published

    def __post_init__(self) -> None:
        self.at = dict.fromkeys(self.banks, HISTORY)

    def chosen(self, banks: int | None) -> list[str]:
        """The banks a ``Publish`` for ``banks`` per load process names: the first of each."""
        share = math.ceil(len(self.banks) / LOADERS)
        parts = [self.banks[n * share : (n + 1) * share] for n in range(LOADERS)]
        return [bank for part in parts for bank in (part if banks is None else part[:banks])]

    def order(self, count: int, banks: int | None = None, interval_s: float = 0.0) -> Publish:
        """The next ``count`` events of the chosen banks (each round chooses no more banks than
        the one before it, so that the chosen are all at the same seq)."""
        chosen = self.chosen(banks)
        first = {self.at[bank] for bank in chosen}
        if len(first) != 1:
            raise BenchmarkError("the chosen banks are not at one seq")
        start = first.pop() + 1
        for bank in chosen:
            self.at[bank] = start + count - 1
        return Publish(start, count, banks, interval_s)


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process and all its threads; None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS


def postgres_backends(run: Run) -> list[int] | None:
    """The server processes of the benchmark's database but this query's, if they run here."""
    with psycopg.connect(run.database_url) as db:
        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        pids = [int(pid) for (pid,) in db.execute(query).fetchall()]
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                continue
        return None  # another machine's (or container's) process ids
    return pids


class CpuClock:
    """CPU seconds of the consumer's processes and the broker from now on."""

    def __init__(self, consumers: Sequence[int], broker: int, backends: Sequence[int] = ()) -> None:
        """``backends``: PostgreSQL processes already serving the consumers, counted from now."""
        self.consumers, self.broker = list(consumers), broker
        self.started = time.monotonic()
        self.consumer_at = self.total(self.consumers)
        self.broker_at = self.total([broker])
        self.backends_at = {pid: cpu_seconds(pid) or 0.0 for pid in backends}

    @staticmethod
    def total(pids: Sequence[int]) -> float:
        return sum(cpu_seconds(pid) or 0.0 for pid in pids)

    def read(self, backends: Sequence[int] | None) -> Cpu:
        """``backends``: PostgreSQL processes that served this round only (all they used)."""
        wall = time.monotonic() - self.started
        consumer = (self.total(self.consumers) - self.consumer_at) / wall
        broker = (self.total([self.broker]) - self.broker_at) / wall
        if backends is None:
            postgres = None
        else:
            before = sum(self.backends_at.get(pid, 0.0) for pid in backends)
            postgres = (self.total(backends) - before) / wall
        return Cpu(consumer, postgres, broker)


def publish_all(run: Run, order: Publish) -> list[Published]:
    for loader in run.loaders:
        loader.send(order)
    done = [loader.expect(Published, timeout=STALL_S * 10) for loader in run.loaders]
    banks = len(run.banks) if order.banks is None else order.banks * len(run.loaders)
    if sum(p.events for p in done) != banks * order.count:
        raise BenchmarkError("the load processes published fewer events than asked")
    return done


def offered(done: Sequence[Published]) -> float:
    events = sum(p.events for p in done)
    return events / (max(p.finished for p in done) - min(p.started for p in done))


BARE = {False: "bare aiomqtt subscriber", True: "bare paho-callback subscriber"}


def bare_round(run: Run, count: int, *, callback: bool = False) -> Row:
    """The banks publish ``count`` events each to a subscriber that only counts them: as
    aiomqtt's iterator hands them out (issue 13's baseline) or in paho's callback."""
    expected = len(run.banks) * count
    port = run.broker.port
    sub = run.kids.start("the bare subscriber", bare_process, port, expected, callback)
    sub.expect(Ready)
    clock = CpuClock([sub.pid], run.broker.pid)
    done = publish_all(run, Publish(1, count))  # not for the cloud: no worker subscribed
    got = sub.expect(Received, timeout=STALL_S * 2)
    cpu = clock.read(None)
    run.kids.stop(sub)
    if got.messages != expected:
        raise BenchmarkError(f"the bare subscriber received {got.messages} of {expected} events")
    seconds = got.last - got.first
    return Row(BARE[callback], expected, seconds, offered(done), [], cpu)


async def probe(port: int) -> None:
    sim = SimBank(PROBE_BANK)
    await sim.open(port, "edge-bench-probe")
    beat = Heartbeat(
        edge_time=datetime.now(UTC),
        last_seq=0,
        acked_seq=0,
        uptime_s=0.0,
        boards_online=0,
        boards_total=0,
    )
    await sim.publish(
        [beat.model_dump_json().encode()], topic(PROBE_BANK, Channel.HEARTBEAT).encode()
    )
    sim.close()


def wait_subscribed(run: Run) -> None:
    """A heartbeat of the probe bank through the broker into the database: the workers are
    subscribed and their path to PostgreSQL works."""
    with psycopg.connect(run.database_url, autocommit=True) as db:
        db.execute("UPDATE bank SET last_heartbeat_at = NULL WHERE id = %s", (PROBE_BANK,))
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            asyncio.run(probe(run.broker.port))
            for _ in range(10):
                time.sleep(0.1)
                seen = "SELECT last_heartbeat_at FROM bank WHERE id = %s"
                if scalar(db, seen, (PROBE_BANK,)) is not None:
                    time.sleep(0.5)  # a second worker's subscriptions, a few packets behind
                    # as if never heard from: the worker's sweep would report it offline
                    forget = (
                        "UPDATE bank SET online = false, last_heartbeat_at = NULL WHERE id = %s"
                    )
                    db.execute(forget, (PROBE_BANK,))
                    return
    raise BenchmarkError(f"no worker stored a heartbeat within {START_TIMEOUT_S:g} s")


def wait_applied(run: Run, workers: Sequence[Child], target: int) -> None:
    """Poll until the banks' cursors add up to ``target``; fail when progress stops."""
    with psycopg.connect(run.database_url, autocommit=True) as db:
        seen, since = -1, time.monotonic()
        while True:
            total = int(scalar(db, "SELECT coalesce(sum(applied_seq), 0) FROM bankcursor"))
            if total >= target:
                return
            run.broker.check()
            for worker in workers:
                if not worker.process.is_alive():
                    raise BenchmarkError(f"{worker.name} exited with {worker.process.exitcode}")
            if total != seen:
                seen, since = total, time.monotonic()
            elif time.monotonic() - since > STALL_S:
                raise BenchmarkError(
                    f"ingest stalled: the cursors add up to {total} of {target} for {STALL_S:g} s"
                )
            time.sleep(0.25)


def check_exactly_once(run: Run, order: Publish, sent: int) -> None:
    """Every bank that published is applied up to its last event and the others are where
    they were; each event is stored once and applied."""
    first, last = order.first_seq, order.first_seq + order.count - 1
    wanted = dict(Counter(run.at.values()))
    with psycopg.connect(run.database_url) as db:
        rows = db.execute(
            "SELECT applied_seq, count(*) FROM bankcursor WHERE bank_id <> %s GROUP BY applied_seq",
            (FLOOD_BANK,),
        )
        cursors = {int(seq): int(banks) for seq, banks in rows.fetchall()}
        if cursors != wanted:
            raise BenchmarkError(f"banks per applied seq: expected {wanted}, found {cursors}")
        stored = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE applied), count(DISTINCT event_id) "
            "FROM inboundevent WHERE seq BETWEEN %s AND %s AND bank_id NOT IN (%s, %s)",
            (first, last, PROBE_BANK, FLOOD_BANK),
        ).fetchone()
    if stored != (sent * order.count,) * 3:
        raise BenchmarkError(
            f"expected {sent * order.count} events stored, applied and distinct, found {stored}"
        )


def ingest_window(
    run: Run, order: Publish, sent: dict[str, list[float]]
) -> tuple[float, list[float]]:
    """Seconds from the first event stored to the last (``received_at``, taken by
    ``ingest_event`` in its transaction); each event's age there."""
    first, last = order.first_seq, order.first_seq + order.count - 1
    with psycopg.connect(run.database_url) as db:
        rows = db.execute(
            "SELECT bank_id, seq, extract(epoch FROM received_at)::float8 FROM inboundevent "
            "WHERE seq BETWEEN %s AND %s AND bank_id NOT IN (%s, %s)",
            (first, last, PROBE_BANK, FLOOD_BANK),
        ).fetchall()
    stored = [float(at) for _, _, at in rows]
    ages = [float(at) - sent[bank][seq - first] for bank, seq, at in rows]
    return max(stored) - min(stored), ages


def start_workers(run: Run, workers: int, *, probe: bool = True) -> list[Child]:
    """``workers`` worker processes (named 1, 2...), connected; subscribed, if ``probe``."""
    processes = [
        run.kids.start(
            f"ingest worker {n}", worker_process, run.database_url, run.broker.url, str(n)
        )
        for n in range(1, workers + 1)
    ]
    for worker in processes:
        worker.client_id = worker.expect(Ready).client_id
    if probe:
        wait_subscribed(run)
    return processes


def stop_workers(run: Run, processes: Sequence[Child], *, end: bool = True) -> list[WorkerReport]:
    """Stop the workers; end their sessions too (``end``), as a deployment retiring them does."""
    reports = []
    for worker in processes:
        worker.send(Stop())
        reports.append(worker.expect(WorkerReport))
        run.kids.stop(worker)
    if end:
        asyncio.run(end_sessions(run.broker.port, [w.client_id for w in processes]))
    return reports


def applied_total(run: Run) -> int:
    return int(scalar_at(run, "SELECT coalesce(sum(applied_seq), 0) FROM bankcursor"))


def ingest_round(
    run: Run, workers: int, order: Publish, name: str, flood: Child | None = None
) -> Row:
    """The banks publish as ``order`` says (and ``flood`` its bank's events, if given);
    ``workers`` processes store the events."""
    processes = start_workers(run, workers)
    before = applied_total(run)
    clock = CpuClock([worker.pid for worker in processes], run.broker.pid)
    if flood is not None:
        flood.send(order)
    done = publish_all(run, order)
    flooded = 0 if flood is None else flood.expect(Published, timeout=STALL_S * 10).events
    return settle(run, processes, order, name=name, done=done, clock=clock, before=before + flooded)


def settle(
    run: Run,
    processes: Sequence[Child],
    order: Publish,
    *,
    name: str,
    done: Sequence[Published],
    clock: CpuClock,
    before: int,
) -> Row:
    """Wait until the workers applied what ``order`` sent, check it was exactly once and
    acknowledged, stop the workers; the round's row."""
    banks = len(run.chosen(order.banks))
    last = order.first_seq + order.count - 1
    wait_applied(run, processes, before + banks * order.count)
    cpu = clock.read(postgres_backends(run))
    check_exactly_once(run, order, banks)
    for loader in run.loaders:
        loader.send(AwaitAcks(last, 30.0, order.banks))
    acked = sum(loader.expect(Acked).banks for loader in run.loaders)
    if acked != banks:
        raise BenchmarkError(f"{banks - acked} banks got no events/ack for seq {last}")
    reports = stop_workers(run, processes)
    rejected = sum(r.rejected for r in reports)
    if rejected:
        raise BenchmarkError(f"the workers rejected {rejected} events")
    sent = {bank: times for p in done for bank, times in p.sent.items()}
    seconds, ages = ingest_window(run, order, sent)
    duplicates = sum(r.duplicates for r in reports)
    return Row(name, banks * order.count, seconds, offered(done), ages, cpu, duplicates)


async def end_sessions(port: int, client_ids: Sequence[str]) -> None:
    """End the stopped workers' persistent sessions, as when a deployment retires a worker:
    Mosquitto keeps giving a stopped member's session its share of a shared subscription, so
    a later round with fewer workers would find that share waiting for a worker that is gone."""
    v5 = aiomqtt.ProtocolVersion.V5
    for client_id in client_ids:
        # a clean start with no session expiry: the session ends on disconnecting
        async with aiomqtt.Client(
            "127.0.0.1", port, identifier=client_id, protocol=v5, clean_start=True, timeout=10.0
        ):
            pass


def scalar_at(run: Run, query: str, params: Sequence[object] = ()) -> Any:
    with psycopg.connect(run.database_url) as db:
        return scalar(db, query, params)


def burst_round(run: Run, workers: int, count: int) -> Row:
    """Every bank publishes ``count`` events at once: a backlog the workers drain."""
    order = run.order(count)
    return ingest_round(run, workers, order, f"IngestWorker x{workers}, burst")


def paced_order(run: Run, rate: float, seconds: float, most: int) -> Publish:
    """One event from each of ``rate`` x ``seconds`` banks (at most ``most`` per load
    process), at ``rate`` events/s in all."""
    per_loader = min(math.ceil(rate * seconds / LOADERS), most)
    return run.order(1, per_loader, LOADERS / rate)


def paced_round(run: Run, rate: float, seconds: float, most: int) -> Row:
    order = paced_order(run, rate, seconds, most)
    return ingest_round(run, 1, order, f"IngestWorker x1, paced at {rate:.0f}/s")
