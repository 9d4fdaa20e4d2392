"""The bank page: the door grid derived from parcels, holds, service and alarms; a door's
history; the bank's actions with their answers; another operator's bank is not found."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from cloud.console.views.bank import DoorState, actions, bank, door_history
from cloud.core.db import transaction
from cloud.models import Role
from cloud.services import operations, presence
from cloud.services.auth import Principal
from cloud.services.commands import acknowledge
from cloud.services.errors import NotFound
from locker_contract.events import DoorClosed, DoorJammed, DoorLeftOpen
from locker_contract.messages import BankState, CompartmentState
from tests.cloud.console.views.conftest import World


def operator(world: World) -> Principal:
    return Principal(key_id="ann", role=Role.OPERATOR, operator_id=world.operators["alpha"])


def grid(world: World) -> dict[str, tuple[DoorState, str | None]]:
    view = bank(world.engine, world.reader("alpha"), "alpha")
    return {d.label: (d.state, d.carrier_id) for d in view.doors}


def test_the_door_grid(world: World) -> None:
    assert grid(world) == {
        "A01": (DoorState.FORCED, None),  # empty, its door forced
        "A02": (DoorState.OCCUPIED, "jd"),
        "A03": (DoorState.OCCUPIED, "sf"),  # refused, waiting for its return
        "A04": (DoorState.RESERVED, "sf"),
        "A05": (DoorState.OUT_OF_SERVICE, None),
    }
    view = bank(world.engine, world.reader("alpha"), "alpha")
    assert view.row.open_alarms == 1
    assert view.row.load.in_locker == 2
    assert view.doors[1].waybill == "W2002"
    assert view.doors[0].alarms == ("door.forced_open",)
    assert view.maintenance is None  # the bank never reported its state


def test_jammed_and_left_open_and_the_banks_own_report(world: World) -> None:
    world.send("alpha", DoorJammed(compartment="A02", intent_id=uuid.uuid4(), jam_count=1))
    world.send("alpha", DoorLeftOpen(compartment="A03", open_for_s=120))
    assert grid(world)["A02"] == (DoorState.JAMMED, "jd")
    assert grid(world)["A03"] == (DoorState.OPEN, "sf")
    world.send("alpha", DoorClosed(compartment="A03"))  # clears the left-open alarm
    assert grid(world)["A03"] == (DoorState.OCCUPIED, "sf")
    reported = [
        CompartmentState(label="A04", size="M", in_service=True, door="open", occupied=False),
        CompartmentState(label="A02", size="S", in_service=False, door="closed", occupied=True),
    ]
    state = BankState(time=datetime(2026, 12, 1, tzinfo=UTC), maintenance=True,
                      compartments=reported)  # fmt: skip
    presence.record_state(world.engine, "alpha", state)
    assert grid(world)["A04"] == (DoorState.OPEN, "sf")
    assert grid(world)["A02"] == (DoorState.JAMMED, "jd")  # an alarm outranks the report
    assert bank(world.engine, world.reader("alpha"), "alpha").maintenance is True


def test_another_operators_bank_and_an_unknown_door_are_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        bank(world.engine, world.reader("alpha"), "gamma")
    with pytest.raises(NotFound):
        bank(world.engine, world.reader("beta"), "alpha")  # same operator, not its site
    with pytest.raises(NotFound):
        actions(world.engine, world.reader("gamma"), "alpha")
    with pytest.raises(NotFound):
        door_history(world.engine, world.reader("gamma"), "alpha", "A02")
    with pytest.raises(NotFound):
        door_history(world.engine, world.reader("alpha"), "alpha", "Z99")


def test_a_doors_history_and_the_banks_actions(world: World) -> None:
    opened = operations.remote_open(world.engine, operator(world), "alpha", "A02", "stuck door")
    operations.set_maintenance(world.engine, operator(world), "alpha", on=True)
    answered = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with transaction(world.engine) as s:
        acknowledge(s, opened.id, "applied", "opened", at=answered)
    history = door_history(world.engine, world.reader("alpha"), "alpha", "A02")
    assert [(e.kind, e.what) for e in history] == [
        ("command", "door.open"),
        ("parcel", "in_locker"),
    ]
    assert history[0].detail == "applied"
    assert history[1].detail == "jd W2002"
    a01 = door_history(world.engine, world.reader("alpha"), "alpha", "A01")
    assert [(e.kind, e.what) for e in a01] == [
        ("alarm", "door.forced_open"),
        ("parcel", "picked_up"),
        ("parcel", "in_locker"),
    ]
    done = actions(world.engine, world.reader("alpha"), "alpha")
    assert [a.type for a in done[:2]] == ["bank.maintenance", "door.open"]
    door_open = done[1]
    assert (door_open.outcome, door_open.answered_at) == ("applied", answered)
    assert door_open.detail == {
        "compartment": "A02",
        "reason": "stuck door",
        "requested_by": "operator:ann",
    }
    assert done[0].outcome is None
    assert done[0].detail == {"on": True}
    assert len(actions(world.engine, world.reader("alpha"), "alpha", limit=1)) == 1
