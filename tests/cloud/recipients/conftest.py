"""A bank with one recipient's pickup group of two parcels (two carriers), ingested as the
bank reports them, and that group's signed link."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.models import Command
from cloud.recipients.links import make_token
from cloud.services.ingest import ingest_event
from locker_contract.events import Envelope, Event, ParcelDeposited
from tests.cloud.conftest import Cloud, fleet

BANK = "maple-court-3"
PHONE = "138-0013-8000"


@dataclass
class Group:
    cloud: Cloud
    engine: Engine
    group_id: str
    token: str
    seq: int = 0

    @property
    def url(self) -> str:
        return f"/r/{self.token}"

    def report(self, event: Event) -> None:
        """The bank reports ``event``, as ingest would store and apply it."""
        self.seq += 1
        envelope = Envelope(event_id=uuid.uuid4(), bank_id=BANK, seq=self.seq,
                            time=datetime.now(UTC), event=event)  # fmt: skip
        ingest_event(self.engine, envelope)

    def commands(self, type_: str) -> list[dict[str, object]]:
        with Session(self.engine) as s:
            query = select(Command).where(Command.type == type_).order_by(col(Command.created_at))
            return [c.payload for c in s.exec(query)]


def edge_id(waybill: str) -> uuid.UUID:
    """The bank's id of the parcel ``waybill``: its later events name it so."""
    return uuid.uuid5(uuid.NAMESPACE_URL, waybill)


def deposited(group_id: str, waybill: str, carrier: str, label: str) -> ParcelDeposited:
    return ParcelDeposited(
        parcel_id=edge_id(waybill), waybill=waybill, carrier=carrier, courier_id="nobody",
        compartment=label, recipient_phone=PHONE, group_id=uuid.UUID(group_id),
        sealed_code=None, consent="recipient_app", flagged_for_review=False,
    )  # fmt: skip


@pytest.fixture
def group(cloud: Cloud) -> Group:
    fleet(cloud, {BANK: {"M": 4}})
    engine: Engine = cloud.engine
    group_id = str(uuid.uuid4())
    token = make_token(cloud.settings.secret_key, group_id, datetime.now(UTC) + timedelta(days=3))
    made = Group(cloud, engine, group_id, token)
    made.report(deposited(group_id, "SF1008611", "sf", "A01"))
    made.report(deposited(group_id, "JD2000", "jd", "A02"))
    return made
