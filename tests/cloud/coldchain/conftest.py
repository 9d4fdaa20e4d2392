"""A cloud with chilled and frozen compartments, a fixed clock, and the bank's events to feed it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from cloud.clock import FixedClock
from cloud.services.ingest import ingest_batch
from locker_contract.events import Envelope, Event, ParcelDeposited, ParcelPickedUp
from tests.cloud.conftest import Cloud, build_cloud, fleet

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BANK = "maple"
FRIDGE = "fridge-1"
FREEZER = "freezer-1"


def cold_bank(ambient: int = 2, chilled: int = 2, frozen: int = 1) -> list[dict[str, object]]:
    """Size M compartments: ambient A01.., chilled C01.. in the fridge, frozen F01.."""
    rows: list[dict[str, object]] = [
        {"label": f"A{n:02d}", "size": "M"} for n in range(1, ambient + 1)
    ]
    rows += [
        {"label": f"C{n:02d}", "size": "M", "temperature_class": "chilled", "zone": FRIDGE}
        for n in range(1, chilled + 1)
    ]
    rows += [
        {"label": f"F{n:02d}", "size": "M", "temperature_class": "frozen", "zone": FREEZER}
        for n in range(1, frozen + 1)
    ]
    return rows


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def cold(database_url: str, clock: FixedClock) -> Iterator[Cloud]:
    """Bank maple (2 ambient, 2 chilled, 1 frozen) and, 1 km away, birch (1 chilled)."""
    for cloud in build_cloud(database_url, clock):
        fleet(cloud, {BANK: cold_bank(), "birch": cold_bank(ambient=0, chilled=1, frozen=0)})
        yield cloud


class Bank:
    """A bank's event stream: each event gets the next seq and the time given."""

    def __init__(self, engine: Engine, bank_id: str = BANK) -> None:
        self.engine, self.bank_id, self.seq = engine, bank_id, 0

    def send(self, at: datetime, *events: Event) -> None:
        envelopes = []
        for event in events:
            self.seq += 1
            envelopes.append(
                Envelope(
                    event_id=uuid.uuid4(), bank_id=self.bank_id, seq=self.seq, time=at, event=event
                )
            )
        ingest_batch(self.engine, envelopes, now=at)


def edge_id(waybill: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, waybill)


def deposited(waybill: str, label: str, at: datetime, carrier: str = "sf") -> ParcelDeposited:
    return ParcelDeposited(
        parcel_id=edge_id(waybill), waybill=waybill, carrier=carrier, courier_id="nobody",
        compartment=label, recipient_phone="13800138000", group_id=uuid.uuid4(),
        sealed_code=None, consent="recipient_app", flagged_for_review=False, deposited_at=at,
    )  # fmt: skip


def picked_up(waybill: str, label: str) -> ParcelPickedUp:
    return ParcelPickedUp(parcel_id=edge_id(waybill), waybill=waybill, compartment=label)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)
