"""The cloud's lifecycles (cloud/lifecycles.py): each table refuses a move it does not list with
``IllegalTransition`` (409), and each table's state is stored as the same text as ever and read
back as its enum, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from cloud.lifecycles import (
    ALARM,
    COMMAND,
    LIFECYCLES,
    PARCEL,
    QUARANTINE,
    RESERVATION,
    SHARE,
    AlarmState,
    CommandState,
    Lifecycle,
    ParcelStatus,
    QuarantineState,
    ReservationState,
    ShareState,
)
from cloud.models import (
    Alarm,
    Command,
    Compartment,
    InboundEvent,
    Parcel,
    QuarantinedEvent,
    Reservation,
    SharingPolicy,
)
from cloud.services.errors import Conflict, IllegalTransition
from tests.cloud.conftest import Cloud, fleet

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

ILLEGAL: list[tuple[Lifecycle[Any], StrEnum, StrEnum]] = [
    (RESERVATION, ReservationState.CANCELLED, ReservationState.ACTIVE),
    (RESERVATION, ReservationState.FULFILLED, ReservationState.CANCELLED),
    (COMMAND, CommandState.ACKNOWLEDGED, CommandState.EXPIRED),
    (COMMAND, CommandState.ACKNOWLEDGED, CommandState.PENDING),
    (PARCEL, ParcelStatus.PICKED_UP, ParcelStatus.RETURNED),
    (PARCEL, ParcelStatus.IN_LOCKER, ParcelStatus.ANNOUNCED),
    (ALARM, AlarmState.CLEARED, AlarmState.CLEARED),
    (SHARE, ShareState.ACCEPTED, ShareState.DECLINED),
    (SHARE, ShareState.WITHDRAWN, ShareState.WITHDRAWN),
    (QUARANTINE, QuarantineState.RELEASED, QuarantineState.DROPPED),
]


@pytest.mark.parametrize(("lifecycle", "current", "target"), ILLEGAL)
def test_each_table_refuses_an_illegal_move_with_the_named_error(
    lifecycle: Lifecycle[Any], current: StrEnum, target: StrEnum
) -> None:
    with pytest.raises(IllegalTransition) as refused:
        lifecycle.step(current, target)
    assert isinstance(refused.value, Conflict)
    assert refused.value.status == 409
    assert refused.value.message == f"a {lifecycle.name} cannot go from {current} to {target}"


def test_every_lifecycle_is_covered_and_allows_what_it_lists() -> None:
    assert {lc.name for lc, _, _ in ILLEGAL} == {lc.name for lc in LIFECYCLES}
    for lifecycle in LIFECYCLES:
        for current, targets in lifecycle.moves.items():
            for target in targets:
                assert lifecycle.step(current, target) is target


def test_a_reservation_cancelled_twice_is_an_illegal_transition(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}})
    made = cloud.ok(
        "POST", "/api/v1/reservations", cloud.keys["sf"], json={"bank_id": "maple", "size": "M"}
    )
    url = f"/api/v1/reservations/{made['id']}"
    assert cloud.ok("DELETE", url, cloud.keys["sf"])["state"] == "cancelled"
    again = cloud.call("DELETE", url, cloud.keys["sf"])
    assert again.status_code == 409
    assert again.json()["detail"] == "a reservation cannot go from cancelled to cancelled"


def _rows(s: Session) -> dict[str, Any]:
    """One row of each table with a lifecycle, in an end state."""
    compartment = s.exec(select(Compartment)).first()
    assert compartment is not None
    parcel = Parcel(
        carrier_id="sf",
        waybill="SF1",
        bank_id="maple",
        recipient_phone="1380013",
        consent="phone_call",
        status=ParcelStatus.PICKED_UP,
    )
    reservation = Reservation(
        carrier_id="sf",
        bank_id="maple",
        compartment_id=compartment.id,
        size="M",
        kind="hard",
        state=ReservationState.EXPIRED,
    )
    command = Command(bank_id="maple", type="keypad.reenable", state=CommandState.ACKNOWLEDGED)
    alarm = Alarm(bank_id="maple", kind="door.jammed", cleared_at=NOW)
    share = SharingPolicy(
        bank_id="maple", carrier_id="sf", guaranteed=1, ceiling=2, state=ShareState.WITHDRAWN
    )
    inbound = InboundEvent(event_id="e1", bank_id="maple", seq=1, type="door.closed")
    held = QuarantinedEvent(
        event_id="e1",
        bank_id="maple",
        seq=1,
        type="door.closed",
        raw="{}",
        reason="test",
        state=QuarantineState.DROPPED,
    )
    rows = {"parcel": parcel, "reservation": reservation, "command": command, "alarm": alarm}
    rows |= {"sharingpolicy": share, "inboundevent": inbound, "quarantinedevent": held}
    for row in rows.values():
        s.add(row)
        s.flush()
    return {name: row.id if hasattr(row, "id") else None for name, row in rows.items()}


def test_states_are_stored_as_text_and_read_back_as_enums(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}})
    engine: Engine = cloud.engine
    with Session(engine) as s, s.begin():
        ids = _rows(s)
    with engine.connect() as db:
        stored = {
            "parcel": db.execute(text("SELECT status FROM parcel")).scalar_one(),
            "reservation": db.execute(text("SELECT state FROM reservation")).scalar_one(),
            "command": db.execute(text("SELECT state FROM command")).scalar_one(),
            "share": db.execute(text("SELECT state FROM sharingpolicy")).scalar_one(),
            "quarantine": db.execute(text("SELECT state FROM quarantinedevent")).scalar_one(),
        }
    expected = {"parcel": "picked_up", "reservation": "expired", "command": "acknowledged"}
    assert stored == expected | {"share": "withdrawn", "quarantine": "dropped"}
    with Session(engine) as s:
        parcel = s.get_one(Parcel, ids["parcel"])
        reservation = s.get_one(Reservation, ids["reservation"])
        command = s.get_one(Command, ids["command"])
        alarm = s.get_one(Alarm, ids["alarm"])
        share = s.get_one(SharingPolicy, ("maple", "sf"))
        held = s.get_one(QuarantinedEvent, "e1")
        assert parcel.status is ParcelStatus.PICKED_UP
        assert reservation.state is ReservationState.EXPIRED
        assert command.state is CommandState.ACKNOWLEDGED
        assert alarm.state is AlarmState.CLEARED
        assert share.state is ShareState.WITHDRAWN
        assert held.state is QuarantineState.DROPPED
        moves: list[Callable[[], object]] = [
            lambda: PARCEL.step(parcel.status, ParcelStatus.RETURNED),
            lambda: RESERVATION.step(reservation.state, ReservationState.FULFILLED),
            lambda: COMMAND.step(command.state, CommandState.EXPIRED),
            lambda: alarm.clear(NOW),
            lambda: SHARE.step(share.state, ShareState.DECLINED),
            lambda: QUARANTINE.step(held.state, QuarantineState.RELEASED),
        ]
        for move in moves:
            with pytest.raises(IllegalTransition):
                move()
