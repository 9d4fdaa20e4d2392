"""Issue 17's end to end: a chilled parcel announced, deposited in a chilled compartment, the
compressor failing midway, the alarm, the pickup, and the parcel's record with the excursion
and its trace as the carrier and the console see them.

The zone's temperature is the twin's physics (``hil_sim.thermal``), read each minute; the bank's
rules (``controller.cold.watch``, what the edge runs on each sample) turn the samples into its
events, sent as the bank sends them: excursions at once, samples in batches of 15. They reach
the cloud through ``ingest_batch``, the service the ingest process runs. Not in this test: the
edge daemon's store, outbox and MQTT link, and the Modbus bus (the edge's and the twin's tests
cover those).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cloud.clock import FixedClock
from cloud.coldchain.ingest import EXCURSION
from cloud.coldchain.tables import ParcelChain
from cloud.console.accounts.tables import PersonRole
from cloud.models import Alarm, Parcel, Site
from cloud.models import Bank as BankRow
from controller.cold.tables import ZoneWatch
from controller.cold.watch import observe
from hil_sim.thermal import ThermalZone
from locker_contract.cold import TemperatureClass
from locker_contract.events import Event, Reading, ZoneExcursionStarted, ZoneSample, ZoneSamples
from tests.cloud.coldchain.conftest import BANK, FRIDGE, T0, Bank, deposited, picked_up
from tests.cloud.conftest import Cloud
from tests.cloud.console.accounts.conftest import BASE, Console

CHILLED = TemperatureClass.CHILLED
MINUTE = 60.0
FAIL_AT, REPAIR_AT, PICKUP_AT = 120, 240, 300  # minutes after the deposit
BATCH = 15  # samples per zone.samples event


class Zone:
    """The twin's fridge and the bank's watch over it, one sample a minute."""

    def __init__(self, bank: Bank) -> None:
        self.bank, self.twin, self.watch = bank, ThermalZone(), ZoneWatch(zone=FRIDGE)
        self.pending: list[ZoneSample] = []
        self.events: list[Event] = []

    def minute(self, n: int) -> None:
        at = T0 + timedelta(minutes=n)
        sample = Reading(at=at, celsius=round(self.twin.advance(n * MINUTE), 2))
        self.pending.append(sample)
        raised = observe(self.watch, CHILLED, sample, failures_to_alarm=3)
        self.events += raised
        if raised:
            self.bank.send(at, *raised)
        if len(self.pending) == BATCH:
            self.flush(at)

    def flush(self, at: datetime) -> None:
        if self.pending:
            batch = ZoneSamples(zone=FRIDGE, temperature_class=CHILLED, samples=self.pending)
            self.bank.send(at, batch)
            self.pending = []


def excursion_alarms(cloud: Cloud) -> list[Alarm]:
    with Session(cloud.engine) as s:
        return list(s.exec(select(Alarm).where(Alarm.kind == EXCURSION)))


def test_a_compressor_failure_midway_breaks_the_chain_the_carrier_and_console_see_it(
    cold: Cloud, clock: FixedClock
) -> None:
    body = {"waybill": "SF-FRESH-1", "bank_id": BANK, "recipient_phone": "13800138000",
            "consent": "recipient_app", "temperature_class": "chilled"}  # fmt: skip
    cold.ok("POST", "/api/v1/parcels", cold.keys["sf"], json=body)
    bank = Bank(cold.engine)
    zone = Zone(bank)
    bank.send(T0, deposited("SF-FRESH-1", "C01", T0))
    for n in range(PICKUP_AT + 1):
        if n == FAIL_AT:
            zone.twin.fail_compressor(n * MINUTE)
        if n == REPAIR_AT:
            zone.twin.fail_compressor(n * MINUTE, failed=False)
        zone.minute(n)
        started = [e for e in zone.events if isinstance(e, ZoneExcursionStarted)]
        if not started:  # no alarm before the bank saw an excursion: out of range is not enough
            assert excursion_alarms(cold) == []
    zone.flush(T0 + timedelta(minutes=PICKUP_AT))
    bank.send(T0 + timedelta(minutes=PICKUP_AT), picked_up("SF-FRESH-1", "C01"))
    clock.advance(PICKUP_AT * MINUTE + 600)

    # the twin warmed the zone past 8 C, the bank called it an excursion after its duration
    start = next(e for e in zone.events if isinstance(e, ZoneExcursionStarted))
    assert start.detected_at - start.out_since > timedelta(minutes=10)
    assert start.out_since > T0 + timedelta(minutes=FAIL_AT)
    [alarm] = excursion_alarms(cold)
    assert (alarm.compartment, alarm.raised_at) == (FRIDGE, start.detected_at)
    assert alarm.cleared_at is not None  # back in range after the repair
    assert alarm.cleared_at < T0 + timedelta(minutes=PICKUP_AT)

    # the pickup's record: the chain broke
    with Session(cold.engine) as s:
        chain = s.exec(select(ParcelChain)).one()
    assert (chain.held, chain.excursions, chain.zone) == (False, 1, FRIDGE)

    # as the carrier sees it
    trace = cold.ok("GET", "/api/v1/parcels/SF-FRESH-1/trace", cold.keys["sf"])
    out_for = (alarm.cleared_at - start.out_since).total_seconds()
    assert abs(trace["out_of_range_s"] - out_for) <= 2 * MINUTE
    assert trace["max_celsius"] > 8.0
    assert 2.0 <= trace["min_celsius"] <= 8.0
    assert (trace["chain_held"], trace["unknown_s"], len(trace["excursions"])) == (False, 0, 1)
    history = cold.ok("GET", "/api/v1/tracking/SF-FRESH-1", cold.keys["sf"])
    assert [e["cold_chain_held"] for e in history if e["type"] == "parcel.picked_up"] == [False]
    rows = cold.call("GET", "/api/v1/parcels/SF-FRESH-1/trace.csv", cold.keys["sf"]).text
    assert len(rows.strip().splitlines()) == 1 + PICKUP_AT + 1
    assert cold.call("GET", "/api/v1/parcels/SF-FRESH-1/trace", cold.keys["jd"]).status_code == 404

    # as the site's manager sees it in the console
    browser = manager(cold, clock)
    with Session(cold.engine) as s:
        parcel_id = s.exec(select(Parcel.id).where(Parcel.waybill == "SF-FRESH-1")).one()
    page = browser.get(f"/console/cold/parcels/{parcel_id}?lang=en")
    assert page.status_code == 200
    assert "Broken" in page.text
    assert "<svg" in page.text
    zone_page = browser.get(f"/console/cold/zones/{BANK}/{FRIDGE}?hours=8&lang=en")
    assert zone_page.status_code == 200
    assert "SF-FRESH-1" in zone_page.text


def manager(cold: Cloud, clock: FixedClock) -> TestClient:
    """A browser signed in as the manager of the bank's site."""
    with Session(cold.engine) as s:
        site = s.exec(select(Site).join(BankRow).where(BankRow.id == BANK)).one()
    app = cold.client.app
    assert isinstance(app, FastAPI)
    browser = TestClient(app, base_url=BASE, follow_redirects=False)
    console = Console(app, browser, clock, cold.settings, "", operator=site.operator_id)
    console.person("cold@estates.example", PersonRole.SITE_MANAGER, frozenset({site.id}))
    assert console.sign_in("cold@estates.example").status_code == 303
    return browser
