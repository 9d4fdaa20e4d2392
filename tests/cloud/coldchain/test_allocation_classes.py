"""Allocation by temperature class: a chilled request gets only a chilled compartment, an
ambient one never a fridge's room; a class with nothing free is a clear 409 naming the class,
with the nearest banks that have room of that class; the decision stays one at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import text

from cloud.models import ReservationCreate, Role, Size
from cloud.services import allocation
from cloud.services.auth import Principal
from cloud.services.errors import Conflict
from locker_contract.cold import TemperatureClass
from tests.cloud.coldchain.conftest import BANK, minutes
from tests.cloud.conftest import Cloud

RESERVE = "/api/v1/reservations"


def reserve(cloud: Cloud, klass: str | None, carrier: str = "sf") -> Any:
    body: dict[str, object] = {"bank_id": BANK, "size": "M"}
    if klass is not None:
        body["temperature_class"] = klass
    return cloud.call("POST", RESERVE, cloud.keys[carrier], json=body)


def label(cloud: Cloud, compartment_id: str) -> str:
    with cloud.engine.connect() as db:
        found = db.execute(
            text("SELECT label FROM compartment WHERE id = :i"), {"i": compartment_id}
        )
        return str(found.scalar_one())


def test_chilled_only_to_chilled_and_ambient_never_to_a_fridge(cold: Cloud) -> None:
    chilled = [reserve(cold, "chilled").json() for _ in range(2)]
    assert sorted(label(cold, r["compartment_id"]) for r in chilled) == ["C01", "C02"]
    assert {r["temperature_class"] for r in chilled} == {"chilled"}
    ambient = [reserve(cold, None).json() for _ in range(2)]
    assert sorted(label(cold, r["compartment_id"]) for r in ambient) == ["A01", "A02"]
    full = reserve(cold, None)
    assert full.status_code == 409  # the fridge and freezer stay free
    frozen = reserve(cold, "frozen").json()
    assert label(cold, frozen["compartment_id"]) == "F01"


def test_a_class_with_nothing_free_is_a_clear_409_with_the_nearest_of_that_class(
    cold: Cloud,
) -> None:
    for _ in range(2):
        assert reserve(cold, "chilled").status_code == 201
    refused = reserve(cold, "chilled", carrier="jd")
    assert refused.status_code == 409
    body = refused.json()
    assert "no free chilled compartment" in str(body)
    assert body["temperature_class"] == "chilled"
    assert [n["bank_id"] for n in body["nearest"]] == ["birch"]  # birch has a chilled one
    # ambient room at maple does not make a chilled refusal suggest maple's neighbours wrongly
    assert reserve(cold, None, carrier="jd").status_code == 201


def test_announced_chilled_parcel_keeps_its_class(cold: Cloud) -> None:
    body = {"waybill": "SF-COLD-1", "bank_id": BANK, "recipient_phone": "13800138000",
            "consent": "recipient_app", "temperature_class": "chilled"}  # fmt: skip
    made = cold.ok("POST", "/api/v1/parcels", cold.keys["sf"], json=body)
    assert made["temperature_class"] == "chilled"
    bad = cold.call("POST", "/api/v1/parcels", cold.keys["sf"], json=body | {"waybill": "X",
                    "temperature_class": "lukewarm"})  # fmt: skip
    assert bad.status_code == 422


def test_a_chilled_compartment_names_its_zone(cold: Cloud) -> None:
    site = cold.keys[f"site:{BANK}"]["id"]
    unzoned = [{"label": "C01", "size": "M", "temperature_class": "chilled"}]
    body = {"id": "oak", "site_id": site, "name": "oak", "compartments": unzoned}
    assert cold.call("POST", "/api/v1/banks", cold.keys["operator"], json=body).status_code == 422


def test_racing_for_the_last_chilled_compartments_one_each(cold: Cloud) -> None:
    engine = cold.engine
    who = Principal(key_id="test", role=Role.CARRIER, carrier_id="sf")
    request = ReservationCreate(
        bank_id=BANK, size=Size("M"), temperature_class=TemperatureClass.CHILLED
    )

    def attempt(_: int) -> str:
        try:
            return allocation.reserve(engine, who, request)[0].compartment_id
        except Conflict:
            return "refused"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(attempt, range(6)))
    taken = [o for o in outcomes if o != "refused"]
    assert len(taken) == 2
    assert len(set(taken)) == 2
    assert sorted(label(cold, c) for c in taken) == ["C01", "C02"]


def test_the_banks_list_shows_room_by_class(cold: Cloud) -> None:
    assert reserve(cold, "chilled").status_code == 201
    banks = {b["bank_id"]: b for b in cold.ok("GET", "/api/v1/banks", cold.keys["sf"])}
    maple, birch = banks[BANK], banks["birch"]
    assert maple["free"]["M"] == 2  # ambient only
    assert maple["free_cold"] == {
        "chilled": {"S": 0, "M": 1, "L": 0, "XL": 0},
        "frozen": {"S": 0, "M": 1, "L": 0, "XL": 0},
    }
    assert (birch["free"]["M"], birch["free_cold"]["chilled"]["M"]) == (0, 1)


def test_a_fridge_in_an_excursion_is_not_reserved_until_back_in_range(cold: Cloud) -> None:
    """The bank takes no parcel into a zone in an excursion (decision 0026): the cloud must not
    reserve a compartment there that the bank will refuse at the kiosk."""
    from tests.cloud.coldchain.conftest import Bank
    from tests.cloud.coldchain.test_parcel_trace import ended, started

    bank = Bank(cold.engine)
    bank.send(minutes(26), started())
    refused = reserve(cold, "chilled")
    assert refused.status_code == 409
    assert "no free chilled compartment" in str(refused.json())
    assert reserve(cold, "frozen").status_code == 201  # the freezer is another zone
    bank.send(minutes(27), ended())
    assert label(cold, reserve(cold, "chilled").json()["compartment_id"]) == "C01"
