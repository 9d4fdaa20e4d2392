"""One sharing rule at both ends: the cloud's reservations and the bank's walk-up deposits decide
alike on every bank state (``locker_contract.sharing``). Each generated state is written as rows
into the cloud's database (SQLite, built by the migrations) and into a bank's store; each side
counts its own rows and decides."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import col, delete, select

from cloud.core.db import make_engine, transaction
from cloud.models import (
    Bank,
    Carrier,
    Operator,
    ParcelStatus,
    Reservation,
    ShareState,
    SharingPolicy,
    Site,
)
from cloud.models import Compartment as CloudCompartment
from cloud.models import Parcel as CloudParcel
from cloud.services import allocation
from cloud.services.errors import Conflict
from controller import sharing
from controller.flows.bank import free_compartments
from controller.store import CarrierPolicy, Compartment, Hold, Parcel, open_store
from controller.store import transaction as edge_transaction
from locker_contract.sharing import BankCounts
from tests.cloud.conftest import Cloud, build_cloud, fleet
from tests.databases import migrated

CARRIERS = ("a", "b", "c")
BANK = "maple"

Content = tuple[Literal["parcel", "hold"], str] | None
Slot = tuple[bool, Content]  # in service?, what it holds
Policy = tuple[int, int]  # guaranteed, ceiling
State = tuple[list[Slot], dict[str, Policy], str]

contents = st.none() | st.tuples(st.sampled_from(["parcel", "hold"]), st.sampled_from(CARRIERS))
policies = st.integers(0, 3).flatmap(lambda g: st.tuples(st.just(g), st.integers(g, g + 3)))
states = st.tuples(
    st.lists(st.tuples(st.booleans(), contents), min_size=1, max_size=8),
    st.dictionaries(st.sampled_from(CARRIERS), policies),
    st.sampled_from(CARRIERS),
)
# the example issue 12 named: 4 compartments, a and b guaranteed 2 each, 2 out of service
NAMED: State = (
    [(True, None), (True, None), (False, None), (False, None)],
    {"a": (2, 4), "b": (2, 4)},
    "a",
)


@pytest.fixture
def cloud(database_url: str) -> Iterator[Cloud]:
    yield from build_cloud(database_url)


@pytest.fixture(scope="module")
def cloud_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cloud') / 'cloud.db'}"
    migrated(url)
    engine = make_engine(url)
    try:
        with transaction(engine) as s:
            operator = Operator(name="Estates")
            s.add(operator)
            s.flush()
            site = Site(operator_id=operator.id, name="Maple", lat=31.2, lon=121.4)
            s.add(site)
            s.flush()
            s.add(Bank(id=BANK, site_id=site.id))
            s.add_all(Carrier(id=c, name=c.upper()) for c in CARRIERS)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def edge_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = open_store(tmp_path_factory.mktemp("edge") / "edge.db")
    try:
        yield engine
    finally:
        engine.dispose()


def cloud_decides(engine: Engine, state: State) -> tuple[BankCounts, bool]:
    slots, shares, carrier = state
    with transaction(engine) as s:
        for table in (CloudParcel, Reservation, SharingPolicy, CloudCompartment):
            s.exec(delete(table))
        for n, (in_service, content) in enumerate(slots):
            s.add(
                CloudCompartment(
                    id=f"c{n}",
                    bank_id=BANK,
                    label=f"A{n:02d}",
                    size="M",
                    size_rank=1,
                    in_service=in_service,
                )
            )
            s.flush()
            s.add_all(_cloud_rows(n, content))
        s.add_all(
            SharingPolicy(
                bank_id=BANK, carrier_id=c, guaranteed=g, ceiling=top, state=ShareState.ACCEPTED
            )
            for c, (g, top) in shares.items()
        )
        s.flush()
        counts = allocation.sharing_counts(s, BANK)
        try:
            admitted = allocation._admit(s, BANK, carrier) is None
        except Conflict:
            admitted = False
    return counts, admitted


def _cloud_rows(n: int, content: Content) -> list[CloudParcel | Reservation]:
    if content is None:
        return []
    kind, owner = content
    if kind == "hold":
        return [
            Reservation(
                carrier_id=owner, bank_id=BANK, compartment_id=f"c{n}", size="M", kind="hard"
            )
        ]
    return [
        CloudParcel(
            carrier_id=owner,
            waybill=f"W{n}",
            bank_id=BANK,
            recipient_phone="138",
            consent="phone_call",
            status=ParcelStatus.IN_LOCKER,
            compartment_id=f"c{n}",
        )
    ]


def edge_decides(engine: Engine, state: State) -> tuple[BankCounts, bool]:
    slots, shares, carrier = state
    with edge_transaction(engine) as s:
        for table in (Parcel, Hold, CarrierPolicy, Compartment):
            s.exec(delete(table))
        for n, (in_service, content) in enumerate(slots):
            s.add(Compartment(label=f"A{n:02d}", size="M", in_service=in_service))
            s.flush()
            s.add_all(_edge_rows(n, content))
        s.add_all(
            CarrierPolicy(carrier=c, guaranteed=g, ceiling=top) for c, (g, top) in shares.items()
        )
        s.flush()
        free = free_compartments(s, carrier=carrier)
        counts = sharing.counts(s, free)
        unheld = {c.label for c in free} - set(sharing.holders(s))
        admitted = bool(unheld) and unheld <= {
            c.label for c in sharing.admissible(s, carrier, free)
        }
    return counts, admitted


def _edge_rows(n: int, content: Content) -> list[Parcel | Hold]:
    if content is None:
        return []
    kind, owner = content
    label = f"A{n:02d}"
    if kind == "hold":
        return [Hold(reservation_id=f"r{n}", compartment=label, carrier=owner)]
    return [
        Parcel(
            waybill=f"W{n}",
            carrier=owner,
            courier_id="x",
            recipient_phone="138",
            compartment=label,
            consent="phone_call",
        )
    ]


@given(states)
@example(NAMED)
def test_the_cloud_and_the_bank_decide_alike(
    cloud_engine: Engine, edge_engine: Engine, state: State
) -> None:
    cloud_counts, cloud_admits = cloud_decides(cloud_engine, state)
    edge_counts, edge_admits = edge_decides(edge_engine, state)
    assert cloud_counts == edge_counts
    assert cloud_admits == edge_admits


def test_the_named_example_at_the_bank_admits_the_carrier(edge_engine: Engine) -> None:
    """Before issue 12 the bank refused ``a`` (``b`` is owed 2) and ``b`` (``a`` is)."""
    slots, shares, _ = NAMED
    assert edge_decides(edge_engine, (slots, shares, "a"))[1]
    assert edge_decides(edge_engine, (slots, shares, "b"))[1]


def test_the_named_example_through_the_cloud_api(cloud: Cloud) -> None:
    fleet(cloud, {BANK: {"M": 4}})
    operator = cloud.keys["operator"]
    for carrier in ("sf", "jd"):
        policy = {"guaranteed": 2, "ceiling": 4}
        cloud.ok("PUT", f"/api/v1/banks/{BANK}/policies/{carrier}", operator, json=policy)
        cloud.ok("POST", f"/api/v1/shares/{BANK}/accept", cloud.keys[carrier])  # in force
    engine = make_engine(cloud.settings.database_url)
    try:
        with transaction(engine) as s:
            above = col(CloudCompartment.label) > "A02"
            for broken in s.exec(select(CloudCompartment).where(above)):
                broken.in_service = False
    finally:
        engine.dispose()
    body = {"bank_id": BANK, "size": "M"}
    made = [cloud.call("POST", "/api/v1/reservations", cloud.keys["sf"], json=body) for _ in "12"]
    assert [r.status_code for r in made] == [201, 201]  # within its guarantee, while one is free
    full = cloud.call("POST", "/api/v1/reservations", cloud.keys["jd"], json=body)
    assert full.status_code == 409
    assert full.json()["detail"] == f"{BANK} is full"
