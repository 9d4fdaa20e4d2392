"""The consumers: the bare subscriber that only counts, and the cloud's ingest worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from multiprocessing.connection import Connection

import aiomqtt

from benchmarks.ingest.config import BARE_GROUP, LANES, STALL_S
from benchmarks.ingest.messages import Ready, Received, WorkerReport
from benchmarks.ingest.services import quiet_child
from cloud.core import heap
from cloud.core.config import Settings
from cloud.core.db import make_engine
from cloud.link.worker import IngestWorker
from locker_contract.topics import Channel, every_bank, shared


def bare_process(conn: Connection, port: int, expected: int, callback: bool) -> None:
    quiet_child()
    asyncio.run(bare(conn, port, expected, callback))


async def bare(conn: Connection, port: int, expected: int, callback: bool) -> None:
    """Count messages, nothing else. MQTT 5 and the worker's kind of (shared) subscription, but
    a clean session, so that nothing is queued for it once it has gone. Counted as aiomqtt's
    iterator hands them out, or, with ``callback``, in paho's callback as the worker reads
    them (decision 0033)."""
    count, first, last = 0, 0.0, 0.0
    every = asyncio.Event()
    client = aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier="bench-bare",
        timeout=10.0,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=True,
    )

    def counted() -> None:
        nonlocal count, first, last
        count += 1
        if count == 1:
            first = time.time()
        if count >= expected:
            last = time.time()
            every.set()

    if callback:
        client._client.on_message = lambda _paho, _data, _message: counted()
    async with client:
        await client.subscribe(shared(BARE_GROUP, every_bank(Channel.EVENTS)), qos=1)
        conn.send(Ready())

        async def consume() -> None:
            if callback:
                await every.wait()
                return
            async for _ in client.messages:
                counted()
                if every.is_set():
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
    heap.settle()  # as ``locker cloud ingest`` does
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
