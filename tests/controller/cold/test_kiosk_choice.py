"""The kiosk's deposit form on a bank with a fridge: the courier may ask for chilled, and is
told plainly when no chilled compartment is free. A bank without one offers no choice."""

from __future__ import annotations

import pytest

from controller.store import Compartment, transaction
from tests.controller.conftest import Bank

pytestmark = pytest.mark.pty

FORM = {"waybill": "COLD1", "phone": "13800138000", "size": "M", "consent": "phone_call"}


def _signed_in(bank: Bank) -> None:
    bank.courier("sf-1", "sf-express")  # adds the courier with PIN 2468
    answer = bank.client.post(
        "/kiosk/courier", data={"courier_id": "sf-1", "pin": "2468"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def test_the_size_screen_offers_chilled_and_a_chilled_choice_opens_the_fridge(
    bank: Bank,
) -> None:
    _signed_in(bank)
    form = bank.client.get("/kiosk/courier/deposit")
    assert 'name="temperature_class" value="chilled"' in form.text
    assert 'value="frozen"' not in form.text  # this bank has no freezer
    chosen = bank.client.post(
        "/kiosk/courier/deposit", data=FORM | {"temperature_class": "chilled"}
    )
    assert chosen.status_code == 200, chosen.text
    assert "B04" in chosen.text  # A04 jammed: the fridge's other door, not A03


def test_no_free_chilled_compartment_is_a_clear_message(bank: Bank) -> None:
    _signed_in(bank)
    with transaction(bank.edge.engine) as s:  # the fridge's two doors out of service
        for label in ("A04", "B04"):
            s.get_one(Compartment, label).in_service = False
    refused = bank.client.post(
        "/kiosk/courier/deposit", data=FORM | {"temperature_class": "chilled"}
    )
    assert refused.status_code == 409
    assert "没有合适的 M 冷藏（2-8 °C）空闲格口" in refused.text  # the kiosk speaks Chinese first
    bank.client.get("/kiosk/lang/en")
    again = bank.client.post("/kiosk/courier/deposit", data=FORM | {"temperature_class": "chilled"})
    assert "No free chilled (2-8 °C) compartment fits size M" in again.text
    plain = bank.client.post("/kiosk/courier/deposit", data=FORM | {"waybill": "WARM1"})
    assert plain.status_code == 200
    assert "A03" in plain.text


def test_an_unstorable_class_is_refused_as_bad_input(bank: Bank) -> None:
    _signed_in(bank)
    answer = bank.client.post("/kiosk/courier/deposit", data=FORM | {"temperature_class": "x" * 40})
    assert answer.status_code == 422
