"""Messages' states by API: a bank's for its manager, a carrier's for its own parcels only; the
gateway's signed delivery receipts move a sent message to delivered (and nothing else does)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from cloud.core.db import transaction
from cloud.main import create_app
from cloud.messaging.receipts import signature
from cloud.models import Role, Site
from cloud.services.auth import Scope, mint_key
from tests.cloud.messaging.conftest import TOKEN, Rig, dispatcher

CODE = "40962048"


@pytest.fixture
def client(rig: Rig) -> Iterator[TestClient]:
    app = create_app(rig.settings, rig.clock)
    try:
        with TestClient(app) as made:
            yield made
    finally:
        app.state.engine.dispose()


def key(rig: Rig, role: Role, scope: Scope) -> dict[str, str]:
    with transaction(rig.engine) as s:
        minted = mint_key(s, rig.settings.secret_key, role, "test", scope)
    return {"Authorization": f"Bearer {minted}"}


async def sent_group(rig: Rig) -> str:
    """A group of an SF and a JD parcel, its message sent; the message's key."""
    group = uuid.uuid4()
    rig.bank.deposit("SF1008611", "A03", group, CODE)
    rig.bank.deposit("JD0020099", "A04", group, None, carrier="jd")
    rig.clock.advance(30)
    await dispatcher(rig.engine, rig.settings, rig.clock).pass_once()
    [request] = rig.gateway.requests
    return request["key"]


def deposits(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    found = client.get("/api/v1/banks/maple-court-3/messages", headers=headers).json()
    return [m for m in found if m["kind"] == "deposit"]


def receipt(client: TestClient, rig: Rig, message: str, status: str, sign: str = TOKEN) -> int:
    form = {"MessageSid": "SM1", "MessageStatus": status, "To": "13800138000"}
    url = f"{rig.settings.sms_receipt_url}?{urlencode({'key': message})}"
    answer = client.post(
        f"/api/v1/messages/receipts?{urlencode({'key': message})}",
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature(sign, url, form),
        },
    )
    return answer.status_code


async def test_the_manager_sees_the_bank_s_messages_and_each_carrier_its_own(
    rig: Rig, client: TestClient
) -> None:
    message = await sent_group(rig)
    manager = key(rig, Role.MANAGER, Scope(site_id="maple"))
    [seen] = deposits(client, manager)
    assert (seen["id"], seen["kind"], seen["state"]) == (message, "deposit", "sent")
    assert seen["to"] == "*********00"
    assert {p["waybill"] for p in seen["parcels"]} == {"SF1008611", "JD0020099"}
    sf = key(rig, Role.CARRIER, Scope(carrier_id="sf"))
    mine = client.get("/api/v1/messages", headers=sf).json()
    assert {p["waybill"] for m in mine for p in m["parcels"]} == {"SF1008611"}  # not JD's
    assert client.get("/api/v1/messages?waybill=JD0020099", headers=sf).json() == []
    with transaction(rig.engine) as s:
        s.add(Site(id="elsewhere", operator_id="estates", name="Elsewhere", lat=31.3, lon=121.5))
    other = key(rig, Role.MANAGER, Scope(site_id="elsewhere"))
    assert client.get("/api/v1/banks/maple-court-3/messages", headers=other).status_code == 404
    assert client.get("/api/v1/banks/maple-court-3/messages", headers=sf).status_code == 403
    assert CODE not in client.get("/api/v1/messages", headers=sf).text


async def test_a_signed_receipt_marks_the_message_delivered_once(
    rig: Rig, client: TestClient
) -> None:
    message = await sent_group(rig)
    manager = key(rig, Role.MANAGER, Scope(site_id="maple"))
    assert receipt(client, rig, message, "delivered", sign="not the token") == 403
    assert receipt(client, rig, message, "sent") == 204  # nothing new
    assert receipt(client, rig, message, "delivered") == 204
    assert receipt(client, rig, message, "undelivered") == 204  # too late: it was delivered
    [seen] = deposits(client, manager)
    assert seen["state"] == "delivered"
    assert seen["delivered_at"] is not None
    assert receipt(client, rig, str(uuid.uuid4()), "delivered") == 204  # unknown: no tell


async def test_an_undeliverable_message_is_failed_by_its_receipt(
    rig: Rig, client: TestClient
) -> None:
    message = await sent_group(rig)
    assert receipt(client, rig, message, "undelivered") == 204
    manager = key(rig, Role.MANAGER, Scope(site_id="maple"))
    [seen] = deposits(client, manager)
    assert seen["state"] == "failed"
    assert "could not deliver" in seen["last_error"]


def test_a_malformed_receipt_is_refused_not_a_500(rig: Rig, client: TestClient) -> None:
    bad: list[tuple[str, dict[bytes, bytes]]] = [
        ("/api/v1/messages/receipts?key=../../etc", {}),
        ("/api/v1/messages/receipts", {}),
        (
            "/api/v1/messages/receipts?key=abc",
            {b"X-Twilio-Signature": "\u00e9\u00e9".encode("latin-1")},
        ),
    ]
    for url, headers in bad:
        answer = client.post(url, content=b"\xff\xfe=\x00", headers=headers)
        assert answer.status_code in (403, 422), (url, answer.status_code)
