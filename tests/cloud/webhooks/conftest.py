"""A fleet with carriers sf and jd, a bank's events through the real ingest, webhook senders on
an injected clock, and real HTTP receivers on loopback (allow-listed explicitly)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from cloud.clock import FixedClock
from cloud.core.db import transaction
from cloud.services.ingest import ingest_event
from cloud.webhooks.config import Policy
from cloud.webhooks.tables import DeliveryState, WebhookDelivery
from cloud.webhooks.targets import networks
from cloud.webhooks.worker import Worker
from locker_contract.events import (
    Envelope,
    Event,
    ParcelDeposited,
    ParcelPickedUp,
    ParcelRefused,
    ParcelReturned,
)
from locker_contract.storage import StoragePolicy
from tests.cloud.conftest import Cloud, fleet
from tests.cloud.webhooks.receiver import Receiver, running

BANK = "maple"
LOOPBACK = ("127.0.0.0/8",)
QUICK = Policy(base_s=1.0, cap_s=4.0, breaker_after=3, breaker_open_s=10.0, offline_after_s=600)


@dataclass
class World:
    cloud: Cloud
    engine: Engine
    seq: int = 0
    parcels: dict[str, uuid.UUID] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)

    def endpoint(
        self, carrier: str, receiver: Receiver, events: list[str] | None = None
    ) -> dict[str, object]:
        """An endpoint of ``carrier`` on ``receiver``, whose secret the receiver verifies with."""
        body = {"url": receiver.url(f"/{carrier}"), "events": events or []}
        made: dict[str, object] = self.cloud.ok(
            "POST", "/api/v1/webhooks", self.cloud.keys[carrier], json=body
        )
        receiver.secrets.append(str(made["secret"]))
        return made

    def bank(self, event: Event, at: datetime | None = None) -> Envelope:
        """``event`` from the bank, through the real ingest; ``at``: the bank's time."""
        self.seq += 1
        envelope = Envelope(
            event_id=uuid.uuid4(),
            bank_id=BANK,
            seq=self.seq,
            time=at or datetime.now(UTC),
            event=event,
        )
        ingest_event(self.engine, envelope)
        return envelope

    def announce(self, waybill: str, carrier: str = "sf") -> None:
        body = {
            "waybill": waybill,
            "bank_id": BANK,
            "recipient_phone": "13800138000",
            "consent": "recipient_app",
        }
        self.cloud.ok("POST", "/api/v1/parcels", self.cloud.keys[carrier], json=body)

    def deposit(
        self,
        waybill: str,
        label: str,
        carrier: str = "sf",
        kept: tuple[datetime, StoragePolicy] | None = None,
    ) -> Envelope:
        """``kept``: when the door shut on it and the storage policy, if the bank says."""
        self.parcels[waybill] = uuid.uuid4()
        return self.bank(
            ParcelDeposited(
                parcel_id=self.parcels[waybill],
                waybill=waybill,
                carrier=carrier,
                courier_id="nobody",
                compartment=label,
                recipient_phone="13800138000",
                group_id=uuid.uuid4(),
                sealed_code=None,
                consent="recipient_app",
                flagged_for_review=False,
                deposited_at=None if kept is None else kept[0],
                storage=None if kept is None else kept[1],
            )
        )

    def pick_up(self, waybill: str, label: str) -> Envelope:
        parcel = self.parcels[waybill]
        return self.bank(ParcelPickedUp(parcel_id=parcel, waybill=waybill, compartment=label))

    def refuse(self, waybill: str, reason: str) -> Envelope:
        parcel = self.parcels[waybill]
        return self.bank(ParcelRefused(parcel_id=parcel, waybill=waybill, reason=reason))

    def collect(self, waybill: str) -> Envelope:
        parcel = self.parcels[waybill]
        return self.bank(ParcelReturned(parcel_id=parcel, waybill=waybill, courier_id="c1"))

    def worker(self, allow: tuple[str, ...] = LOOPBACK, policy: Policy = QUICK) -> Worker:
        clock = FixedClock(datetime.now(UTC))  # near the receiver's: it checks the timestamp
        secret = self.cloud.settings.secret_key
        worker = Worker(self.engine, secret, networks(allow), policy, clock, random.Random(16))
        self.workers.append(worker)
        return worker


def drain(worker: Worker, rounds: int = 50, advance_s: float = QUICK.cap_s) -> None:
    """Step ``worker`` until no delivery is pending, moving its clock ``advance_s`` between
    steps (past backoffs and open circuits)."""
    for _ in range(rounds):
        worker.step()
        with transaction(worker.engine) as s:
            query = select(WebhookDelivery.id).where(WebhookDelivery.state == DeliveryState.PENDING)
            if s.exec(query).first() is None:
                return
        advance(worker, advance_s)
    raise AssertionError(f"deliveries still pending after {rounds} rounds")


def advance(worker: Worker, seconds: float) -> None:
    clock = worker.clock
    assert isinstance(clock, FixedClock)
    clock.advance(seconds)


@pytest.fixture
def world(cloud: Cloud) -> Iterator[World]:
    fleet(cloud, {BANK: {"S": 2, "M": 2}})
    engine = getattr(cloud.client.app, "state").engine  # noqa: B009 (the ASGI app is typed loosely)
    assert isinstance(engine, Engine)
    made = World(cloud, engine)
    yield made
    for worker in made.workers:
        worker.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running(Receiver())


@pytest.fixture
def other_receiver() -> Iterator[Receiver]:
    yield from running(Receiver())
