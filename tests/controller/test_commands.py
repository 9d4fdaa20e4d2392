"""The cloud's commands at the edge: applied at most once, refused when expired, always answered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from controller.codes import pin_matches
from controller.commands import CommandRunner
from controller.doors import DoorOutcome
from controller.link import EdgeLink
from controller.store import (
    AppliedCommand,
    CarrierPolicy,
    Compartment,
    Courier,
    CourierCode,
    Expected,
    Hold,
    event_types,
    get_setting,
    transaction,
)
from locker_contract.commands import CommandEnvelope
from locker_contract.credentials import day_bounds, new_salt, pin_verifier
from locker_contract.messages import EventsAck
from tests.linkbench import EdgeSide

TODAY = datetime.now(UTC).date().isoformat()
_STARTS, _ENDS = day_bounds(datetime.now(UTC).date())
TODAY_BOUNDS = {"day": TODAY, "starts_at": _STARTS, "ends_at": _ENDS}  # a courier's code today


class FakeOpener:
    """Stands in for the door supervisor; records what it was asked and checks the record."""

    def __init__(self, engine: Any, outcome: DoorOutcome = DoorOutcome.OPENED) -> None:
        self.engine = engine
        self.outcome = outcome
        self.calls: list[tuple[str, str, str]] = []

    async def unlock(self, label: str, *, reason: str, flow: str, ref: str) -> DoorOutcome:
        with Session(self.engine) as s:  # at most once: the id is recorded before the frame
            assert s.get(AppliedCommand, ref) is not None
        if label not in {"A01", "A02"}:
            raise KeyError(label)
        self.calls.append((label, reason, flow))
        return self.outcome


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[EdgeSide]:
    side = EdgeSide.create(tmp_path, "maple-court-3", "mqtt://127.0.0.1:1")
    yield side
    side.engine.dispose()


def envelope(body: Mapping[str, object], ttl_s: float = 60.0) -> CommandEnvelope:
    return CommandEnvelope.model_validate(
        {"command_id": str(uuid.uuid4()), "sent_at": datetime.now(UTC), "ttl_s": ttl_s,
         "command": body}
    )  # fmt: skip


async def test_every_command_type_has_its_effect(edge: EdgeSide) -> None:
    runner = CommandRunner(edge.engine, edge.key, lambda: None)
    salt = new_salt()
    bodies: list[dict[str, object]] = [
        {"type": "reservation.push", "reservation_id": "r1", "carrier_id": "jd",
         "compartment": "A03"},
        {"type": "policy.push", "carrier_id": "jd", "guaranteed": 2, "ceiling": 5},
        {"type": "parcel.announce", "waybill": "JD1", "carrier_id": "jd",
         "recipient_phone": "138-0013-8000", "consent": "sms_reply"},
        {"type": "courier.push", "courier_id": "jd-7", "carrier_id": "jd", "name": "Li",
         "codes": [{**TODAY_BOUNDS, "salt": salt, "verifier": pin_verifier("24681357", salt)}]},
        {"type": "compartment.service", "compartment": "B01", "in_service": False,
         "reason": "hinge"},
        {"type": "bank.maintenance", "on": True},
        {"type": "keypad.reenable"},
    ]  # fmt: skip
    for body in bodies:
        ack = await runner.run(envelope(body), 60)
        assert (ack.outcome, ack.repeat) == ("applied", False), (body, ack)
    with transaction(edge.engine) as s:
        assert s.get_one(Hold, "r1").carrier == "jd"
        assert s.get_one(CarrierPolicy, "jd").ceiling == 5
        assert s.get_one(Expected, ("jd", "JD1")).recipient_phone == "13800138000"
        assert s.get_one(Courier, "jd-7").carrier == "jd"
        code = s.get_one(CourierCode, ("jd-7", TODAY))
        assert pin_matches(edge.key, "24681357", code.salt, code.code_hash)
        assert not pin_matches(edge.key, "24681358", code.salt, code.code_hash)
        assert not s.get_one(Compartment, "B01").in_service
        assert get_setting(s, "maintenance") == "on"
        assert event_types(s) == ["compartment.service", "bank.maintenance", "storage.outage"]
    withdrawn = await runner.run(envelope({"type": "reservation.withdraw",
                                           "reservation_id": "r1"}), 60)  # fmt: skip
    revoked = await runner.run(envelope({"type": "courier.revoke", "courier_id": "jd-7"}), 60)
    assert withdrawn.outcome == revoked.outcome == "applied"
    with transaction(edge.engine) as s:
        assert s.get(Hold, "r1") is None
        assert s.get_one(Courier, "jd-7").revoked


async def test_a_repeat_is_answered_with_its_first_outcome_and_not_applied(edge: EdgeSide) -> None:
    runner = CommandRunner(edge.engine, edge.key, lambda: None)
    command = envelope({"type": "bank.maintenance", "on": True})
    first = await runner.run(command, 60)
    again = await runner.run(command, 60)
    assert (first.outcome, first.repeat) == ("applied", False)
    assert (again.outcome, again.repeat) == ("applied", True)
    with transaction(edge.engine) as s:
        assert event_types(s) == ["bank.maintenance", "storage.outage"]


async def test_an_expired_command_is_refused_and_stays_refused(edge: EdgeSide) -> None:
    runner = CommandRunner(edge.engine, edge.key, lambda: None)
    command = envelope({"type": "bank.maintenance", "on": True})
    assert (await runner.run(command, -5)).outcome == "expired"
    later = await runner.run(command, 60)  # a copy that claims time left changes nothing
    assert (later.outcome, later.repeat) == ("expired", True)
    with transaction(edge.engine) as s:
        assert get_setting(s, "maintenance") == ""
        assert event_types(s) == []


async def test_a_command_the_bank_cannot_apply_is_rejected_with_a_reason(edge: EdgeSide) -> None:
    runner = CommandRunner(edge.engine, edge.key, lambda: None)
    bad = {"type": "policy.push", "carrier_id": "jd", "guaranteed": 5, "ceiling": 2}
    assert (await runner.run(envelope(bad), 60)).outcome == "rejected"
    with transaction(edge.engine) as s:
        assert s.get(CarrierPolicy, "jd") is None  # nothing half-applied


async def test_a_revocation_wins_whichever_order_the_commands_arrive_in(edge: EdgeSide) -> None:
    runner = CommandRunner(edge.engine, edge.key, lambda: None)
    revoked = await runner.run(envelope({"type": "courier.revoke", "courier_id": "jd-9"}), 60)
    assert revoked.outcome == "applied"
    salt = new_salt()
    push = {
        "type": "courier.push",
        "courier_id": "jd-9",
        "carrier_id": "jd",
        "codes": [{**TODAY_BOUNDS, "salt": salt, "verifier": pin_verifier("2468", salt)}],
    }
    late = await runner.run(envelope(push), 60)  # the push was retried behind the revocation
    assert late.outcome == "rejected"
    assert "revoked" in late.detail
    with transaction(edge.engine) as s:
        assert s.get_one(Courier, "jd-9").revoked


async def test_remote_open_is_recorded_before_the_door_moves_and_never_repeated(
    edge: EdgeSide,
) -> None:
    opener = FakeOpener(edge.engine)
    runner = CommandRunner(edge.engine, edge.key, lambda: opener)
    body = {"type": "door.open", "compartment": "A01", "reason": "parcel stuck",
            "requested_by": "ops:anna"}  # fmt: skip
    command = envelope(body)
    first = await runner.run(command, 60)
    again = await runner.run(command, 60)
    assert (first.outcome, first.detail) == ("applied", "door opened")
    assert (again.outcome, again.repeat) == ("applied", True)
    assert opener.calls == [("A01", "remote: parcel stuck (by ops:anna)", "remote")]
    unknown = await runner.run(envelope(body | {"compartment": "C09"}), 60)
    assert unknown.outcome == "rejected"
    jammed = FakeOpener(edge.engine, DoorOutcome.JAMMED)
    failed = await CommandRunner(edge.engine, edge.key, lambda: jammed).run(envelope(body), 60)
    assert (failed.outcome, failed.detail) == ("failed", "door jammed")
    without_doors = await CommandRunner(edge.engine, edge.key, lambda: None).run(envelope(body), 60)
    assert without_doors.outcome == "failed"
    with transaction(edge.engine) as s:
        assert len(list(s.exec(select(AppliedCommand)))) == 4


@dataclass
class Properties:
    MessageExpiryInterval: int


@dataclass
class Message:
    properties: Properties | None


def expiring(expiry: int | None) -> Message:
    return Message(None if expiry is None else Properties(expiry))


def test_time_to_live_is_counted_from_receipt(edge: EdgeSide) -> None:
    assert edge.config.link is not None
    runner = CommandRunner(edge.engine, edge.key, lambda: None)

    def link_over(broker: str) -> EdgeLink:
        spec = edge.config.link.model_copy(update={"broker": broker})  # type: ignore[union-attr]
        return EdgeLink(edge.engine, "maple-court-3", spec, runner=runner,
                        snapshot=lambda: None)  # type: ignore[arg-type,return-value]  # fmt: skip

    sent_long_ago = envelope({"type": "keypad.reenable"}, ttl_s=30).model_copy(
        update={"sent_at": datetime.now(UTC) - timedelta(hours=2)}
    )
    mqtt5, mqtt311 = link_over("mqtt://127.0.0.1:1"), link_over("mqtt311://127.0.0.1:1")
    # MQTT 5 before any live ack: the broker's remaining expiry is all there is to go by
    assert mqtt5._remaining(expiring(12), sent_long_ago) == 12  # type: ignore[arg-type]
    # MQTT 5 without the property: the broker counted it down to nothing (Mosquitto rounds)
    assert mqtt5._remaining(expiring(None), sent_long_ago) == 0.0  # type: ignore[arg-type]
    # MQTT 3.1.1 before any live ack: the age is unknown (a door is not opened on it)
    assert mqtt311._remaining(expiring(None), sent_long_ago) is None  # type: ignore[arg-type]
    # a retained ack tells nothing about the cloud's clock now
    stale = EventsAck(seq=0, cloud_time=datetime.now(UTC) - timedelta(hours=2))
    mqtt311._acked(stale, live=False)
    assert mqtt311._remaining(expiring(None), sent_long_ago) is None  # type: ignore[arg-type]
    # a live ack does: the command is two hours old, long expired, whatever our wall clock says
    for link in (mqtt5, mqtt311):
        link._acked(EventsAck(seq=0, cloud_time=datetime.now(UTC)), live=True)
    left = mqtt311._remaining(expiring(None), sent_long_ago)  # type: ignore[arg-type]
    assert left is not None
    assert left < -7000
    # and over MQTT 5 the smaller count wins: a broker that still says 12 s does not revive it
    left = mqtt5._remaining(expiring(12), sent_long_ago)  # type: ignore[arg-type]
    assert left is not None
    assert left < -7000
