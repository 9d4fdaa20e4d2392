"""The cold chain's console pages, signed in, on SQLite and PostgreSQL: the zones of the sites a
person sees, a zone's chart, a parcel's trace with its broken chain and its CSV; another site's
zone or parcel is "not found"."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from cloud.console.accounts.tables import PersonRole
from cloud.models import Compartment, Parcel
from locker_contract.cold import TemperatureClass
from locker_contract.events import (
    ParcelPickedUp,
    Reading,
    ZoneExcursionEnded,
    ZoneExcursionStarted,
    ZoneSamples,
)
from tests.cloud.console.pages.conftest import Pages, pages

__all__ = ["pages"]  # the console's fixture, used here

CHILLED = TemperatureClass.CHILLED
BANK, ZONE, LABEL = "maple-1", "fridge-1", "A04"
EXCURSION = uuid.uuid4()


def fridge(p: Pages) -> None:
    """maple-1's A04 is the chilled zone fridge-1."""
    with Session(p.console.engine) as s:
        query = select(Compartment).where(Compartment.bank_id == BANK, Compartment.label == LABEL)
        door = s.exec(query).one()
        door.temperature_class, door.zone = "chilled", ZONE
        s.add(door)
        s.commit()


def minute(p: Pages, celsius: float) -> None:
    """One sample now, then a minute passes."""
    sample = Reading(at=p.now(), celsius=celsius)
    p.send(BANK, ZoneSamples(zone=ZONE, temperature_class=CHILLED, samples=[sample]))
    p.console.clock.advance(60)


@pytest.fixture
def stay(pages: Pages) -> tuple[Pages, str]:
    """SF-COLD in A04 for 40 minutes, warm (11 C) from 10 to 30 with an excursion."""
    fridge(pages)
    pages.deposit(BANK, "SF-COLD", LABEL, "13800138000")
    out_since = pages.now() + timedelta(minutes=10)
    for n in range(40):
        if n == 25:
            pages.send(BANK, ZoneExcursionStarted(
                excursion_id=EXCURSION, zone=ZONE, temperature_class=CHILLED,
                out_since=out_since, detected_at=pages.now(), celsius=11.0,
            ))  # fmt: skip
        if n == 30:
            pages.send(BANK, ZoneExcursionEnded(
                excursion_id=EXCURSION, zone=ZONE, temperature_class=CHILLED,
                out_since=out_since, back_at=pages.now(), min_celsius=11.0, max_celsius=11.0,
            ))  # fmt: skip
        minute(pages, 11.0 if 10 <= n < 30 else 4.0)
    edge = uuid.uuid5(uuid.NAMESPACE_URL, "SF-COLD")
    pages.send(BANK, ParcelPickedUp(parcel_id=edge, waybill="SF-COLD", compartment=LABEL))
    with Session(pages.console.engine) as s:
        parcel_id = s.exec(select(Parcel.id).where(Parcel.waybill == "SF-COLD")).one()
    return pages, parcel_id


def test_a_manager_sees_the_zone_and_the_parcels_broken_chain(stay: tuple[Pages, str]) -> None:
    p, parcel_id = stay
    p.person("ma@estates.example", sites=frozenset({"maple"}))
    browser = p.browser("ma@estates.example")
    zones = browser.get("/console/cold?lang=en")
    assert zones.status_code == 200
    assert f'href="/console/cold/zones/{BANK}/{ZONE}"' in zones.text
    zone = browser.get(f"/console/cold/zones/{BANK}/{ZONE}?hours=2")
    assert zone.status_code == 200
    assert "<svg" in zone.text
    assert f'href="/console/cold/parcels/{parcel_id}"' in zone.text
    parcel = browser.get(f"/console/cold/parcels/{parcel_id}")
    assert parcel.status_code == 200
    assert "Broken" in parcel.text
    assert "11.0 °C" in parcel.text
    assert "20 min" in parcel.text  # out of range, sample by sample
    rows = list(
        csv.DictReader(io.StringIO(browser.get(f"/console/cold/parcels/{parcel_id}.csv").text))
    )
    assert len(rows) == 40
    assert sum(r["in_range"] == "no" for r in rows) == 20


@pytest.mark.parametrize(
    ("email", "role", "sites"),
    [
        ("bi@estates.example", PersonRole.SITE_MANAGER, frozenset({"birch"})),
        ("boss@rival.example", PersonRole.OPERATOR_ADMIN, frozenset({"elm"})),
    ],
)
def test_another_site_sees_nothing_of_it(
    stay: tuple[Pages, str], email: str, role: PersonRole, sites: frozenset[str]
) -> None:
    p, parcel_id = stay
    operator = "rival" if "rival" in email else "estates"
    p.person(email, role=role, sites=sites, operator=operator)
    browser = p.browser(email)
    assert ZONE not in browser.get("/console/cold").text
    for path in (
        f"/console/cold/zones/{BANK}/{ZONE}",
        f"/console/cold/zones/{BANK}/{ZONE}.csv",
        f"/console/cold/parcels/{parcel_id}",
        f"/console/cold/parcels/{parcel_id}.csv",
    ):
        answer = browser.get(path)
        assert answer.status_code == 404, path
        assert "11.0" not in answer.text


def test_bad_input_is_no_500(stay: tuple[Pages, str]) -> None:
    p, _ = stay
    p.person("ma@estates.example", sites=frozenset({"maple"}))
    browser = p.browser("ma@estates.example")
    for path in (
        f"/console/cold/zones/{BANK}/{ZONE}?hours=0",
        f"/console/cold/zones/{BANK}/{ZONE}?hours=99999",
        f"/console/cold/zones/{BANK}/Not%20A%20Zone",
        "/console/cold/parcels/" + "x" * 300,
    ):
        assert browser.get(path).status_code in (404, 422), path
