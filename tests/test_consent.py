"""One consent vocabulary: the cloud's API, the contract, the kiosk and ``locker edge expect``
accept exactly ``locker_contract.vocabulary.Consent`` and refuse the rest (``contract`` among
them: it was accepted by the cloud and refused by the kiosk)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from cloud.api.schemas import ParcelCreate
from controller.flows import CONSENT_CHOICES
from controller.kiosk.i18n import LANGUAGES, TEXTS
from hil_sim import Simulator
from locker_contract.commands import ParcelAnnounce
from locker_contract.vocabulary import CONSENTS, Consent
from tests.cloud.conftest import Cloud, build_cloud, fleet
from tests.controller.conftest import Bank, make_bank

CANDIDATES = [*CONSENTS, "contract", "nodded", "PHONE_CALL", ""]


def accepted_by(accepts: Callable[[str], bool]) -> set[str]:
    return {c for c in CANDIDATES if accepts(c)}


def test_the_vocabulary_is_the_recipients_word_only() -> None:
    assert set(CONSENTS) == {"recipient_app", "phone_call", "sms_reply", "written_note"}
    assert "contract" not in CONSENTS  # the sender's contract is not the recipient's consent


def test_the_contract_and_the_cloud_schema_take_exactly_the_vocabulary() -> None:
    def announce(consent: str) -> bool:
        body = {"waybill": "SF1", "carrier_id": "sf", "recipient_phone": "138", "consent": consent}
        return _valid(ParcelAnnounce, body)

    def create(consent: str) -> bool:
        body = {"waybill": "SF1", "bank_id": "maple", "recipient_phone": "13800138000"}
        return _valid(ParcelCreate, body | {"consent": consent})

    assert accepted_by(announce) == set(CONSENTS)
    assert accepted_by(create) == set(CONSENTS)


def _valid(model: type[ParcelAnnounce] | type[ParcelCreate], body: dict[str, str]) -> bool:
    try:
        model.model_validate(body)
    except ValidationError:
        return False
    return True


def test_the_kiosk_offers_and_labels_every_consent() -> None:
    assert CONSENT_CHOICES == CONSENTS
    for consent in Consent:
        for language in LANGUAGES:
            assert TEXTS[f"consent_{consent.value}"][language]


@pytest.fixture
def cloud(database_url: str) -> Iterator[Cloud]:
    yield from build_cloud(database_url)


def test_the_cloud_api_takes_exactly_the_vocabulary(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 1}})
    answers: dict[str, int] = {}
    for n, consent in enumerate(CANDIDATES):
        body = {"waybill": f"SF{n}", "bank_id": "maple", "recipient_phone": "13800138000"}
        answer = cloud.call(
            "POST", "/api/v1/parcels", cloud.keys["sf"], json=body | {"consent": consent}
        )
        answers[consent] = answer.status_code
    assert {c for c, status in answers.items() if status == 201} == set(CONSENTS), answers
    assert {status for c, status in answers.items() if c not in CONSENTS} == {422}, answers


@pytest.fixture
def bank(tmp_path: Path) -> Iterator[Bank]:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    yield from make_bank(tmp_path, sim)


@pytest.mark.pty
def test_the_kiosk_takes_exactly_the_vocabulary(bank: Bank) -> None:
    headers = bank.courier("sf-0042", "sf-express")
    answers: dict[str, int] = {}
    for n, consent in enumerate(CANDIDATES):
        body = {"waybill": f"SF{n}", "phone": "13800138000", "size": "S", "consent": consent}
        answers[consent] = bank.client.post("/api/deposits", json=body, headers=headers).status_code
    assert {c for c, status in answers.items() if status == 201} == set(CONSENTS), answers
    assert {status for c, status in answers.items() if c not in CONSENTS} == {422}, answers
