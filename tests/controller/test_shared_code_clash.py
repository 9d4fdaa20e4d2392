"""A new pickup group's code is never one a shared code already opens: the person a recipient
shared their code with would otherwise open a stranger's parcels (the group's own code is tried
first at the kiosk)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controller import codes
from controller.codes import normalize_code
from locker_contract.credentials import new_salt, pin_verifier
from tests.controller.conftest import Bank
from tests.controller.test_flows import deposit_and_shut
from tests.controller.test_recipients import parcel, pickup, run

SHARED, FRESH = "24681357", "11112222"
OTHER = "13900139000"


async def test_a_new_groups_code_is_never_an_active_shared_code(
    bank: Bank, monkeypatch: pytest.MonkeyPatch
) -> None:
    courier = bank.courier("c1", "sf")
    first = deposit_and_shut(bank, courier, "SF1")
    salt = new_salt()
    share = {"type": "group.share", "group_id": parcel(bank, "SF1").group_id, "share_id": "sh1",
             "salt": salt, "verifier": pin_verifier(SHARED, salt)}  # fmt: skip
    assert await run(bank, share) == ("applied", "")
    drawn: Iterator[str] = iter([SHARED, FRESH])
    monkeypatch.setattr(codes, "new_code", lambda: next(drawn))
    second = deposit_and_shut(bank, courier, "SF2", phone=OTHER)  # another recipient
    assert normalize_code(str(second["pickup_code"])) == FRESH
    opened = bank.client.post("/api/pickup", json={"code": SHARED}).json()
    assert [d["compartment"] for d in opened] == [first["compartment"]]
    assert pickup(bank, FRESH) == 200
