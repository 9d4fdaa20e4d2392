"""Both ends of the link in one event loop, over a real broker: the cloud's database and
ingest worker, and banks with a store and an ``EdgeLink`` each (doors optional)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from cloud.core.config import Settings
from cloud.core.db import make_engine
from cloud.link.worker import IngestWorker
from cloud.models import Bank, BankCursor, Compartment, Operator, Site, Size
from controller.codes import load_or_create_key
from controller.commands import CommandRunner, Opener
from controller.config import EdgeConfig, LinkSpec, load_config
from controller.daemon import seed_compartments
from controller.flows import Flows
from controller.link import EdgeLink
from controller.store import emit, open_store, transaction
from locker_contract.events import Event
from locker_contract.tasks import cancel_all
from tests.cloud.conftest import secret
from tests.controller.conftest import SIZES, config_text
from tests.databases import migrated
from tests.waiting import until

__all__ = [
    "FAST_LINK",
    "CloudSide",
    "EdgeSide",
    "Rig",
    "applied_seq",
    "cloud_database",
    "fast_settings",
    "rows",
    "set_link",
    "until",  # the one way to wait, from tests.waiting
]

T = TypeVar("T", bound=SQLModel)

FAST_LINK = {
    "heartbeat_s": 0.3,
    "resend_after_s": 1.0,
    "backoff_base_s": 0.05,
    "backoff_cap_s": 0.5,
    "resync_jitter_s": 0.05,
    "state_every_s": 0.1,
}


def fast_settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, secret_key=secret(), command_retry_s=0.5,
        command_poll_s=0.05, heartbeat_timeout_s=2.0, ingest_lanes=2,
    )  # fmt: skip


def cloud_database(url: str, bank_ids: list[str]) -> Engine:
    """A migrated cloud database with one site holding ``bank_ids`` (A01-A08, B01-B08 each)."""
    migrated(url)
    engine = make_engine(url)
    with Session(engine) as s:
        s.add(Operator(id="op", name="Operator"))
        s.flush()
        s.add(Site(id="site", operator_id="op", name="Maple Court", lat=31.2, lon=121.4))
        s.flush()
        for bank_id in bank_ids:
            s.add(Bank(id=bank_id, site_id="site", name=bank_id))
            s.flush()
            s.add(BankCursor(bank_id=bank_id))
            for row in "AB":
                for n, size in enumerate(SIZES, start=1):
                    s.add(Compartment(bank_id=bank_id, label=f"{row}{n:02d}", size=size,
                                      size_rank=Size(size).rank, low=n <= 2))  # fmt: skip
        s.commit()
    return engine


@dataclass
class CloudSide:
    engine: Engine
    settings: Settings
    broker: str
    name: str = "1"  # the worker's client id: two workers need two names
    worker: IngestWorker | None = None
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.worker = IngestWorker(self.engine, self.settings, self.broker, name=self.name)
        self.task = asyncio.create_task(self.worker.run())

    async def stop(self) -> None:
        await _cancel(self.task)
        self.task = None


@dataclass
class EdgeSide:
    """A bank's store and link, without doors unless ``opener`` gives them."""

    config: EdgeConfig
    engine: Engine
    key: bytes
    opener: Callable[[], Opener | None] = lambda: None
    link: EdgeLink | None = None
    task: asyncio.Task[None] | None = None
    emitted: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, folder: Path, bank_id: str, broker: str) -> EdgeSide:
        folder.mkdir(parents=True, exist_ok=True)
        text = config_text("/dev/null", folder / "edge.db").replace("maple-court-3", bank_id)
        spec = "\n".join(f"{k} = {v}" for k, v in FAST_LINK.items())
        path = folder / "edge.toml"
        path.write_text(f'{text}\n[link]\nbroker = "{broker}"\n{spec}\n')
        config = load_config(path)
        engine = open_store(config.bank.database)
        seed_compartments(config, engine)
        return cls(config, engine, load_or_create_key(folder / "bank.key"))

    def start(self) -> None:
        assert self.config.link is not None
        flows = Flows(self.engine, self.config, self.key)
        runner = CommandRunner(self.engine, self.key, self.opener)
        self.link = EdgeLink(self.engine, self.config.bank.id, self.config.link,
                             runner=runner, snapshot=flows.snapshot)  # fmt: skip
        self.task = asyncio.create_task(self.link.run())

    async def stop(self) -> None:
        await _cancel(self.task)
        self.task = None

    def emit(self, *events: Event) -> None:
        with transaction(self.engine) as s:
            for event in events:
                emit(s, event)
        if self.link is not None:
            self.link.nudge()


@dataclass
class Rig:
    """What a link test opens, closed by ``close`` (the ``rig`` fixture's teardown) even when the
    test fails: links and workers cancelled, then the database calls the workers had begun on
    threads awaited (a cancelled ``asyncio.to_thread`` does not stop its thread), then every
    engine disposed, before the fixture that made a PostgreSQL database drops it."""

    folder: Path
    engines: list[Engine] = field(default_factory=list)
    sides: list[CloudSide | EdgeSide] = field(default_factory=list)
    _threads: ThreadPoolExecutor | None = None

    def database(self, url: str, bank_ids: list[str]) -> Engine:
        engine = cloud_database(url, bank_ids)
        self.engines.append(engine)
        return engine

    def cloud(self, engine: Engine, settings: Settings, broker: str, name: str = "1") -> CloudSide:
        self._own_threads()
        side = CloudSide(engine, settings, broker, name)
        self.sides.append(side)
        return side

    def edge(self, bank_id: str, broker: str, folder: Path | None = None) -> EdgeSide:
        side = EdgeSide.create(folder or self.folder / bank_id, bank_id, broker)
        self.engines.append(side.engine)
        self.sides.append(side)
        return side

    def _own_threads(self) -> None:
        """The loop's default executor (where ``to_thread`` runs) becomes one this rig shuts."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(thread_name_prefix="rig")
            asyncio.get_running_loop().set_default_executor(self._threads)

    async def close(self) -> None:
        for side in reversed(self.sides):
            await side.stop()
        if self._threads is not None:
            asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor())
            await asyncio.to_thread(self._threads.shutdown, wait=True)
        for engine in self.engines:
            engine.dispose()


def set_link(spec: LinkSpec, **changes: object) -> LinkSpec:
    return spec.model_copy(update=changes)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        await cancel_all([task])


def applied_seq(cloud: Engine, bank_id: str) -> int:
    with Session(cloud) as s:
        return s.get_one(BankCursor, bank_id).applied_seq


def rows(engine: Engine, model: type[T], *where: Any) -> list[T]:
    with Session(engine) as s:
        return list(s.exec(select(model).where(*where)))
