"""Parcels by temperature class at the bank, on the twin: a walk-up chilled deposit, an announced
chilled parcel kept out of ambient compartments, a jammed fridge door moving to another fridge,
and the class told with the deposit."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from controller.cold.tables import AnnouncedClass, DepositClass, ZoneWatch
from controller.cold.watch import observe
from controller.commands import CommandRunner
from controller.store import Outbox
from locker_contract.cold import CHILLED_EXCURSION_AFTER, TemperatureClass
from locker_contract.commands import CommandEnvelope
from locker_contract.events import Reading
from tests.controller.conftest import Bank
from tests.controller.test_flows import deposit, deposit_and_shut

pytestmark = pytest.mark.pty


async def _command(bank: Bank, body: dict[str, object]) -> None:
    runner = CommandRunner(bank.edge.engine, bank.edge.key, lambda: None)
    envelope = CommandEnvelope.model_validate(
        {"command_id": str(uuid.uuid4()), "sent_at": datetime.now(UTC), "ttl_s": 60.0,
         "command": body}
    )  # fmt: skip
    ack = await runner.run(envelope, 60)
    assert ack.outcome == "applied", ack


async def _announce(bank: Bank, waybill: str, klass: str | None) -> None:
    await _command(bank, {"type": "parcel.announce", "waybill": waybill, "carrier_id": "jd",
                          "recipient_phone": "13900139000", "consent": "recipient_app",
                          "temperature_class": klass})  # fmt: skip


def _deposited_classes(bank: Bank) -> dict[str, str | None]:
    with bank.session() as s:
        rows = s.exec(select(Outbox).where(Outbox.type == "parcel.deposited"))
        bodies = [json.loads(r.body) for r in rows.all()]
    return {b["waybill"]: b["temperature_class"] for b in bodies}


def test_a_walk_up_chilled_parcel_goes_into_the_fridge_and_says_so(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    # A04 jams: the deposit moves to the fridge's other compartment, not to the next medium
    done = deposit_and_shut(bank, headers, "COLD1", temperature_class="chilled")
    assert done["compartment"] == "B04"
    plain = deposit_and_shut(bank, headers, "WARM1")
    assert plain["compartment"] == "A03"  # an ambient parcel takes no fridge's room
    assert _deposited_classes(bank) == {"COLD1": "chilled", "WARM1": "ambient"}
    with bank.session() as s:
        assert s.exec(select(DepositClass)).all() == []  # forgotten once recorded


async def _out_of_service(bank: Bank, label: str) -> None:
    await _command(bank, {"type": "compartment.service", "compartment": label,
                          "in_service": False, "reason": "fridge door seal"})  # fmt: skip


async def test_no_free_chilled_compartment_is_said_plainly(bank: Bank) -> None:
    await _out_of_service(bank, "A04")
    headers = bank.courier("sf-1", "sf-express")
    assert (
        deposit_and_shut(bank, headers, "COLD1", temperature_class="chilled")["compartment"]
        == "B04"
    )
    answer = bank.client.post(
        "/api/deposits",
        json={"waybill": "COLD2", "phone": "13800138000", "size": "M", "consent": "phone_call",
              "temperature_class": "chilled"},
        headers=headers,
    )  # fmt: skip
    assert answer.status_code == 409
    assert answer.json()["detail"] == "no free chilled compartment fits size M"


async def test_an_announced_chilled_parcel_is_refused_an_ambient_compartment(
    bank: Bank,
) -> None:
    await _out_of_service(bank, "A04")
    await _out_of_service(bank, "B04")
    await _announce(bank, "JD-COLD", "chilled")
    headers = bank.courier("jd-7", "jd")
    # the courier asks for nothing (nor could ask for ambient): the announcement's class holds,
    # and with the fridge out of service the parcel is refused rather than put into A03
    for asked in (None, "ambient"):
        body = {"waybill": "JD-COLD", "size": "M", "temperature_class": asked}
        answer = bank.client.post("/api/deposits", json=body, headers=headers)
        assert answer.status_code == 409, answer.text
        assert answer.json()["detail"] == "no free chilled compartment fits size M"
    assert _deposited_classes(bank) == {}


async def test_an_announcement_withdrawn_or_deposited_forgets_its_class(bank: Bank) -> None:
    await _announce(bank, "JD-COLD", "chilled")
    await _announce(bank, "JD-WARM", None)
    with bank.session() as s:
        assert [a.waybill for a in s.exec(select(AnnouncedClass))] == ["JD-COLD"]
    headers = bank.courier("jd-7", "jd")
    done = deposit_and_shut(bank, headers, "JD-COLD", phone="", consent=None)
    assert done["compartment"] == "B04"
    assert _deposited_classes(bank) == {"JD-COLD": "chilled"}
    await _announce(bank, "JD-COLD2", "chilled")
    await _command(bank, {"type": "carrier.withdraw", "carrier_id": "jd"})
    with bank.session() as s:
        assert s.exec(select(AnnouncedClass).order_by(col(AnnouncedClass.waybill))).all() == []


def test_an_ambient_deposit_never_lands_in_the_fridge(bank: Bank) -> None:
    headers = bank.courier("sf-1", "sf-express")
    labels = [str(deposit(bank, headers, f"M{n}")["compartment"]) for n in range(2)]
    assert labels == ["A03", "B03"]  # A04 and B04 are medium and free, but chilled
    answer = bank.client.post(
        "/api/deposits",
        json={"waybill": "M3", "phone": "13800138000", "size": "L", "consent": "phone_call"},
        headers=headers,
    )
    assert answer.status_code == 201
    assert answer.json()["compartment"] == "A05"


def _fridge_reads(bank: Bank, celsius: float, at: datetime) -> None:
    """A good sample of the fridge's sensor, moving its watch as the sampler does."""
    with bank.session() as s:
        watch = s.get(ZoneWatch, "fridge-1") or ZoneWatch(zone="fridge-1")
        observe(watch, TemperatureClass.CHILLED, Reading(at=at, celsius=celsius), 3)
        s.add(watch)
        s.commit()


def test_a_fridge_in_an_excursion_takes_no_chilled_parcel_until_back_in_range(
    bank: Bank,
) -> None:
    headers = bank.courier("sf-1", "sf-express")
    started = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    _fridge_reads(bank, 12.0, started)  # its compressor stopped: out of range ...
    _fridge_reads(bank, 13.5, started + CHILLED_EXCURSION_AFTER + timedelta(minutes=1))
    with bank.session() as s:  # ... for longer than a chilled zone may be: an excursion
        assert s.get_one(ZoneWatch, "fridge-1").excursion_id is not None
    body = {"waybill": "COLD1", "phone": "13800138000", "size": "M", "consent": "phone_call",
            "temperature_class": "chilled"}  # fmt: skip
    answer = bank.client.post("/api/deposits", json=body, headers=headers)
    assert answer.status_code == 409, answer.text  # fresh food is not put into a warm fridge
    assert answer.json()["detail"] == "no free chilled compartment fits size M"
    _fridge_reads(bank, 4.0, started + timedelta(hours=1))  # repaired, back in range
    assert (
        deposit_and_shut(bank, headers, "COLD1", temperature_class="chilled")["compartment"]
        == "B04"
    )


def test_the_kiosks_free_counts_are_room_for_an_ambient_parcel(bank: Bank) -> None:
    """A free fridge is no room for an ambient parcel: the kiosk's counts leave it out, the
    metrics' count of every free compartment keeps it (R1's review)."""
    headers = bank.courier("sf-1", "sf-express")
    for n in range(2):
        deposit(bank, headers, f"M{n}")  # A03 and B03: the ambient mediums are taken
    assert bank.edge.flows.free_by_size()["M"] == 0  # A04 and B04 are medium, but chilled
    assert bank.edge.flows.free_by_size(None)["M"] == 2
    assert bank.edge.flows.free_by_size(TemperatureClass.CHILLED) == {
        "S": 0, "M": 2, "L": 0, "XL": 0
    }  # fmt: skip
