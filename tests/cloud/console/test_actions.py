"""The console's actions on a bank, taken by a person: each returns its command, is audited
with the person, and its state is followed live until the bank answers; scoped by person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from cloud.console import actions
from cloud.console.actions import Live
from cloud.core.db import transaction
from cloud.models import AuditEntry
from cloud.services.commands import acknowledge, due
from cloud.services.errors import Forbidden, Invalid, NotFound
from tests.cloud.console.alarms.conftest import World, world

__all__ = ["world"]


def _state(w: World, command_id: str, name: str = "Ada") -> actions.CommandView:
    person = w.person(name)
    with Session(w.engine) as s:
        return actions.command_state(s, person, command_id)


def test_a_remote_open_is_audited_with_the_person_and_followed_until_answered(w: World) -> None:
    mo = w.person("Mo")
    command = actions.remote_open(w.engine, mo, "maple", "A02", " parcel stuck behind the door ")
    assert command.type == "door.open"
    assert command.payload["reason"] == "parcel stuck behind the door"
    with Session(w.engine) as s:
        query = select(AuditEntry).where(col(AuditEntry.action) == "command:door.open")
        entry = s.exec(query).one()
    assert (entry.actor, entry.target) == (f"person:{w.people['Mo']}", "maple")
    assert entry.detail["command_id"] == command.id
    assert _state(w, command.id, "Mo").state is Live.PENDING
    due(w.engine, 30.0, secret_key=w.cloud.settings.secret_key)
    assert _state(w, command.id).state is Live.SENT
    with transaction(w.engine) as s:
        acknowledge(s, command.id, "applied", "door A02 opened")
    answered = _state(w, command.id)
    assert (answered.state, answered.outcome, answered.detail) == (
        Live.ACKED, "applied", "door A02 opened",
    )  # fmt: skip


def test_a_rejected_command_failed_and_an_unanswered_one_expires(w: World) -> None:
    ada = w.person("Ada")
    keypad = actions.reenable_keypad(w.engine, ada, "maple")
    with transaction(w.engine) as s:
        acknowledge(s, keypad.id, "rejected", "no lockout")
    assert _state(w, keypad.id).state is Live.FAILED
    off = actions.set_maintenance(w.engine, ada, "oak", on=True)
    later = off.created_at + timedelta(seconds=off.ttl_s + 1)
    due(w.engine, 30.0, later, secret_key=w.cloud.settings.secret_key)
    assert _state(w, off.id).state is Live.EXPIRED


def test_a_reason_is_required_and_roles_and_sites_are_kept(w: World) -> None:
    ada, mo, olga = w.person("Ada"), w.person("Mo"), w.person("Olga")
    with pytest.raises(Invalid):
        actions.remote_open(w.engine, ada, "maple", "A01", "   ")
    with pytest.raises(Forbidden):
        actions.set_maintenance(w.engine, mo, "maple", on=True)
    with pytest.raises(Forbidden):
        actions.set_service(w.engine, mo, "maple", "A01", in_service=False, reason="broken")
    with pytest.raises(NotFound):
        actions.remote_open(w.engine, mo, "oak", "A01", "not my site")
    with pytest.raises(NotFound):
        actions.remote_open(w.engine, olga, "maple", "A01", "not my operator")
    with pytest.raises(NotFound):
        actions.remote_open(w.engine, ada, "maple", "Z99", "no such door")
    made = actions.set_service(w.engine, ada, "maple", "A01", in_service=False, reason="hinge")
    assert made.payload == {"compartment": "A01", "in_service": False, "reason": "hinge"}
    for name in ("Olga", "Mo"):
        other = actions.reenable_keypad(w.engine, ada, "oak")
        with pytest.raises(NotFound):
            _state(w, other.id, name)


@pytest.fixture
def w(world: World) -> World:
    return world


@pytest.mark.parametrize("reason", ["卡住", "ok", "door\x07stuck"])
def test_a_reason_the_banks_command_cannot_carry_is_invalid_not_a_500(
    w: World, reason: str
) -> None:
    # a remote open's reason is 3 to 200 printable characters in the contract: "卡住" (stuck)
    # passed the console's check and failed building the command (a ValidationError, a 500)
    with pytest.raises(Invalid, match="say why"):
        actions.remote_open(w.engine, w.person("Mo"), "maple", "A02", reason)
    with pytest.raises(Invalid, match="say why"):
        actions.set_service(
            w.engine, w.person("Ada"), "maple", "A01", in_service=False, reason=reason[-1:] + "\x00"
        )
    with Session(w.engine) as s:
        assert (
            s.exec(select(AuditEntry).where(col(AuditEntry.action).startswith("command:"))).all()
            == []
        )
