"""The cloud of ``locker demo``: the embedded broker (amqtt), a SQLite fleet database and the
ingest worker, all in this process; nothing to install, nothing left behind."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nacl.public import PrivateKey
    from sqlalchemy import Engine

    from cloud.core.config import Settings

BANK = "maple-court-3"
CARRIERS = {"sf-express": "SF Express", "jd": "JD Logistics"}
SIZES = ["S", "S", "M", "M", "L", "L", "XL", "XL"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoCloud:
    broker: str
    engine: Engine
    notify_public_key: str  # for the bank's [link]: it seals each pickup code with it
    notify_key: PrivateKey  # the demo notifier's own, freshly made: opens the sealed codes
    settings: Settings  # the notifier's among them: its development outbox in the folder

    @property
    def secret_key(self) -> str:  # the cloud's: couriers' codes are derived from it, never stored
        return self.settings.secret_key

    def courier_code(self, carrier_id: str, courier_id: str, bank: str = BANK) -> str:
        """The operator offers the carrier a share of the bank, the carrier accepts it (its
        courier's codes go to the bank only now), and the courier fetches today's code for this
        bank: 8 digits that open no other bank, and this one only today (decision 0010)."""
        from cloud.models import Role
        from cloud.services import carriers, fleet
        from cloud.services.auth import Principal

        operator = Principal(key_id="demo-operator", role=Role.ADMIN)
        carrier = Principal(key_id=f"demo-{carrier_id}", role=Role.CARRIER, carrier_id=carrier_id)
        fleet.set_policy(self.engine, operator, bank, carrier_id, guaranteed=0, ceiling=8)
        if all(c.id != courier_id for c in carriers.couriers(self.engine, carrier)):
            carriers.add_courier(
                self.engine, carrier, self.secret_key, courier_id=courier_id, name=""
            )
        carriers.accept_share(self.engine, carrier, bank)
        [today] = carriers.day_codes(self.engine, carrier, self.secret_key, bank)
        return today.code

    def events(self) -> list[dict[str, object]]:
        """The bank's events as the cloud applied them, in order."""
        from sqlmodel import Session, col, select

        from cloud.models import InboundEvent

        with Session(self.engine) as s:
            query = select(InboundEvent).where(col(InboundEvent.applied))
            rows = s.exec(query.order_by(col(InboundEvent.seq)))
            return [{"seq": r.seq, "type": r.type, **r.body} for r in rows]

    def parcels_told(self) -> int:
        """The parcels the recipients' messages waiting to go tell of."""
        from sqlmodel import Session, func, select

        from cloud.messaging.tables import NotificationParcel

        with Session(self.engine) as s:
            return s.exec(select(func.count()).select_from(NotificationParcel)).one()

    async def deliver(self) -> list[str]:
        """One pass of the notifier (``locker cloud notify``), through the development outbox:
        the messages as recipients receive them (the database keeps each code sealed, and only
        until it is sent)."""
        from cloud.clock import SystemClock
        from cloud.messaging.channels import read_outbox
        from cloud.messaging.dispatcher import Dispatcher
        from cloud.messaging.setup import channels

        made = channels(self.settings)
        dispatcher = Dispatcher(
            self.engine, self.settings, self.notify_key, made, clock=SystemClock()
        )
        await dispatcher.pass_once()
        return read_outbox(self.settings.notify_outbox_dir)

    def alarms(self) -> list[str]:
        from sqlmodel import Session, select

        from cloud.models import Alarm

        with Session(self.engine) as s:
            return [f"{a.kind} {a.compartment}".strip() for a in s.exec(select(Alarm))]

    def online(self) -> bool:
        from sqlmodel import Session

        from cloud.models import Bank

        with Session(self.engine) as s:
            return s.get_one(Bank, BANK).online

    def command(self, type_: str, payload: dict[str, object]) -> str:
        from cloud.core.db import transaction
        from cloud.services.commands import enqueue_command
        from locker_contract.commands import CommandAdapter

        command = CommandAdapter.validate_python({"type": type_, **payload})
        with transaction(self.engine) as s:
            return enqueue_command(s, BANK, command).id

    def answer(self, command_id: str) -> str | None:
        from sqlmodel import Session

        from cloud.models import CommandAck

        with Session(self.engine) as s:
            ack = s.get(CommandAck, command_id)
            return None if ack is None else f"{ack.outcome} {ack.detail}".strip()


def _fleet(engine: Engine, banks: Sequence[str]) -> None:
    from sqlmodel import Session

    from cloud.models import Bank, BankCursor, Carrier, Compartment, Operator, Site, Size

    with Session(engine) as s:
        s.add(Operator(id="estates", name="Estates Ltd"))
        s.flush()
        site = Site(
            id="maple-court",
            operator_id="estates",
            name="Maple Court",
            address="1 Maple Road, Shanghai",
            timezone="Asia/Shanghai",
            lat=31.2,
            lon=121.4,
        )
        s.add(site)
        s.flush()
        for bank in banks:
            block = bank.rpartition("-")[2]
            s.add(Bank(id=bank, site_id="maple-court", name=f"Maple Court, block {block}"))
            s.flush()
            s.add(BankCursor(bank_id=bank))
            for row in "AB":
                for n, size in enumerate(SIZES, start=1):
                    label = f"{row}{n:02d}"
                    rank = Size(size).rank
                    s.add(Compartment(bank_id=bank, label=label, size=size, size_rank=rank))
        for carrier_id, name in CARRIERS.items():
            s.add(Carrier(id=carrier_id, name=name))
        s.commit()


@asynccontextmanager
async def demo_cloud(folder: Path, banks: Sequence[str] = (BANK,)) -> AsyncIterator[DemoCloud]:
    from cloud.core.config import Settings
    from cloud.core.db import make_engine
    from cloud.core.migrate import upgrade
    from cloud.link.embedded import embedded_broker
    from cloud.link.worker import IngestWorker
    from locker_contract import sealing
    from locker_contract.tasks import cancel_all

    url = f"sqlite:///{folder / 'cloud.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    _fleet(engine, banks)
    settings = Settings(
        database_url=url,
        secret_key=secrets.token_hex(32),
        command_poll_s=0.1,
        notify_channel="outbox",  # the messages as files, shown by the demo
        notify_outbox_dir=folder / "outbox",
        notify_coalesce_s=0,  # the demo sends when both parcels are in
    )
    async with embedded_broker(port=_free_port()) as broker:
        worker = asyncio.create_task(IngestWorker(engine, settings, broker).run())
        try:
            public, private = sealing.new_key_pair()
            key = sealing.private_key(private)
            yield DemoCloud(broker, engine, public, key, settings)
        finally:
            await cancel_all([worker])
            engine.dispose()
