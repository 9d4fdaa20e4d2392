"""A recipient's commands at the bank: a shared second code, a parcel refused from afar, a
standing refusal of locker delivery, one more stretch of storage (decision 0018)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from controller import recipients
from controller.commands import CommandRunner
from controller.kiosk.i18n import flow_message
from controller.shared_codes import SharedCode
from controller.store import Outbox, Parcel
from locker_contract.commands import CommandEnvelope
from locker_contract.credentials import new_salt, pin_verifier
from locker_contract.phones import phone_verifier
from tests.controller.conftest import Bank
from tests.controller.test_flows import deposit_and_shut, shut
from tests.waiting import wait_until

PHONE = "13800138000"


async def run(bank: Bank, body: Mapping[str, object]) -> tuple[str, str]:
    runner = CommandRunner(bank.edge.engine, bank.edge.key, lambda: None)
    envelope = CommandEnvelope.model_validate(
        {"command_id": str(uuid.uuid4()), "sent_at": datetime.now(UTC), "ttl_s": 60,
         "command": body}
    )  # fmt: skip
    ack = await runner.run(envelope, 60.0)
    return ack.outcome, ack.detail


def parcel(bank: Bank, waybill: str) -> Parcel:
    with bank.session() as s:
        return s.exec(select(Parcel).where(Parcel.waybill == waybill)).one()


def pickup(bank: Bank, code: str) -> int:
    return int(bank.client.post("/api/pickup", json={"code": code}).status_code)


async def test_a_shared_code_opens_the_group_until_revoked(bank: Bank) -> None:
    courier = bank.courier("c1", "sf")
    made = deposit_and_shut(bank, courier, "SF1")
    group = parcel(bank, "SF1").group_id
    salt, second = new_salt(), "24681357"
    share = {"type": "group.share", "group_id": group, "share_id": "sh1", "salt": salt,
             "verifier": pin_verifier(second, salt)}  # fmt: skip
    assert await run(bank, share) == ("applied", "")
    with bank.session() as s:  # the bank keeps no code, only the verifier under its own key
        [row] = s.exec(select(SharedCode))
        assert second not in row.record
        assert row.record != share["verifier"]
    assert await run(bank, {"type": "group.unshare", "share_id": "sh1"}) == ("applied", "")
    assert pickup(bank, second) == 401
    assert await run(bank, share | {"share_id": "sh2"}) == ("applied", "")
    assert pickup(bank, "2468 1357") == 200  # as a scanner or a person types it
    shut(bank, str(made["compartment"]))
    wait_until(lambda: parcel(bank, "SF1").state == "picked_up", what="the parcel taken")
    assert pickup(bank, str(made["pickup_code"])) == 401  # the group ended: both codes with it


async def test_a_share_for_no_waiting_group_is_rejected(bank: Bank) -> None:
    salt = new_salt()
    share = {"type": "group.share", "group_id": str(uuid.uuid4()), "share_id": "sh1",
             "salt": salt, "verifier": pin_verifier("24681357", salt)}  # fmt: skip
    outcome, _ = await run(bank, share)
    assert outcome == "rejected"


async def test_a_parcel_refused_from_afar_becomes_a_return(bank: Bank) -> None:
    courier = bank.courier("c1", "sf")
    made = deposit_and_shut(bank, courier, "SF1")
    deposit_and_shut(bank, courier, "SF2", phone=PHONE)
    group = parcel(bank, "SF1").group_id
    refuse = {"type": "parcel.refuse", "group_id": group, "carrier_id": "sf",
              "waybill": "SF1", "reason": "not ordered"}  # fmt: skip
    assert await run(bank, refuse) == ("applied", "")
    assert parcel(bank, "SF1").state == "return_pending"
    assert parcel(bank, "SF2").state == "in_locker"
    with bank.session() as s:
        rows = s.exec(select(Outbox).where(Outbox.type == "parcel.refused"))
        [body] = [json.loads(r.body) for r in rows]
    assert body["waybill"] == "SF1"
    assert "not ordered" in body["reason"]
    assert (await run(bank, refuse))[0] == "rejected"  # a second command: nothing left to refuse
    other = {**refuse, "carrier_id": "jd", "waybill": "SF2"}
    assert (await run(bank, other))[0] == "rejected"  # another carrier's waybill is not this
    assert pickup(bank, str(made["pickup_code"])) == 200  # SF2 still opens with the code


async def test_a_recipient_who_said_no_gets_no_deposit(bank: Bank) -> None:
    courier = bank.courier("c1", "sf")
    salt = new_salt()
    said_no = {"type": "recipient.refusal", "salt": salt,
               "verifier": phone_verifier("138-0013-8000", salt), "refused": True}  # fmt: skip
    assert await run(bank, said_no) == ("applied", "")
    body = {"waybill": "SF1", "phone": PHONE, "size": "M", "consent": "phone_call"}
    answer = bank.client.post("/api/deposits", json=body, headers=courier)
    assert answer.status_code == 409
    assert answer.json()["detail"] == recipients.DECLINED
    other = bank.client.post("/api/deposits", json=body | {"phone": "13900139000"},
                             headers=courier)  # fmt: skip
    assert other.status_code == 201
    shut(bank, other.json()["compartment"])
    assert await run(bank, said_no | {"refused": False}) == ("applied", "")
    again = bank.client.post("/api/deposits", json=body | {"waybill": "SF2"}, headers=courier)
    assert again.status_code == 201, again.text


async def test_one_extension_per_group(bank: Bank) -> None:
    courier = bank.courier("c1", "sf")
    deposit_and_shut(bank, courier, "SF1")
    group = parcel(bank, "SF1").group_id
    extend = {"type": "group.extend", "group_id": group, "hours": 24}
    assert await run(bank, extend) == ("applied", "")
    assert await run(bank, extend | {"hours": 48}) == ("applied", "")  # the first one holds
    with bank.session() as s:
        assert recipients.extension(s, group) == timedelta(hours=24)
        assert recipients.extension(s, None) == timedelta()
        assert s.exec(select(Parcel).where(col(Parcel.group_id) == group)).one()


def test_the_kiosk_says_the_refusal_in_chinese() -> None:
    assert flow_message(recipients.DECLINED, "zh") == "收件人已拒绝快递柜投递，请送货上门"
