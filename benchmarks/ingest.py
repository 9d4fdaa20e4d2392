"""Ingest benchmark: events per second the cloud stores in PostgreSQL, 10,000 banks connected.

Everything runs on this machine: a fresh PostgreSQL database, dropped afterwards, and a Mosquitto
of the benchmark's own on a free loopback port, stopped afterwards (no queue limit and
TCP_NODELAY as in ``docs/examples/mosquitto/smartlocker.conf``; unlike it, anonymous and without
persistence). The database is migrated and holds 10,000 banks of eight compartments, each with a
history of ten events already stored and applied (its cursor there), written with ``COPY`` and
then analysed: on empty tables PostgreSQL plans sequential scans, and the worker's prepared
statements would keep them as the tables grow. The benchmark raises its soft descriptor limit to
20,000 (at most the hard limit; it stops at once if that cannot cover the connections); Mosquitto
and the child processes inherit it.

The banks: two load processes hold half of the connections each, on a minimal MQTT 3.1.1 client
written here on asyncio protocols (aiomqtt and paho cost too much per connection for 10,000 in
one process). Each bank connects as ``edge-<bank id>`` with a clean session and subscribes to its
``events/ack`` and ``cmd`` as the edge does; when told, it publishes its next events to
``banks/<id>/events`` at QoS 1, one at a time (the edge's link awaits each PUBACK before the
next): ``Envelope`` JSON from ``model_dump_json`` as the edge sends it, ``door.closed`` and
``board.health`` alternating (the cloud records either and looks for one alarm to clear;
deposits and pickups, which touch parcels and reservations, cost more and are not measured
here). Payloads are built before the clock starts. The connections stay open through the rounds:

1. bare: one ``aiomqtt.Client`` (MQTT 5, clean start) subscribed at QoS 1 to
   ``$share/bench-bare/banks/+/events`` (the worker's kind of subscription) that only counts what
   it receives: no parsing, no database. Every bank publishes its events at once; the rate is
   events over the time from the first received to the last. No worker is subscribed: these
   events never reach the cloud.
2. burst: ``cloud.link.worker.IngestWorker`` as production runs it (``mqtt://``: MQTT 5, a
   persistent session, the shared subscription, ``Settings`` defaults with 4 lanes), in a process
   of its own with its own engine, takes the banks' next events, all published at once. The
   broker passes them on as fast as they come and the worker's queues hold the backlog, so this
   is the worker's capacity. The rate is events over the time from the first stored to the last
   (``received_at``, stamped by ``ingest_event`` in each event's transaction). The full run
   repeats it with two worker processes sharing the subscription.
3. paced: one worker; one event each from as many banks as it takes, spread evenly at half the
   first burst's rate for 15 s (5 s with ``--quick``): the latency of a cloud that keeps up.

After each ingest round the benchmark waits until the banks' cursors add up, then checks that
the cloud took every event exactly once: each bank's ``BankCursor.applied_seq`` is the last seq it
sent (and a bank that sent nothing is where it was), every event is stored once and applied, the
workers rejected none, and every bank that sent received an ``events/ack`` for its last seq. Any
miss fails the run. Then it ends the stopped workers' sessions, as a deployment retiring a worker
has to: Mosquitto goes on giving a stopped member of a shared subscription its share, which would
wait in that session for a worker that is gone (with one worker after two, half the events)
until the session expires (``LOCKER_CLOUD_INGEST_SESSION_EXPIRY_S``, 60 s by default).

Reading the table: ``published/s`` is how fast the banks published (first publish to last
PUBACK); well above ``events/s``, it shows the load did not limit the consumer. ``age`` runs from a
bank publishing an event to the worker storing it: in a burst it is mostly the wait behind the
backlog (p99 is about the time the burst took to drain); only the paced row is latency. ``cpu`` is
the cores used from the first publish until the consumer had every event, by the consumer's
processes, by the worker's PostgreSQL backends (blank when PostgreSQL runs elsewhere) and by
Mosquitto; a consumer near 1.0 per process is bound by its own interpreter. The ratio divides the
worker's rate by the bare subscriber's: what storing an event costs next to just receiving it.
Everything shares this machine's cores; the bare subscriber shares them with the load processes
for part of its window (the worker for a small part of its), which flatters the ratio a little.
Compare runs from the same machine only.

Run ``python -m benchmarks.ingest`` (PostgreSQL with trust authentication on 127.0.0.1:5432 by
default, see ``--postgres``; ``mosquitto`` on the PATH or in /usr/sbin), or with ``--quick`` for a
short CI run: one event per bank, one worker process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import math
import multiprocessing
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import psycopg
from psycopg.rows import TupleRow

from benchmarks.common import BenchmarkError, align, free_port, fresh_database, tail
from cloud.core.config import Settings
from cloud.core.db import make_engine
from cloud.core.migrate import upgrade
from cloud.link.worker import IngestWorker
from locker_contract.events import BoardHealthChanged, DoorClosed, Envelope, Event
from locker_contract.messages import Heartbeat
from locker_contract.topics import Channel, every_bank, shared, topic

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BANKS = 10_000
LOADERS = 2  # processes holding the banks' connections
LANES = 4  # the cloud's default ``ingest_lanes``
NOFILE = 20_000  # descriptors asked for (soft limit up to this, never above the hard limit)
SPARE_FDS = 200  # descriptors a process needs besides the connections
KEEPALIVE_S = 120  # the simulated banks' MQTT keep-alive; they ping every half of it
CONNECTING = 100  # connection attempts in flight per load process
LABELS = [f"A{n:02d}" for n in range(1, 9)]  # compartments per bank in the cloud's database
HISTORY = 10  # events per bank stored and applied before the run, as in a fleet's database
PROBE_BANK = "bench-probe"
BARE_GROUP = "bench-bare"
STALL_S = 60.0  # no progress for this long: the run failed
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
Db = psycopg.Connection[TupleRow]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Plan:
    events: int  # per bank, in the bare round and in each burst
    workers: tuple[int, ...]  # worker processes, one burst each
    paced_s: float  # how long the paced round publishes


FULL = Plan(events=3, workers=(1, 2), paced_s=15.0)
QUICK = Plan(events=1, workers=(1,), paced_s=5.0)
PACED_SHARE = 0.5  # the paced round's rate, as a share of one worker's burst rate


# --- descriptors, the broker, the database ------------------------------------------------


def raise_nofile(wanted: int) -> int:
    """Raise this process's soft descriptor limit towards ``wanted``; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise BenchmarkError(f"mosquitto exited with {proc.returncode}: {tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise BenchmarkError(
                    f"mosquitto did not listen within {START_TIMEOUT_S:g} s"
                ) from None
            time.sleep(0.05)


def open_files_limit(pid: int) -> str:
    """The soft ``Max open files`` of a running process, from ``/proc``."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return line.split()[3]
    return "?"


@dataclass(frozen=True, slots=True)
class Broker:
    port: int
    process: subprocess.Popen[bytes]
    version: str

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def check(self) -> None:
        if self.process.poll() is not None:
            raise BenchmarkError(f"mosquitto exited with {self.process.returncode}")


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise BenchmarkError("mosquitto is not installed (apt-get install mosquitto)")
    return found


@contextlib.contextmanager
def mosquitto(folder: Path) -> Iterator[Broker]:
    """A Mosquitto of the benchmark's own on a free port; it inherits the raised descriptor
    limit. Stopped afterwards."""
    binary = mosquitto_binary()
    banner = subprocess.run([binary, "-h"], capture_output=True, text=True, check=False).stdout
    port, log = free_port(), folder / "mosquitto.log"
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"user {getpass.getuser()}\n"  # as root it would switch to mosquitto: no tmp access
        "allow_anonymous true\n"
        "max_connections -1\n"
        "max_queued_messages 0\n"  # as docs/examples/mosquitto/smartlocker.conf
        "set_tcp_nodelay true\n"
        "persistence false\n"
        "connection_messages false\n"
        f"log_dest file {log}\n"
        "log_type error\nlog_type warning\n"
    )
    with (folder / "mosquitto.out").open("wb") as out:  # its warnings, e.g. about root
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, log)
        words = banner.split()
        yield Broker(port, proc, words[2] if len(words) > 2 else "?")
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def bank_ids(count: int) -> list[str]:
    return [f"bench-{n:05d}" for n in range(1, count + 1)]


def populate(database_url: str, banks: Sequence[str]) -> None:
    """Migrate, then one operator and site, the banks with their compartments and a history
    of ``HISTORY`` events each, applied (the cursor there), written with ``COPY`` (the ORM one
    row at a time would take minutes); then statistics for the planner. On empty tables,
    PostgreSQL plans sequential scans; statements prepared then keep them as the tables grow
    until the statistics are renewed (by autovacuum, if it is on)."""
    upgrade(database_url)
    with psycopg.connect(database_url) as db:
        db.execute("INSERT INTO operator (id, name) VALUES ('bench', 'Bench')")
        db.execute(
            "INSERT INTO site (id, operator_id, name, address, lat, lon) "
            "VALUES ('bench', 'bench', 'Bench site', '', 31.2, 121.4)"
        )
        with db.cursor().copy("COPY bank (id, site_id, name) FROM STDIN") as copy:
            for bank in [*banks, PROBE_BANK]:
                copy.write_row((bank, "bench", bank))
        with db.cursor().copy("COPY bankcursor (bank_id, applied_seq) FROM STDIN") as copy:
            for bank in banks:
                copy.write_row((bank, HISTORY))
        columns = "event_id, bank_id, seq, type, body, received_at, applied"
        then = datetime.now(UTC) - timedelta(days=1)
        with db.cursor().copy(f"COPY inboundevent ({columns}) FROM STDIN") as copy:
            for bank in banks:
                for seq in range(1, HISTORY + 1):
                    event = event_for(seq)
                    body = json.dumps(event.model_dump(mode="json"))
                    copy.write_row((str(uuid.uuid4()), bank, seq, event.type, body, then, True))
        columns = "id, bank_id, label, size, size_rank, low, in_service"
        with db.cursor().copy(f"COPY compartment ({columns}) FROM STDIN") as copy:
            for bank in banks:
                for label in LABELS:
                    copy.write_row((str(uuid.uuid4()), bank, label, "M", 1, False, True))
        db.execute("ANALYZE")


def scalar(db: Db, query: str, params: Sequence[object] = ()) -> Any:
    row = db.execute(query, params).fetchone()
    if row is None:
        raise BenchmarkError(f"no answer to {query}")
    return row[0]


# --- the simulated banks: a minimal MQTT 3.1.1 client on asyncio --------------------------

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
PING_PACKET = bytes([PINGREQ << 4, 0])
DISCONNECT_PACKET = bytes([DISCONNECT << 4, 0])


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (128 if n else 0))
        if not n:
            return bytes(out)


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + remaining_length(len(body)) + body


def utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str) -> bytes:
    """MQTT 3.1.1, clean session, no will, no credentials."""
    return packet(
        CONNECT,
        0,
        utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", KEEPALIVE_S) + utf8(client_id),
    )


def subscribe_packet(packet_id: int, filters: Sequence[str]) -> bytes:
    body = struct.pack("!H", packet_id) + b"".join(utf8(f) + b"\x01" for f in filters)
    return packet(SUBSCRIBE, 0x02, body)


def publish_packet(topic_name: bytes, packet_id: int, payload: bytes) -> bytes:
    """QoS 1, not retained."""
    body = struct.pack("!H", len(topic_name)) + topic_name + struct.pack("!H", packet_id)
    return packet(PUBLISH, 0x02, body + payload)


def puback_packet(packet_id: int) -> bytes:
    return packet(PUBACK, 0, struct.pack("!H", packet_id))


class SimBank(asyncio.Protocol):
    """One bank's connection: publishes its events at QoS 1, one at a time (the edge's link
    awaits each PUBACK before the next), and takes its ``events/ack`` as a bank does."""

    def __init__(self, bank_id: str) -> None:
        self.bank_id = bank_id
        self.events_topic = topic(bank_id, Channel.EVENTS).encode()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.loop = asyncio.get_running_loop()
        self.connack: asyncio.Future[None] = self.loop.create_future()
        self.pending: dict[int, asyncio.Future[None]] = {}
        self.last_id = 0
        self.acked_seq = 0  # the highest seq the cloud acknowledged

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.fail(ConnectionError(f"{self.bank_id}: connection lost ({exc})"))

    def fail(self, exc: Exception) -> None:
        """Whatever waits on this connection gets ``exc``; the connection is dropped."""
        for waiter in [self.connack, *self.pending.values()]:
            if not waiter.done():
                waiter.set_exception(exc)
        self.pending.clear()
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while len(buf) >= 2:
            length, shift, i = 0, 0, 1
            while True:
                if i >= len(buf):
                    return
                byte = buf[i]
                length |= (byte & 127) << shift
                shift += 7
                i += 1
                if not byte & 128:
                    break
            end = i + length
            if len(buf) < end:
                return
            first, body = buf[0], bytes(buf[i:end])
            del buf[:end]
            try:
                self.received(first >> 4, first & 15, body)
            except (ValueError, KeyError, IndexError, struct.error, ConnectionError) as exc:
                self.fail(exc)
                return

    # --- packets in ---

    def received(self, kind: int, flags: int, body: bytes) -> None:
        if kind == PUBACK:
            self.resolve(struct.unpack_from("!H", body)[0])
        elif kind == PUBLISH:
            self.delivered(flags, body)
        elif kind == CONNACK:
            if body[1] != 0:
                raise ConnectionError(f"{self.bank_id}: CONNACK refused with {body[1]}")
            self.connack.set_result(None)
        elif kind == SUBACK:
            if 0x80 in body[2:]:
                raise ConnectionError(f"{self.bank_id}: subscription refused")
            self.resolve(struct.unpack_from("!H", body)[0])
        elif kind != PINGRESP:
            raise ConnectionError(f"{self.bank_id}: unexpected MQTT packet type {kind}")

    def delivered(self, flags: int, body: bytes) -> None:
        (topic_length,) = struct.unpack_from("!H", body)
        name, at = body[2 : 2 + topic_length], 2 + topic_length
        if (flags >> 1) & 3:
            (packet_id,) = struct.unpack_from("!H", body, at)
            at += 2
            self.write(puback_packet(packet_id))
        if name.endswith(b"/events/ack"):
            self.acked_seq = max(self.acked_seq, int(json.loads(body[at:])["seq"]))

    def resolve(self, packet_id: int) -> None:
        waiter = self.pending.pop(packet_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- packets out ---

    def write(self, data: bytes) -> None:
        if self.transport is None:
            raise ConnectionError(f"{self.bank_id}: not connected")
        self.transport.write(data)

    def next_id(self) -> tuple[int, asyncio.Future[None]]:
        self.last_id = self.last_id % 65535 + 1
        waiter = self.loop.create_future()
        self.pending[self.last_id] = waiter
        return self.last_id, waiter

    async def open(self, port: int, client_id: str) -> None:
        """Connect, then subscribe to the bank's ``events/ack`` and ``cmd`` as the edge does."""
        await self.loop.create_connection(lambda: self, "127.0.0.1", port)
        self.write(connect_packet(client_id))
        await self.connack
        packet_id, waiter = self.next_id()
        filters = [topic(self.bank_id, Channel.EVENTS_ACK), topic(self.bank_id, Channel.CMD)]
        self.write(subscribe_packet(packet_id, filters))
        await waiter

    async def publish(self, payloads: Sequence[bytes], to: bytes | None = None) -> list[float]:
        """Each payload at QoS 1 after the previous one's PUBACK, to the bank's events unless
        ``to`` says otherwise; when each was sent."""
        sent = []
        for payload in payloads:
            packet_id, waiter = self.next_id()
            sent.append(time.time())
            self.write(publish_packet(to or self.events_topic, packet_id, payload))
            await waiter
        return sent

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(DISCONNECT_PACKET)
            self.transport.close()


# --- what goes between the processes -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    banks: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Publish:
    first_seq: int
    count: int  # events per bank
    banks: int | None = None  # the first this many of the process's banks; None: all of them
    interval_s: float = 0.0  # from one bank's turn to the next's; 0: all at once


@dataclass(frozen=True, slots=True)
class Published:
    events: int
    started: float  # time.time() of the first publish
    finished: float  # time.time() of the last PUBACK
    sent: dict[str, list[float]]  # bank -> time.time() each of its events was published


@dataclass(frozen=True, slots=True)
class AwaitAcks:
    seq: int
    timeout_s: float
    banks: int | None = None  # as in Publish


@dataclass(frozen=True, slots=True)
class Acked:
    banks: int  # banks whose events/ack reached the seq asked for


@dataclass(frozen=True, slots=True)
class Stop:
    pass


@dataclass(frozen=True, slots=True)
class Ready:
    client_id: str = ""  # a worker's MQTT client id


@dataclass(frozen=True, slots=True)
class Received:
    messages: int
    first: float
    last: float


@dataclass(frozen=True, slots=True)
class WorkerReport:
    events: int
    duplicates: int
    rejected: int


def event_for(seq: int) -> Event:
    """Two event types the cloud records and then looks up one alarm for, alternating."""
    if seq % 2:
        return DoorClosed(compartment=LABELS[seq % len(LABELS)])
    return BoardHealthChanged(bus="rs485-0", board=seq % 8 + 1, online=True)


def payloads(bank: str, first_seq: int, count: int) -> list[bytes]:
    """The bank's next events as the edge publishes them: ``Envelope.model_dump_json()``."""
    return [
        Envelope(
            event_id=uuid.uuid4(),
            bank_id=bank,
            seq=seq,
            time=datetime.now(UTC),
            event=event_for(seq),
        )
        .model_dump_json()
        .encode()
        for seq in range(first_seq, first_seq + count)
    ]


def quiet_child() -> None:
    """Children leave Ctrl-C to the parent, which stops them; their limit raised like its."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise_nofile(NOFILE)


# --- the load: processes holding the banks' connections ------------------------------------


def load_process(conn: Connection, port: int, banks: list[str]) -> None:
    quiet_child()
    asyncio.run(load(conn, port, banks))


async def keep_alive(banks: Sequence[SimBank]) -> None:
    while True:
        await asyncio.sleep(KEEPALIVE_S / 2)
        for bank in banks:
            if bank.transport is not None:
                bank.transport.write(PING_PACKET)


async def publish(sims: Sequence[SimBank], order: Publish) -> Published:
    """Every bank its events, all at once or each bank in its turn; built before the clock
    starts, so that the load's own work is only sending."""
    ready = [payloads(sim.bank_id, order.first_seq, order.count) for sim in sims]
    began = time.time()

    async def turn(n: int, sim: SimBank, events: list[bytes]) -> list[float]:
        await asyncio.sleep(began + n * order.interval_s - time.time())
        return await sim.publish(events)

    sent = await asyncio.gather(*(turn(n, sim, ready[n]) for n, sim in enumerate(sims)))
    ended = time.time()
    times = {sim.bank_id: t for sim, t in zip(sims, sent, strict=True)}
    return Published(sum(map(len, sent)), began, ended, times)


async def load(conn: Connection, port: int, banks: list[str]) -> None:
    sims = [SimBank(bank) for bank in banks]
    gate = asyncio.Semaphore(CONNECTING)

    async def open_one(sim: SimBank) -> None:
        async with gate:
            await sim.open(port, f"edge-{sim.bank_id}")

    started = time.perf_counter()
    await asyncio.gather(*(open_one(sim) for sim in sims))
    conn.send(Connected(len(sims), time.perf_counter() - started))
    pinger = asyncio.create_task(keep_alive(sims))
    try:
        while True:
            try:
                order = await asyncio.to_thread(conn.recv)
            except EOFError:  # the parent is gone
                break
            if isinstance(order, Publish):
                conn.send(await publish(sims[: order.banks], order))
            elif isinstance(order, AwaitAcks):
                chosen = sims[: order.banks]
                deadline = time.monotonic() + order.timeout_s
                while time.monotonic() < deadline:
                    if all(s.acked_seq >= order.seq for s in chosen):
                        break
                    await asyncio.sleep(0.1)
                conn.send(Acked(sum(s.acked_seq >= order.seq for s in chosen)))
            else:
                break
    finally:
        pinger.cancel()
        for sim in sims:
            sim.close()
        await asyncio.sleep(0.1)  # let the DISCONNECTs go out


# --- the consumers ------------------------------------------------------------------------


def bare_process(conn: Connection, port: int, expected: int) -> None:
    quiet_child()
    asyncio.run(bare(conn, port, expected))


async def bare(conn: Connection, port: int, expected: int) -> None:
    """Count messages, nothing else. MQTT 5 and the worker's kind of (shared) subscription, but
    a clean session, so that nothing is queued for it once it has gone."""
    count, first, last = 0, 0.0, 0.0
    client = aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier="bench-bare",
        timeout=10.0,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=True,
    )
    async with client:
        await client.subscribe(shared(BARE_GROUP, every_bank(Channel.EVENTS)), qos=1)
        conn.send(Ready())

        async def consume() -> None:
            nonlocal count, first, last
            async for _ in client.messages:
                count += 1
                if count == 1:
                    first = time.time()
                if count >= expected:
                    last = time.time()
                    return

        async def watch(consumer: asyncio.Task[None]) -> None:
            seen, since = -1, time.monotonic()
            while not consumer.done():
                await asyncio.sleep(0.5)
                if count != seen:
                    seen, since = count, time.monotonic()
                elif time.monotonic() - since > STALL_S:
                    consumer.cancel()

        consumer = asyncio.create_task(consume())
        watcher = asyncio.create_task(watch(consumer))
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        watcher.cancel()
    conn.send(Received(count, first, last))


def worker_process(conn: Connection, database_url: str, broker: str, name: str) -> None:
    quiet_child()
    logging.basicConfig(level=logging.WARNING, format=f"worker {name}: %(levelname)s %(message)s")
    engine = make_engine(database_url)
    settings = Settings(
        database_url=database_url, secret_key=secrets.token_hex(32), ingest_lanes=LANES
    )
    worker = IngestWorker(engine, settings, broker, name=name)
    try:
        asyncio.run(serve(conn, worker))
    finally:
        engine.dispose()


async def serve(conn: Connection, worker: IngestWorker) -> None:
    """Run the worker; say when it is connected; stop when told (or when the parent is gone)."""
    task = asyncio.create_task(worker.run())
    announced = False
    try:
        while not task.done():
            if not announced and worker.stats.connected:
                conn.send(Ready(worker.client_id))
                announced = True
            if conn.poll():
                with contextlib.suppress(EOFError):
                    conn.recv()
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    stats = worker.stats
    with contextlib.suppress(OSError):  # the parent may be gone
        conn.send(WorkerReport(stats.events, stats.duplicates, stats.rejected))


# --- running the children -----------------------------------------------------------------

SPAWN = multiprocessing.get_context("spawn")


@dataclass
class Child:
    name: str
    process: BaseProcess
    conn: Connection
    broker: Broker

    def receive(self, timeout: float = START_TIMEOUT_S) -> object:
        deadline = time.monotonic() + timeout
        while not self.conn.poll(0.2):
            self.broker.check()
            if not self.process.is_alive():
                raise BenchmarkError(f"{self.name} exited with {self.process.exitcode}")
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{self.name} did not answer within {timeout:g} s")
        try:
            answer: object = self.conn.recv()
        except EOFError:  # it died: poll() reports the closed pipe as readable
            self.process.join(STOP_TIMEOUT_S)
            raise BenchmarkError(f"{self.name} exited with {self.process.exitcode}") from None
        return answer

    @property
    def pid(self) -> int:
        return self.process.pid or 0

    def send(self, order: object) -> None:
        self.conn.send(order)

    def expect(self, kind: type[T], timeout: float = START_TIMEOUT_S) -> T:
        answer = self.receive(timeout)
        if not isinstance(answer, kind):
            raise BenchmarkError(f"{self.name} answered {answer!r}, not {kind.__name__}")
        return answer

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(STOP_TIMEOUT_S)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.conn.close()


class Children:
    """Every child process started, terminated on the way out whatever happens; waiting on
    one fails if it or the broker is gone."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.started: list[Child] = []

    def start(self, name: str, target: Any, *args: object) -> Child:
        ours, theirs = SPAWN.Pipe()
        process = SPAWN.Process(target=target, args=(theirs, *args), name=name, daemon=True)
        process.start()
        theirs.close()
        child = Child(name, process, ours, self.broker)
        self.started.append(child)
        return child

    def stop(self, child: Child) -> None:
        child.stop()
        self.started.remove(child)

    def stop_all(self) -> None:
        for child in list(self.started):
            self.stop(child)


@contextlib.contextmanager
def children(broker: Broker) -> Iterator[Children]:
    kids = Children(broker)
    try:
        yield kids
    finally:
        kids.stop_all()


# --- the rounds ---------------------------------------------------------------------------


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
    next_seq: int = HISTORY + 1  # the banks' next seq for the cloud


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

    def __init__(self, consumers: Sequence[int], broker: int) -> None:
        self.consumers, self.broker = list(consumers), broker
        self.started = time.monotonic()
        self.consumer_at = self.total(self.consumers)
        self.broker_at = self.total([broker])

    @staticmethod
    def total(pids: Sequence[int]) -> float:
        return sum(cpu_seconds(pid) or 0.0 for pid in pids)

    def read(self, backends: Sequence[int] | None) -> Cpu:
        """``backends``: PostgreSQL processes that served this round only (all they used)."""
        wall = time.monotonic() - self.started
        consumer = (self.total(self.consumers) - self.consumer_at) / wall
        broker = (self.total([self.broker]) - self.broker_at) / wall
        postgres = None if backends is None else self.total(backends) / wall
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


def bare_round(run: Run, count: int) -> Row:
    """The banks publish ``count`` events each to a subscriber that only counts them."""
    expected = len(run.banks) * count
    sub = run.kids.start("the bare subscriber", bare_process, run.broker.port, expected)
    sub.expect(Ready)
    clock = CpuClock([sub.pid], run.broker.pid)
    done = publish_all(run, Publish(1, count))  # not for the cloud: no worker subscribed
    got = sub.expect(Received, timeout=STALL_S * 2)
    cpu = clock.read(None)
    run.kids.stop(sub)
    if got.messages != expected:
        raise BenchmarkError(f"the bare subscriber received {got.messages} of {expected} events")
    seconds = got.last - got.first
    return Row("bare aiomqtt subscriber", expected, seconds, offered(done), [], cpu)


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
    others = len(run.banks) - sent
    wanted = {last: sent, first - 1: others} if others else {last: sent}
    with psycopg.connect(run.database_url) as db:
        rows = db.execute("SELECT applied_seq, count(*) FROM bankcursor GROUP BY applied_seq")
        cursors = {int(seq): int(banks) for seq, banks in rows.fetchall()}
        if cursors != wanted:
            raise BenchmarkError(f"banks per applied seq: expected {wanted}, found {cursors}")
        stored = db.execute(
            "SELECT count(*), count(*) FILTER (WHERE applied), count(DISTINCT event_id) "
            "FROM inboundevent WHERE seq BETWEEN %s AND %s AND bank_id <> %s",
            (first, last, PROBE_BANK),
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
            "WHERE seq BETWEEN %s AND %s AND bank_id <> %s",
            (first, last, PROBE_BANK),
        ).fetchall()
    stored = [float(at) for _, _, at in rows]
    ages = [float(at) - sent[bank][seq - first] for bank, seq, at in rows]
    return max(stored) - min(stored), ages


def ingest_round(run: Run, workers: int, order: Publish, name: str) -> Row:
    """The banks publish as ``order`` says; ``workers`` processes store the events."""
    banks = len(run.banks) if order.banks is None else order.banks * len(run.loaders)
    last = order.first_seq + order.count - 1
    processes = [
        run.kids.start(
            f"ingest worker {n}", worker_process, run.database_url, run.broker.url, str(n)
        )
        for n in range(1, workers + 1)
    ]
    client_ids = [worker.expect(Ready).client_id for worker in processes]
    wait_subscribed(run)
    before = int(scalar_at(run, "SELECT coalesce(sum(applied_seq), 0) FROM bankcursor"))
    clock = CpuClock([worker.pid for worker in processes], run.broker.pid)
    done = publish_all(run, order)
    wait_applied(run, processes, before + banks * order.count)
    cpu = clock.read(postgres_backends(run))
    check_exactly_once(run, order, banks)
    for loader in run.loaders:
        loader.send(AwaitAcks(last, 30.0, order.banks))
    acked = sum(loader.expect(Acked).banks for loader in run.loaders)
    if acked != banks:
        raise BenchmarkError(f"{banks - acked} banks got no events/ack for seq {last}")
    reports = []
    for worker in processes:
        worker.send(Stop())
        reports.append(worker.expect(WorkerReport))
        run.kids.stop(worker)
    asyncio.run(end_sessions(run.broker.port, client_ids))
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


def scalar_at(run: Run, query: str) -> Any:
    with psycopg.connect(run.database_url) as db:
        return scalar(db, query)


def burst_round(run: Run, workers: int, count: int) -> Row:
    """Every bank publishes ``count`` events at once: a backlog the workers drain."""
    order = Publish(run.next_seq, count)
    row = ingest_round(run, workers, order, f"IngestWorker x{workers}, burst")
    run.next_seq += count
    return row


def paced_round(run: Run, rate: float, seconds: float) -> Row:
    """One event from each of ``rate`` x ``seconds`` banks, at ``rate`` events/s in all."""
    per_loader = min(math.ceil(rate * seconds / LOADERS), len(run.banks) // LOADERS)
    order = Publish(run.next_seq, 1, per_loader, LOADERS / rate)
    return ingest_round(run, 1, order, f"IngestWorker x1, paced at {rate:.0f}/s")


# --- reporting ----------------------------------------------------------------------------


def table(connections: int, bare: Row, bursts: Sequence[Row], paced: Row) -> list[str]:
    def cells(row: Row) -> tuple[str, ...]:
        ages = (f"{row.age(0.5):.3f}", f"{row.age(0.99):.3f}") if row.ages else ("", "")
        figures = (str(connections), str(row.events), f"{row.offered:.0f}", f"{row.rate:.0f}")
        postgres = "" if row.cpu.postgres is None else f"{row.cpu.postgres:.2f}"
        cpu = (f"{row.cpu.consumer:.2f}", postgres, f"{row.cpu.broker:.2f}")
        return (row.consumer, *figures, *ages, *cpu)

    def ratio(row: Row) -> tuple[str, ...]:
        return (f"ratio {row.consumer} / bare", *[""] * 3, f"{row.rate / bare.rate:.3f}", *[""] * 5)

    head = ("consumer", "connections", "events", "published/s", "events/s", "age p50 s",
            "age p99 s", "cpu consumer", "cpu postgres", "cpu mosquitto")  # fmt: skip
    rows = [cells(row) for row in (bare, *bursts, paced)]
    return align([head, *rows, *(ratio(row) for row in bursts)])


def notes(ingest: Sequence[Row]) -> list[str]:
    return [
        "exactly once, checked after each IngestWorker round: cursors at each bank's last seq, "
        "events stored once and applied, an events/ack at each bank; redeliveries recognised: "
        f"{sum(row.duplicates for row in ingest)}.",
        "published/s: the banks, first publish to last PUBACK; events/s: received (bare) or "
        "stored in PostgreSQL (IngestWorker), first event to last.",
        "age: from a bank publishing an event to the worker storing it; in a burst, mostly the "
        f"wait behind the backlog. The paced round: {PACED_SHARE:.0%} of one worker's burst rate.",
        "cpu: cores used (CPU seconds over wall seconds) from the first publish until the "
        f"consumer had every event; everything shares this machine's {os.cpu_count()} cores.",
    ]


def versions(database_url: str, broker: Broker) -> str:
    with psycopg.connect(database_url) as db:
        postgres = str(scalar(db, "SHOW server_version")).split()[0]
    libraries = ("aiomqtt", "paho-mqtt", "SQLAlchemy", "psycopg")
    return (
        f"Python {platform.python_version()} ({platform.machine()}, {platform.system()}, "
        f"{os.cpu_count()} cores)  PostgreSQL {postgres}  Mosquitto {broker.version}  "
        + "  ".join(f"{name} {version(name)}" for name in libraries)
    )


def header(banks: int, plan: Plan, versions_line: str) -> str:
    return (
        f"smartlocker ingest benchmark  {date.today().isoformat()}  {versions_line}  "
        f"{banks} banks connected from {LOADERS} load processes  events per bank per burst: "
        f"{plan.events}  ingest lanes per worker: {LANES}"
    )


# --- entry point --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run for CI: {QUICK.events} event per bank and one worker process (not "
        f"{FULL.events}, and one then two), {QUICK.paced_s:g} s paced (not {FULL.paced_s:g} s)",
    )
    parser.add_argument(
        "--banks",
        type=int,
        default=BANKS,
        help=f"simulated banks (default {BANKS}; fewer only to try things out)",
    )
    parser.add_argument(
        "--postgres",
        default=PG_ADMIN,
        help=f"a PostgreSQL URL allowed to create databases (default {PG_ADMIN})",
    )
    return parser.parse_args(argv)


def terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds as Ctrl-C does: children, broker and database go


def measure(
    args: argparse.Namespace, plan: Plan, banks: list[str]
) -> tuple[Row, list[Row], Row, list[str]]:
    setup: list[str] = []
    with (
        tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp,
        fresh_database(args.postgres) as database_url,
    ):
        started = time.perf_counter()
        populate(database_url, banks)
        setup.append(
            f"database: {len(banks)} banks with {len(LABELS)} compartments and {HISTORY} past "
            f"events each, written in {time.perf_counter() - started:.1f} s"
        )
        with mosquitto(Path(tmp)) as broker, children(broker) as kids:
            print(header(len(banks), plan, versions(database_url, broker)), flush=True)
            limit = open_files_limit(broker.pid)
            if not limit.isdigit() or int(limit) < len(banks) + SPARE_FDS:
                raise BenchmarkError(f"mosquitto may open {limit} descriptors only")
            share = math.ceil(len(banks) / LOADERS)
            loaders = [
                kids.start(
                    f"load process {n + 1}",
                    load_process,
                    broker.port,
                    banks[n * share : (n + 1) * share],
                )
                for n in range(LOADERS)
            ]
            opened = [loader.expect(Connected, timeout=STALL_S * 10) for loader in loaders]
            setup.append(
                f"connections: {sum(c.banks for c in opened)} opened in "
                f"{max(c.seconds for c in opened):.1f} s; descriptors: mosquitto {limit}, "
                f"load processes {raise_nofile(NOFILE)}"
            )
            run = Run(kids, loaders, broker, database_url, banks)
            bare = bare_round(run, plan.events)
            bursts = [burst_round(run, workers, plan.events) for workers in plan.workers]
            paced = paced_round(run, bursts[0].rate * PACED_SHARE, plan.paced_s)
            for loader in loaders:
                loader.send(Stop())
    return bare, bursts, paced, setup


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    banks = bank_ids(args.banks)
    limit = raise_nofile(NOFILE)  # inherited by mosquitto and the children
    if limit < len(banks) + SPARE_FDS:
        print(
            f"benchmark failed: {len(banks)} connections need {len(banks) + SPARE_FDS} "
            f"descriptors, the hard limit allows {limit} (ulimit -Hn)",
            file=sys.stderr,
        )
        return 1
    signal.signal(signal.SIGTERM, terminated)
    try:
        bare, bursts, paced, setup = measure(args, plan, banks)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        return 130
    for line in [*table(len(banks), bare, bursts, paced), *notes([*bursts, paced]), *setup]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
