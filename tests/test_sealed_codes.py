"""No plain pickup code at rest, anywhere (issue 11, item 6; decision 0011).

One deposit and its pickup through a linked bank (the edge daemon on the twin) and the cloud's
ingest worker, over a Mosquitto of the test's own with persistence on, on SQLite and PostgreSQL.
The deposit's event waits at the broker while the cloud is down, and the broker is stopped so
that its persistence file holds it. Afterwards every file the run produced (the bank's database,
WAL and shared memory; the cloud's database file or, on PostgreSQL, every table dumped; the
broker's persistence file and log) and every log record at DEBUG is searched for the code: it is
nowhere, while the recipient's message, opened with the notifier's private key, gives the code
that opened the door.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, select

from cloud.models import Bank as CloudBank
from cloud.models import Carrier as CloudCarrier
from cloud.models import CloudModel, Notification, Parcel
from cloud.services.notices import open_notification
from controller import admin
from controller.config import Size, load_config
from controller.daemon import Edge
from controller.store import Outbox, transaction
from hil_sim import Simulator
from hil_sim.door import DoorState
from locker_contract import sealing
from locker_contract.topics import Channel, topic
from tests.brokers import Mosquitto
from tests.controller.conftest import FAST_POLICY, config_text
from tests.linkbench import FAST_LINK, CloudSide, cloud_database, fast_settings, until

BANK = "maple-court-3"
PHONE = "13800138000"

pytestmark = [pytest.mark.pty, pytest.mark.slow]


def bank_config(folder: Path, port: str, broker: str, public_key: str) -> Path:
    link = "\n".join(f"{k} = {v}" for k, v in FAST_LINK.items())
    path = folder / "edge.toml"
    path.write_text(config_text(port, folder / "edge.db", extra=FAST_POLICY)
                    + f'\n[link]\nbroker = "{broker}"\nnotify_public_key = "{public_key}"\n'
                    + link + "\n")  # fmt: skip
    return path


@contextlib.asynccontextmanager
async def watching(broker: Mosquitto) -> AsyncIterator[list[bytes]]:
    """The bank's events as a bystander subscribed to them sees them (no session kept)."""
    seen: list[bytes] = []

    async def watch() -> None:
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            await client.subscribe(topic(BANK, Channel.EVENTS), qos=1)
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                seen.append(message.payload)

    task = asyncio.create_task(watch())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def door_of(label: str) -> tuple[int, int]:
    return 1 + "AB".index(label[0]), int(label[1:])


async def shut_when_open(sim: Simulator, label: str) -> None:
    board, lock = door_of(label)
    await until(lambda: sim.door(board, lock).state is DoorState.OPEN, what=f"door {label} open")
    assert sim.close_door(board, lock)


def deposited_bodies(edge: Edge) -> list[str]:
    with transaction(edge.engine) as s:
        rows = s.exec(select(Outbox).where(Outbox.type == "parcel.deposited"))
        return [r.body for r in rows]


def cloud_dump(engine: Engine) -> str:
    """Every row of every cloud table, as text: what the cloud's database holds."""
    with engine.connect() as conn:
        tables = [
            f"{table.name}: {row!r}"
            for table in CloudModel.metadata.sorted_tables
            for row in conn.execute(text(f'SELECT * FROM "{table.name}"'))
        ]
    return "\n".join(tables)


def files_under(folder: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def holding(needle: bytes, files: dict[Path, bytes]) -> list[Path]:
    return [path for path, content in files.items() if needle in content]


def notice_for(engine: Engine, waybill: str) -> Notification | None:
    with Session(engine) as s:
        query = select(Notification).where(Notification.waybill == waybill)
        return s.exec(query).first()


def parcel_status(engine: Engine, waybill: str) -> str | None:
    with Session(engine) as s:
        parcel = s.exec(select(Parcel).where(Parcel.waybill == waybill)).first()
        return None if parcel is None else parcel.status


def bank_online(engine: Engine) -> bool:
    with Session(engine) as s:
        return s.get_one(CloudBank, BANK).online


@dataclass
class Run:
    """Everything one run starts, and the files it writes under ``folder``."""

    folder: Path
    broker: Mosquitto
    cloud: CloudSide
    sim: Simulator
    edge: Edge

    @property
    def engine(self) -> Engine:
        return self.cloud.engine

    async def deposit(self, waybill: str) -> str:
        """Sign in, deposit, shut the door; the compartment's label once it is recorded."""
        courier = self.edge.flows.sign_in("sf-0042", "24682468")
        started = await self.edge.flows.start_deposit(
            courier, waybill=waybill, phone=PHONE, size=Size.M, consent="phone_call"
        )
        label = str(started.compartment)
        await shut_when_open(self.sim, label)
        done = lambda: self.edge.flows.deposit(started.id).state == "recorded"  # noqa: E731
        await until(done, what="the deposit recorded")
        return label

    async def deposit_while_the_cloud_is_down(self, waybill: str) -> tuple[str, str, bytes]:
        """The cloud's worker has a session at the broker but is gone: the deposit's event waits
        there, and a clean stop writes it to the broker's file. The label, the sealed code the
        event carries and that file."""
        await until(lambda: bank_online(self.engine), what="the cloud subscribed")
        await self.cloud.stop()
        async with watching(self.broker) as seen:
            label = await self.deposit(waybill)
            [body] = deposited_bodies(self.edge)
            sealed = str(json.loads(body)["sealed_code"])
            published = lambda: any(sealed.encode() in p for p in seen)  # noqa: E731
            await until(published, what="parcel.deposited at the broker")
        self.broker.stop()
        persisted = (self.folder / "mosquitto" / "mosquitto.db").read_bytes()
        self.broker.start()
        self.cloud.start()
        return label, sealed, persisted

    async def message_for(self, waybill: str, private: str) -> str:
        """What the notifier sends the recipient: the notice opened with its private key."""
        await until(lambda: notice_for(self.engine, waybill) is not None, what="the notice")
        notice = notice_for(self.engine, waybill)
        assert notice is not None
        return open_notification(notice, sealing.private_key(private))

    async def pick_up(self, code: str, label: str, waybill: str) -> None:
        [door] = await self.edge.flows.pickup(code)
        assert (door.compartment, door.outcome) == (label, "opened")
        await shut_when_open(self.sim, label)
        gone = lambda: parcel_status(self.engine, waybill) == "picked_up"  # noqa: E731
        await until(gone, what="the parcel picked up in the cloud")
        await until(lambda: not deposited_bodies(self.edge), what="the outbox acknowledged")

    async def stop(self) -> None:
        await self.edge.stop()
        await self.cloud.stop()
        pool = self.cloud.engine.pool  # a batch the worker had in a thread may still hold one
        assert isinstance(pool, QueuePool)
        await until(lambda: pool.checkedout() == 0, what="the cloud's connections back")
        self.cloud.engine.dispose()
        self.broker.stop()
        self.sim.stop()


@contextlib.asynccontextmanager
async def linked_run(database_url: str, folder: Path, public: str) -> AsyncIterator[Run]:
    """Mosquitto (persistence on), the cloud's worker, and a bank whose link seals for
    ``public``, with courier sf-0042 of sf-express."""
    broker = Mosquitto(folder / "mosquitto").start()
    engine = cloud_database(database_url, [BANK])
    with Session(engine) as s:
        s.add(CloudCarrier(id="sf-express", name="SF Express"))
        s.commit()
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    (folder / "bank").mkdir()
    edge = Edge(load_config(bank_config(folder / "bank", sim.start(), broker.url, public)))
    run = Run(folder, broker, CloudSide(engine, fast_settings(database_url), broker.url), sim, edge)
    try:
        await edge.start()
        run.cloud.start()
        with transaction(edge.engine) as s:
            admin.add_courier(s, edge.key, courier_id="sf-0042", carrier="sf-express",
                              pin="24682468", ttl_h=72, now=edge.clock.wall())  # fmt: skip
        yield run
    finally:
        await run.stop()


async def test_a_deposit_and_pickup_leave_the_code_nowhere(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger...
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # ...SQLAlchemy's statements and rows
    public, private = sealing.new_key_pair()
    async with linked_run(database_url, tmp_path, public) as run:
        label, sealed, persisted = await run.deposit_while_the_cloud_is_down("SF1008611")
        assert sealed.encode() in persisted  # the broker's file holds the event...
        message = await run.message_for("SF1008611", private)
        code = message.rpartition("Pickup code: ")[2]
        assert (code.isdigit(), len(code)) == (True, 8)
        assert code.encode() not in persisted  # ...sealed, never in plain
        await run.pick_up(code, label, "SF1008611")  # the code the recipient got opens the door
        notice = notice_for(run.engine, "SF1008611")
        assert notice is not None
        assert notice.sealed_code is None  # the parcel left: purged
        live = files_under(tmp_path)  # the bank's database, WAL and shared memory, running
        bank = tmp_path / "bank"
        assert {bank / "edge.db", bank / "edge.db-wal", bank / "edge.db-shm"} <= set(live)
        assert holding(b"SF1008611", live)  # the search finds what is there...
        assert holding(code.encode(), live) == []  # ...and the code is not
        dump = cloud_dump(run.engine)
        assert "SF1008611" in dump
        assert code not in dump
    left = files_under(tmp_path)  # after the stop: the broker wrote its file again
    assert {tmp_path / "mosquitto" / "mosquitto.db", tmp_path / "bank" / "edge.db"} <= set(left)
    assert holding(code.encode(), left) == []
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert "INSERT INTO notification" in logged  # the records were captured: SQL at least
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert code not in logged
