"""A small fleet made through the API and ingest, for the read models' tests.

Operator "Estates" has site A (bank ``alpha``: A01-A02 S, A03-A04 M, A05 L) and site B (bank
``beta``: two M); operator "Other" has site C (bank ``gamma``). What ingest made at ``alpha``:
sf W1001 in A01 (picked up, then its door forced), jd W2002 in A02 (waiting), sf W3003 in A03
(refused), A05 taken out of service; sf holds A04 by reservation. ``beta`` holds
sf W9999, ``gamma`` jd W7777 (phone 13900009999, as W2002's ends differently).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from cloud.console.accounts.deps import Person, PersonRole
from cloud.console.views.scope import Viewer
from cloud.core.db import transaction
from cloud.models import Parcel, ParcelEvent, ParcelStatus, Site
from cloud.services.ingest import ingest_event
from locker_contract.events import (
    CompartmentService,
    DoorForcedOpen,
    Envelope,
    Event,
    ParcelDeposited,
    ParcelPickedUp,
    ParcelRefused,
)
from tests.cloud.conftest import Cloud, build_cloud, fleet

PHONES = {"W1001": "13800138000", "W2002": "13900001234", "W3003": "13700005678"}


def person(operator_id: str, site_ids: frozenset[str], *, admin: bool = False) -> Viewer:
    """A signed-in person (task B's ``Person``), as the read models take it."""
    role = PersonRole.OPERATOR_ADMIN if admin else PersonRole.SITE_MANAGER
    return Person("p1", "ann@example.com", "Ann", role, operator_id, site_ids)


@dataclass
class World:
    cloud: Cloud
    engine: Engine
    sites: dict[str, str]  # bank id -> its site id
    operators: dict[str, str]  # bank id -> its operator id
    seqs: dict[str, int] = field(default_factory=dict)

    def send(self, bank: str, event: Event, now: datetime | None = None) -> None:
        """``event`` from ``bank``, ingested at ``now`` (the system's time if None)."""
        self.seqs[bank] = self.seqs.get(bank, 0) + 1
        envelope = Envelope(
            event_id=uuid.uuid4(), bank_id=bank, seq=self.seqs[bank],
            time=now or datetime.now(UTC), event=event,
        )  # fmt: skip
        assert ingest_event(self.engine, envelope, now).applied_seq == self.seqs[bank]

    def deposit(self, bank: str, waybill: str, label: str, carrier: str, phone: str) -> None:
        self.send(bank, deposited(waybill, label, carrier, phone))

    def reader(self, *banks: str) -> Viewer:
        """A person of the first bank's operator who sees the sites of ``banks``: a site
        manager of one, an operator admin of several (every site of its operator, here)."""
        sites = frozenset(self.sites[b] for b in banks)
        return person(self.operators[banks[0]], sites, admin=len(banks) > 1)


def stamp(world: World, waybill: str, status: ParcelStatus, at: datetime) -> None:
    """Place the parcel's ``status`` event at ``at`` (ingest stamps it with the time it ran)."""
    with transaction(world.engine) as s:
        parcel = s.exec(select(Parcel.id).where(col(Parcel.waybill) == waybill)).one()
        query = update(ParcelEvent).where(
            col(ParcelEvent.parcel_id) == parcel, col(ParcelEvent.status) == status
        )
        s.execute(query.values(at=at))


def edge_id(waybill: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, waybill)


def deposited(waybill: str, label: str, carrier: str, phone: str) -> ParcelDeposited:
    return ParcelDeposited(
        parcel_id=edge_id(waybill), waybill=waybill, carrier=carrier, courier_id=f"{carrier}-c1",
        compartment=label, recipient_phone=phone, group_id=uuid.uuid4(), sealed_code=None,
        consent="recipient_app", flagged_for_review=False,
    )  # fmt: skip


@pytest.fixture
def bare(database_url: str) -> Iterator[World]:
    """The banks, sites and carriers, nothing in them yet."""
    for cloud in build_cloud(database_url):
        fleet(cloud, {"alpha": {"S": 2, "M": 2, "L": 1}, "beta": {"M": 2}})
        cloud.keys["estates"] = cloud.keys["operator"]
        fleet(cloud, {"gamma": {"M": 2}}, carriers=())
        engine: Engine = cloud.engine
        sites = {bank: cloud.keys[f"site:{bank}"]["id"] for bank in ("alpha", "beta", "gamma")}
        with Session(engine) as s:
            owners = dict(s.exec(select(Site.id, Site.operator_id)).all())
        yield World(cloud, engine, sites, {b: owners[site] for b, site in sites.items()})


@pytest.fixture
def world(bare: World) -> World:
    w = bare
    w.cloud.ok("POST", "/api/v1/couriers", w.cloud.keys["sf"], json={"id": "sf-c1"})  # jd's not
    w.deposit("alpha", "W1001", "A01", "sf", PHONES["W1001"])
    w.deposit("alpha", "W2002", "A02", "jd", PHONES["W2002"])
    w.deposit("alpha", "W3003", "A03", "sf", PHONES["W3003"])
    w.send("alpha", ParcelPickedUp(parcel_id=edge_id("W1001"), waybill="W1001", compartment="A01"))
    w.send("alpha", ParcelRefused(parcel_id=edge_id("W3003"), waybill="W3003", reason="refused"))
    w.send("alpha", DoorForcedOpen(compartment="A01"))
    w.send("alpha", CompartmentService(compartment="A05", in_service=False, reason="broken hinge"))
    w.deposit("beta", "W9999", "A01", "sf", "13600009999")
    w.deposit("gamma", "W7777", "A01", "jd", "13900009999")
    _hold(w)
    return w


def _hold(w: World) -> None:
    """sf's soft hold at alpha, through the sharing policy and the reservation API."""
    key = w.cloud.keys["estates"]
    w.cloud.ok("PUT", "/api/v1/banks/alpha/policies/sf", key, json={"guaranteed": 1, "ceiling": 2})
    w.cloud.ok("POST", "/api/v1/shares/alpha/accept", w.cloud.keys["sf"])
    body = {"bank_id": "alpha", "size": "M"}
    w.cloud.ok("POST", "/api/v1/reservations", w.cloud.keys["sf"], json=body)
