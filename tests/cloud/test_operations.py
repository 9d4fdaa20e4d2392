"""Operating banks from afar: each action is a command for the bank, audited, role-checked and
scoped."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select

from cloud.models import AuditEntry, Command
from locker_contract.commands import CommandAdapter
from tests.cloud.conftest import Cloud, fleet

BANKS = {"east-1": {"M": 4}, "west-1": {"M": 4}}


@pytest.fixture
def ops(cloud: Cloud) -> Cloud:
    fleet(cloud, BANKS)
    return cloud


def commands(cloud: Cloud, type_: str) -> list[Command]:
    engine = cloud.engine
    with Session(engine) as s:
        query = select(Command).where(Command.type == type_).order_by(col(Command.created_at))
        return list(s.exec(query))


def test_remote_open_is_a_command_with_its_reason_and_who_asked(ops: Cloud) -> None:
    body = {"reason": "parcel stuck behind the door"}
    made = ops.call("POST", "/api/v1/banks/east-1/compartments/A02/open",
                    ops.keys["manager:east-1"], json=body)  # fmt: skip
    assert made.status_code == 202, made.text
    assert made.json()["state"] == "pending"
    [command] = commands(ops, "door.open")
    assert command.payload["reason"] == body["reason"]
    assert str(command.payload["requested_by"]).startswith("manager:")
    CommandAdapter.validate_python({"type": command.type, **command.payload})
    engine = ops.engine
    with Session(engine) as s:
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "command:door.open")).one()
        assert audited.role == "manager"
        assert audited.detail["reason"] == body["reason"]
    listed = ops.ok("GET", "/api/v1/banks/east-1/commands", ops.keys["operator"])
    assert [c["type"] for c in listed if c["type"] == "door.open"] == ["door.open"]


def test_operations_are_scoped_and_role_checked(ops: Cloud) -> None:
    body = {"reason": "parcel stuck"}
    elsewhere = ops.call("POST", "/api/v1/banks/west-1/compartments/A01/open",
                         ops.keys["manager:east-1"], json=body)  # fmt: skip
    assert elsewhere.status_code == 404  # another site's bank does not exist for this manager
    missing = ops.call("POST", "/api/v1/banks/east-1/compartments/Z09/open",
                       ops.keys["operator"], json=body)  # fmt: skip
    assert missing.status_code == 404
    carrier = ops.call("POST", "/api/v1/banks/east-1/compartments/A01/open", ops.keys["sf"],
                       json=body)  # fmt: skip
    assert carrier.status_code == 403
    manager = ops.call("PUT", "/api/v1/banks/east-1/maintenance", ops.keys["manager:east-1"],
                       json={"on": True})  # fmt: skip
    assert manager.status_code == 403
    assert commands(ops, "door.open") == []
    assert commands(ops, "bank.maintenance") == []


def test_maintenance_service_and_keypad_become_commands(ops: Cloud) -> None:
    key = ops.keys["operator"]
    ops.ok("PUT", "/api/v1/banks/east-1/maintenance", key, json={"on": True})
    ops.ok("PUT", "/api/v1/banks/east-1/compartments/A03/service", key,
           json={"in_service": False, "reason": "hinge"})  # fmt: skip
    ops.ok("POST", "/api/v1/banks/east-1/keypad/reenable", key)
    assert [c.payload for c in commands(ops, "bank.maintenance")] == [{"on": True}]
    [service] = commands(ops, "compartment.service")
    assert service.payload == {"compartment": "A03", "in_service": False, "reason": "hinge"}
    assert len(commands(ops, "keypad.reenable")) == 1


# couriers' codes and the shares they follow: tests/cloud/test_shares.py
