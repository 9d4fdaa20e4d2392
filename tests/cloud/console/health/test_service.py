"""Door health as the console shows it: doors judged from weeks of their events, proposals for
quarantine (a latch slowing down before it jams; a door that jams), and the one-click
quarantine that takes a door out of allocation at once and tells the bank; scoped by person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from cloud.console.health.service import door_days, door_health, proposals, quarantine_door
from cloud.models import AuditEntry, Command, Compartment
from cloud.services.errors import Forbidden, NotFound
from locker_contract.events import CompartmentService
from tests.cloud.console.alarms.conftest import World, at
from tests.cloud.console.health.conftest import Items, jam, use

DAY = 24 * 3600.0
NOW = at(13 * DAY + 3600)  # the 14th day


@pytest.fixture
def weeks(world: World) -> World:
    """Two weeks at maple: A01 healthy, A03's latch slowing from 0.7 s to 1.4 s over the last
    three days, A02 jamming on three days; oak's doors healthy."""
    for day in range(14):
        items: Items = []
        for n in range(3):
            when = at(day * DAY + n * 3600)
            use(items, "maple", "A01", when, 0.7)
            use(items, "maple", "A03", when, 1.4 if day >= 11 else 0.7)
            use(items, "oak", "A01", when, 0.8)
        if day in (4, 9, 12):
            jam(items, "maple", "A02", at(day * DAY + 4 * 3600))
        world.send_all(items)  # a day's events in one batch
    return world


def test_each_door_is_judged_over_the_window(weeks: World) -> None:
    with Session(weeks.engine) as s:
        doors = {h.label: h for h in door_health(s, weeks.person("Mo"), "maple", at=NOW)}
    assert list(doors) == ["A01", "A02", "A03", "A04"]
    healthy, jammed, slowing, unused = doors["A01"], doors["A02"], doors["A03"], doors["A04"]
    assert (healthy.score, healthy.proposed, healthy.unlocks) == (100, False, 42)
    assert healthy.mean_latency_ms == pytest.approx(700)
    assert (jammed.jams, jammed.reasons, jammed.proposed) == (3, ("jams",), True)
    assert slowing.reasons == ("slowing",)
    assert slowing.recent_latency_ms == pytest.approx(1400)
    assert (slowing.max_latency_ms, slowing.score) == (1400, 80)
    assert (unused.unlocks, unused.mean_latency_ms, unused.proposed) == (0, None, False)


def test_the_window_forgets_old_faults(weeks: World) -> None:
    later, ada = NOW + timedelta(days=14), weeks.person("Ada")
    with Session(weeks.engine) as s:
        assert proposals(s, ada, at=later) == []
        days = door_days(s, ada, "maple", "A03", at=NOW)
    assert len(days) == 14
    assert days[-1].mean_latency_ms == pytest.approx(1400)


def test_proposals_are_the_persons_own_lowest_score_first(weeks: World) -> None:
    ada, mo, olga = (weeks.person(name) for name in ("Ada", "Mo", "Olga"))
    with Session(weeks.engine) as s:
        mine = proposals(s, ada, at=NOW)
        managers = proposals(s, mo, at=NOW)
        others = proposals(s, olga, at=NOW)
        with pytest.raises(NotFound):
            door_health(s, olga, "maple", at=NOW)
    assert [(h.bank_id, h.label) for h in mine] == [("maple", "A02"), ("maple", "A03")]
    assert managers == mine
    assert others == []


def test_one_click_quarantine_takes_the_door_out_of_allocation_and_tells_the_bank(
    weeks: World,
) -> None:
    with pytest.raises(Forbidden):
        quarantine_door(weeks.engine, weeks.person("Mo"), "maple", "A02", NOW)
    with pytest.raises(NotFound):
        quarantine_door(weeks.engine, weeks.person("Olga"), "maple", "A02", NOW)
    with pytest.raises(NotFound):
        quarantine_door(weeks.engine, weeks.person("Ada"), "maple", "Z99", NOW)
    command = quarantine_door(weeks.engine, weeks.person("Ada"), "maple", "A02", NOW)
    assert command.type == "compartment.service"
    assert command.payload["compartment"] == "A02"
    assert command.payload["in_service"] is False
    ada = weeks.person("Ada")
    with Session(weeks.engine) as s:
        door = s.exec(select(Compartment).where(Compartment.bank_id == "maple",
                                                Compartment.label == "A02")).one()  # fmt: skip
        assert s.get(Command, command.id) is not None
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "door.quarantine")).one()
        left = [(h.label, h.proposed) for h in proposals(s, ada, at=NOW)]
    assert door.in_service is False
    assert (audited.actor, audited.target) == (f"person:{weeks.people['Ada']}", "maple/A02")
    assert left == [("A03", True)]
    cloud = weeks.cloud
    labels = []
    for _ in range(3):
        made = cloud.ok("POST", "/api/v1/reservations", cloud.keys["sf"],
                        json={"bank_id": "maple", "size": "M"})  # fmt: skip
        labels.append(made["compartment"])
    assert sorted(labels) == ["A01", "A03", "A04"]
    full = cloud.call("POST", "/api/v1/reservations", cloud.keys["sf"],
                      json={"bank_id": "maple", "size": "M"})  # fmt: skip
    assert full.status_code == 409


def _hold(world: World) -> dict[str, object]:
    cloud = world.cloud
    made = cloud.ok("POST", "/api/v1/reservations", cloud.keys["sf"],
                    json={"bank_id": "maple", "size": "M", "kind": "hard"})  # fmt: skip
    return dict(made)


def _pushed(world: World) -> list[dict[str, object]]:
    with Session(world.engine) as s:
        rows = s.exec(select(Command).where(Command.type == "reservation.push"))
        return [c.payload for c in rows]


def test_a_quarantined_doors_reservation_moves_to_another_door_or_is_unfulfillable(
    world: World,
) -> None:
    # a hard hold stays until its deposit: on a door out of service it waited for ever, and
    # held the door once it was back in service
    ada, cloud = world.person("Ada"), world.cloud
    held = _hold(world)
    quarantine_door(world.engine, ada, "maple", str(held["compartment"]), at(60))
    moved = cloud.ok("GET", f"/api/v1/reservations/{held['id']}", cloud.keys["sf"])
    assert moved["state"] == "active"
    assert moved["compartment"] not in (None, held["compartment"])
    assert {"reservation_id": held["id"], "carrier_id": "sf",
            "compartment": moved["compartment"]}.items() <= _pushed(world)[-1].items()  # fmt: skip
    others = [_hold(world) for _ in range(2)]  # maple's four M doors: one out, three held
    quarantine_door(world.engine, ada, "maple", str(others[0]["compartment"]), at(120))
    stranded = cloud.ok("GET", f"/api/v1/reservations/{others[0]['id']}", cloud.keys["sf"])
    assert stranded["state"] == "unfulfillable"


def test_a_door_the_bank_takes_out_of_service_gives_up_its_hold_too(world: World) -> None:
    # the bank takes a door that keeps jamming out itself (compartment.service), and an
    # operator's "service out" action is applied when the bank reports it: the same move
    held = _hold(world)
    label = str(held["compartment"])
    world.send("maple", CompartmentService(compartment=label, in_service=False, reason="jams"),
               at(60))  # fmt: skip
    moved = world.cloud.ok("GET", f"/api/v1/reservations/{held['id']}", world.cloud.keys["sf"])
    assert moved["state"] == "active"
    assert moved["compartment"] not in (None, label)
    world.send("maple", CompartmentService(compartment=label, in_service=True, reason="fixed"),
               at(120))  # fmt: skip
    again = world.cloud.ok("GET", f"/api/v1/reservations/{held['id']}", world.cloud.keys["sf"])
    assert again["compartment"] == moved["compartment"]  # back in service: nothing moves back
