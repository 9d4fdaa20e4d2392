"""The load: processes holding the banks' connections and publishing when told."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection

from benchmarks.ingest.config import CONNECTING, KEEPALIVE_S
from benchmarks.ingest.messages import (
    Acked,
    AwaitAcks,
    Beat,
    Beating,
    Connected,
    Publish,
    Published,
    heartbeat,
    payloads,
)
from benchmarks.ingest.mqtt import PING_PACKET, SimBank
from benchmarks.ingest.services import quiet_child


def load_process(conn: Connection, port: int, banks: list[str]) -> None:
    quiet_child()
    asyncio.run(load(conn, port, banks))


async def keep_alive(banks: Sequence[SimBank]) -> None:
    while True:
        await asyncio.sleep(KEEPALIVE_S / 2)
        for bank in banks:
            if bank.transport is not None:
                bank.transport.write(PING_PACKET)


class Heartbeats:
    """Each bank's heartbeat every ``period_s``, the banks' turns spread evenly over it (as a
    fleet's edges, started at different times, are)."""

    def __init__(self, sims: Sequence[SimBank]) -> None:
        self.sims = sims
        self.task: asyncio.Task[None] | None = None
        self.sent = 0

    def set(self, period_s: float) -> int:
        """Start (or stop, at 0) the heartbeats; how many were sent since the last order."""
        if self.task is not None:
            self.task.cancel()
            self.task = None
        sent, self.sent = self.sent, 0
        if period_s > 0:
            self.task = asyncio.create_task(self.run(period_s), name="heartbeats")
        return sent

    async def run(self, period_s: float) -> None:
        step = period_s / len(self.sims)
        began = time.monotonic()
        turn = 0
        while True:
            sim = self.sims[turn % len(self.sims)]
            if sim.transport is not None:
                sim.beat(heartbeat(sim.last_seq))
                self.sent += 1
            turn += 1
            await asyncio.sleep(max(0.0, began + turn * step - time.monotonic()))


async def publish(sims: Sequence[SimBank], order: Publish) -> Published:
    """Every bank its events, all at once or each bank in its turn; built before the clock
    starts, so that the load's own work is only sending."""
    ready = [payloads(sim.bank_id, order.first_seq, order.count) for sim in sims]
    began = time.time()

    async def turn(n: int, sim: SimBank, events: list[bytes]) -> list[float]:
        await asyncio.sleep(began + n * order.interval_s - time.time())
        sent = await sim.publish(events)
        sim.last_seq = order.first_seq + order.count - 1
        return sent

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
    beats = Heartbeats(sims)
    try:
        while True:
            try:
                order = await asyncio.to_thread(conn.recv)
            except EOFError:  # the parent is gone
                break
            if isinstance(order, Beat):
                conn.send(Beating(beats.set(order.period_s)))
            elif isinstance(order, Publish):
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
        beats.set(0)
        for sim in sims:
            sim.close()
        await asyncio.sleep(0.1)  # let the DISCONNECTs go out
