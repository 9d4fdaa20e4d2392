"""Storage fees at the kiosk, on the twin: what a parcel owes is counted offline when its door
opens, paid through the provider and shown; a provider that is down releases the parcel all
the same and records the fee as owed (decision 0017)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from controller import storage
from controller.payments import Charge, PaymentUnavailable, Receipt
from controller.store import Outbox, Parcel, StorageTerms, transaction
from hil_sim import Simulator
from locker_contract.storage import StoragePolicy
from tests.controller.conftest import Bank, make_bank
from tests.controller.fakeclock import FakeClock
from tests.controller.test_flows import codes_sent, deposit_and_shut, shut
from tests.waiting import wait_until

pytestmark = pytest.mark.pty

POLICY = StoragePolicy(free_hours=18, keep_hours=72, fee_minor=50, period_hours=12, cap_minor=300)
HOUR = 3600.0


class DownProvider:
    """A provider that cannot be reached: every charge fails as a network outage would."""

    def __init__(self) -> None:
        self.asked: list[Charge] = []

    async def charge(self, charge: Charge) -> Receipt:
        self.asked.append(charge)
        raise PaymentUnavailable("connection refused")


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    for made in make_bank(tmp_path, sim):
        made.edge.flows.clock = FakeClock(follow=True)
        with transaction(made.edge.engine) as s:
            storage.set_policy(s, POLICY)
        yield made


def speaking(bank: Bank, language: str) -> None:
    bank.client.cookies.set("kiosk_lang", language)


def deposited(bank: Bank, waybill: str) -> tuple[str, str]:
    """A parcel deposited and its door shut: its id and the code its recipient holds."""
    headers = bank.courier("sf-1", "sf-express")
    done = deposit_and_shut(bank, headers, waybill)
    code = codes_sent(bank)[-1]
    assert code is not None
    return str(done["parcel_id"]), code


def later(bank: Bank, hours: float) -> None:
    clock = bank.edge.flows.clock
    assert isinstance(clock, FakeClock)
    clock.advance(hours * HOUR)


def fee_events(bank: Bank) -> list[dict[str, object]]:
    with bank.session() as s:
        rows = s.exec(select(Outbox).where(Outbox.type == "parcel.fee"))
        return [json.loads(r.body) for r in rows]


def picked_up(bank: Bank, parcel_id: str) -> bool:
    with bank.session() as s:
        return s.get_one(Parcel, parcel_id).state == "picked_up"


def terms(bank: Bank, parcel_id: str) -> StorageTerms:
    with bank.session() as s:
        return s.get_one(StorageTerms, parcel_id)


def test_a_pickup_inside_the_free_period_costs_nothing(bank: Bank) -> None:
    parcel_id, code = deposited(bank, "FREE-1")
    later(bank, 17.5)
    speaking(bank, "en")
    page = bank.client.post("/kiosk/pickup", data={"code": code})
    assert page.status_code == 200
    assert "Door A03 is open" in page.text
    assert "Storage fee" not in page.text
    assert fee_events(bank) == []
    assert (terms(bank, parcel_id).fee_minor, terms(bank, parcel_id).fee_state) == (0, "free")


def test_a_fee_owed_is_paid_at_the_kiosk_and_shown(bank: Bank) -> None:
    parcel_id, code = deposited(bank, "FEE-1")
    later(bank, 31)  # 13 h past the free period: two periods started
    speaking(bank, "en")
    page = bank.client.post("/kiosk/pickup", data={"code": code})
    assert page.status_code == 200
    assert "Storage fee after the free period: ¥1.00, paid." in page.text
    [event] = fee_events(bank)
    assert (event["amount_minor"], event["state"], event["currency"]) == (100, "paid", "CNY")
    assert str(event["reference"]).startswith("dev-")
    settled = terms(bank, parcel_id)
    assert (settled.fee_minor, settled.fee_state) == (100, "paid")
    shut(bank, "A03")
    wait_until(lambda: picked_up(bank, parcel_id))


def test_a_provider_down_releases_the_parcel_and_records_the_fee_owed(bank: Bank) -> None:
    down = DownProvider()
    bank.edge.flows.pickups.fees.provider = down
    parcel_id, code = deposited(bank, "OWED-1")
    later(bank, 100)  # far past the free period: the cap
    answer = bank.client.post("/api/pickup", json={"code": code})
    assert answer.status_code == 200, answer.text
    [door] = answer.json()
    assert (door["outcome"], door["fee"], door["fee_state"]) == ("opened", "¥3.00", "owed")
    shut(bank, "A03")  # it opened: the recipient takes the parcel, unpaid
    wait_until(lambda: picked_up(bank, parcel_id))
    assert [(c.amount_minor, c.reference) for c in down.asked] == [(300, parcel_id)]
    [event] = fee_events(bank)
    assert (event["amount_minor"], event["state"], event["reference"]) == (300, "owed", "")
    assert (terms(bank, parcel_id).fee_minor, terms(bank, parcel_id).fee_state) == (300, "owed")


def test_the_kiosk_says_a_fee_is_owed_when_payment_is_down(bank: Bank) -> None:
    bank.edge.flows.pickups.fees.provider = DownProvider()
    _, code = deposited(bank, "OWED-2")
    later(bank, 19)
    speaking(bank, "zh")
    page = bank.client.post("/kiosk/pickup", data={"code": code})
    assert "保管费：¥0.50。支付服务暂不可用，已记为待付" in page.text
