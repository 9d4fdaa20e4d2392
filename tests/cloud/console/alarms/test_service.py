"""Alarms through ingest, as people see and handle them: raised, acknowledged, cleared by their
cause or closed by hand; a technical alarm refused closing while its cause persists; another
operator's or another site's alarms are not found."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session, col, select

from cloud.console.alarms.classes import AlarmClass
from cloud.console.alarms.service import acknowledge, close, get_alarm, list_alarms
from cloud.core.db import transaction
from cloud.lifecycles import AlarmState
from cloud.models import AuditEntry, Bank
from cloud.services.errors import Conflict, IllegalTransition, NotFound
from locker_contract.events import (
    BoardHealthChanged,
    DoorClosed,
    DoorForcedOpen,
    DoorJammed,
    DoorOpened,
    UnlockRequested,
)
from tests.cloud.console.alarms.conftest import World, at


def _open(world: World, name: str, bank: str | None = None) -> list[str]:
    with Session(world.engine) as s:
        found = list_alarms(s, world.person(name), bank_id=bank, open_only=True)
    return [f"{a.bank_id} {a.kind} {a.compartment} {a.state}" for a in found]


def _only(world: World, name: str, bank: str = "maple") -> str:
    with Session(world.engine) as s:
        [alarm] = list_alarms(s, world.person(name), bank_id=bank)
    return alarm.id


def test_a_forced_door_is_raised_acknowledged_and_cleared_when_shut(world: World) -> None:
    world.send("maple", DoorForcedOpen(compartment="A02"), at(0))
    assert _open(world, "Mo") == ["maple door.forced_open A02 raised"]
    alarm_id = _only(world, "Mo")
    seen = acknowledge(world.engine, world.person("Mo"), alarm_id, " on my way ", at(60))
    assert (seen.state, seen.klass, seen.acknowledged_by) == ("acknowledged", "tamper", "Mo")
    assert (seen.acknowledged_note, seen.acknowledged_at) == ("on my way", at(60))
    world.send("maple", DoorClosed(compartment="A02"), at(120))
    with Session(world.engine) as s:
        cleared = get_alarm(s, world.person("Ada"), alarm_id)
    assert (cleared.state, cleared.cleared_at, cleared.cleared_by) == ("cleared", at(120), None)
    assert not cleared.closable
    assert _open(world, "Mo") == []
    with pytest.raises(IllegalTransition):
        acknowledge(world.engine, world.person("Mo"), alarm_id, "", at(180))


def test_a_technical_alarm_is_refused_closing_while_its_cause_persists(world: World) -> None:
    intent = uuid.uuid4()
    world.send("maple", UnlockRequested(compartment="A01", intent_id=intent, reason="pickup",
                                        flow="pickup"), at(0))  # fmt: skip
    world.send("maple", DoorJammed(compartment="A01", intent_id=intent, jam_count=1), at(2))
    alarm_id = _only(world, "Ada")
    acknowledge(world.engine, world.person("Ada"), alarm_id, "sending a technician", at(10))
    with pytest.raises(Conflict) as refused:
        close(world.engine, world.person("Ada"), alarm_id, "fixed?", at(20))
    assert not isinstance(refused.value, IllegalTransition)
    assert refused.value.message == (
        "a door.jammed alarm cannot be closed while its cause persists: "
        "the door has not been seen to open since it jammed"
    )
    with Session(world.engine) as s:
        view = get_alarm(s, world.person("Ada"), alarm_id)
    assert (view.state, view.closable, view.klass) == ("acknowledged", False, "technical")
    again = uuid.uuid4()
    world.send("maple", UnlockRequested(compartment="A01", intent_id=again, reason="service",
                                        flow="remote"), at(30))  # fmt: skip
    world.send("maple", DoorOpened(compartment="A01", intent_id=again), at(31))
    assert _open(world, "Ada", "maple") == []  # the door worked: the jam cleared itself


def test_a_tamper_alarm_is_closed_by_hand_with_its_note_and_audited(world: World) -> None:
    world.send("maple", DoorForcedOpen(compartment="A03"), at(0))
    alarm_id = _only(world, "Mo")
    closed = close(world.engine, world.person("Mo"), alarm_id, "resident's child, shut now", at(5))
    assert (closed.state, closed.cleared_by, closed.cleared_at) == ("cleared", "Mo", at(5))
    with Session(world.engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "alarm.close")).one()
    assert (entry.actor, entry.target) == (f"person:{world.people['Mo']}", alarm_id)
    assert entry.detail["note"] == "resident's child, shut now"


def test_a_bank_offline_alarm_may_be_closed_once_the_bank_is_back(world: World) -> None:
    world.send("maple", BoardHealthChanged(bus="main", board=1, online=False), at(0))
    alarm_id = _only(world, "Ada")
    with pytest.raises(Conflict, match="the board has not reported back online"):
        close(world.engine, world.person("Ada"), alarm_id, "", at(1))
    with transaction(world.engine) as s:
        s.add(_stale_offline(s, world))
    with Session(world.engine) as s:
        [offline] = list_alarms(s, world.person("Ada"), bank_id="oak")
    assert offline.closable  # oak is online: its alarm's clear is only late
    assert close(world.engine, world.person("Ada"), offline.id, "", at(2)).state == "cleared"


def _stale_offline(s: Session, world: World) -> Bank:
    from cloud.services import alarms

    alarms.raise_open(s, ["oak"], "bank.offline", at=at(0))
    bank = s.get_one(Bank, "oak")
    bank.online = True
    return bank


def test_listing_filters_by_state_class_and_place(world: World) -> None:
    world.send("maple", DoorForcedOpen(compartment="A01"), at(0))
    world.send("maple", BoardHealthChanged(bus="main", board=1, online=False), at(1))
    world.send("oak", DoorForcedOpen(compartment="A02"), at(2))
    ada = world.person("Ada")
    with Session(world.engine) as s:
        tamper = list_alarms(s, ada, klass=AlarmClass.TAMPER)
        technical = list_alarms(s, ada, klass=AlarmClass.TECHNICAL)
        at_oak = list_alarms(s, ada, site_id=world.sites["oak"])
        raised = list_alarms(s, ada, state=AlarmState.RAISED)
        cleared = list_alarms(s, ada, state=AlarmState.CLEARED)
    assert [a.bank_id for a in tamper] == ["oak", "maple"]  # newest first
    assert [a.kind for a in technical] == ["board.offline"]
    assert [a.compartment for a in at_oak] == ["A02"]
    assert (len(raised), cleared) == (3, [])


def test_another_operators_or_sites_alarms_are_not_found(world: World) -> None:
    world.send("maple", DoorForcedOpen(compartment="A01"), at(0))
    world.send("oak", DoorForcedOpen(compartment="A01"), at(0))
    world.send("pine", DoorForcedOpen(compartment="A01"), at(0))
    maple = _only(world, "Ada", "maple")
    oak = _only(world, "Ada", "oak")
    olga, mo = world.person("Olga"), world.person("Mo")
    with Session(world.engine) as s:
        assert [a.bank_id for a in list_alarms(s, olga)] == ["pine"]
        assert [a.bank_id for a in list_alarms(s, mo)] == ["maple"]
        for person, alarm in ((olga, maple), (mo, oak)):
            with pytest.raises(NotFound):
                get_alarm(s, person, alarm)
        with pytest.raises(NotFound):
            list_alarms(s, mo, site_id=world.sites["oak"])
        with pytest.raises(NotFound):
            list_alarms(s, olga, bank_id="maple")
    for act in (acknowledge, close):
        with pytest.raises(NotFound):
            act(world.engine, olga, maple, "", at(1))
        with pytest.raises(NotFound):
            act(world.engine, mo, oak, "", at(1))
    with Session(world.engine) as s:
        untouched = get_alarm(s, world.person("Ada"), maple)
        audited = s.exec(select(AuditEntry).where(col(AuditEntry.action).like("alarm.%"))).all()
    assert (untouched.state, audited) == ("raised", [])
