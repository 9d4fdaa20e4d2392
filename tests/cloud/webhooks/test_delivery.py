"""Every kind of event reaches its carrier's receiver, signed, at the bank's time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from cloud.core.db import transaction
from cloud.messaging.states import MessageKind, MessageState
from cloud.messaging.tables import NotificationParcel
from cloud.models import AuditEntry, Bank, Command, Compartment, Notification
from cloud.webhooks.events import SUBSCRIBABLE
from locker_contract.events import DoorJammed, ParcelPickedUp
from locker_contract.storage import StoragePolicy
from tests.cloud.webhooks.conftest import BANK, World, drain
from tests.cloud.webhooks.receiver import Receiver


def test_every_kind_of_event_is_delivered_signed(world: World, receiver: Receiver) -> None:
    world.endpoint("sf", receiver)
    world.endpoint("jd", receiver)
    world.announce("SF1")
    _reservations_come_and_go(world)
    deposited = _fill_until_unfulfillable(world)
    first, second, last = deposited[0], deposited[1], deposited[-1]
    _reminder_sent(world, first)
    world.pick_up(*first)
    world.refuse(second[0], "recipient refused it")
    world.collect(second[0])
    world.refuse(last[0], "storage period ended")
    world.bank(DoorJammed(compartment=last[1], intent_id=uuid.uuid4(), jam_count=1))
    _bank_offline_long_ago(world)
    drain(world.worker())
    assert receiver.types() == set(SUBSCRIBABLE)
    assert all(r.verified_by for r in receiver.got)
    jammed = [r for r in receiver.delivered() if r.type == "exception.door_jammed"]
    assert [(r.data["waybill"], r.data["compartment"]) for r in jammed] == [last]


def _reservations_come_and_go(world: World) -> None:
    sf = world.cloud.keys["sf"]
    soft = {"bank_id": BANK, "size": "M", "kind": "soft", "ttl_s": 0.001}
    first = world.cloud.ok("POST", "/api/v1/reservations", sf, json=soft)
    second = world.cloud.ok("POST", "/api/v1/reservations", sf, json=soft)  # expires the first
    world.cloud.ok("DELETE", f"/api/v1/reservations/{second['id']}", sf)
    assert world.cloud.ok("GET", f"/api/v1/reservations/{first['id']}", sf)["state"] == "expired"


def _fill_until_unfulfillable(world: World) -> list[tuple[str, str]]:
    """jd holds an S; sf's parcels land in whatever jd holds until nothing fits: moved, then
    unfulfillable. The (waybill, label) deposited."""
    jd = world.cloud.keys["jd"]
    hold = {"bank_id": BANK, "size": "S", "kind": "hard"}
    held = world.cloud.ok("POST", "/api/v1/reservations", jd, json=hold)
    labels = _labels(world)
    deposited: list[tuple[str, str]] = []
    for n in range(1, 6):  # four compartments: the fourth deposit leaves none
        now = world.cloud.ok("GET", f"/api/v1/reservations/{held['id']}", jd)
        if now["state"] == "unfulfillable":
            return deposited
        label = labels[now["compartment_id"]]
        world.deposit(f"SF{n}", label)
        deposited.append((f"SF{n}", label))
    raise AssertionError("jd's hold never became unfulfillable")


def test_an_event_carries_the_banks_time_and_both_vocabularies(
    world: World, receiver: Receiver
) -> None:
    world.endpoint("sf", receiver, events=["parcel.in_locker", "parcel.picked_up"])
    at = datetime.now(UTC) - timedelta(minutes=3)  # the bank reports late: its time counts
    shut = at - timedelta(seconds=20)
    world.deposit("SF9", "A03", kept=(shut, StoragePolicy(free_hours=18, keep_hours=48)))
    picked_up = ParcelPickedUp(parcel_id=world.parcels["SF9"], waybill="SF9", compartment="A03")
    world.bank(picked_up, at=at)
    drain(world.worker())
    got = {r.type: r for r in receiver.delivered()}
    assert set(got) == {"parcel.in_locker", "parcel.picked_up"}  # only the events wanted
    picked = got["parcel.picked_up"]
    assert datetime.fromisoformat(picked.timestamp) == at
    assert picked.data["status"] == "picked_up"
    assert picked.data["kuaidi100"] == {"state": 3, "code": 304}
    in_locker = got["parcel.in_locker"]
    assert in_locker.data["compartment"] == "A03"
    assert in_locker.data["bank_id"] == BANK
    assert in_locker.data["kuaidi100"] == {"state": 5, "code": 501}
    assert datetime.fromisoformat(in_locker.data["deadline"]) == shut + timedelta(hours=48)


def _labels(world: World) -> dict[str, str]:
    with transaction(world.engine) as s:
        return {c.id: c.label for c in s.exec(select(Compartment))}


def _bank_offline_long_ago(world: World) -> None:
    since = datetime.now(UTC) - timedelta(hours=2)
    with transaction(world.engine) as s:
        s.execute(update(Bank).where(col(Bank.id) == BANK).values(online=False, status_since=since))


def _reminder_sent(world: World, parcel: tuple[str, str]) -> None:
    """The notifier sent the pickup group's reminder (its row, as cloud.messaging leaves it)."""
    waybill, label = parcel
    with transaction(world.engine) as s:
        reminder = Notification(
            event_id=f"reminder:{BANK}:{waybill}",
            bank_id=BANK,
            carrier_id="sf",
            waybill=waybill,
            recipient_phone="13800138000",
            text="a reminder",
            kind=MessageKind.REMINDER,
            state=MessageState.SENT,
            sent_at=datetime.now(UTC),
        )
        s.add(reminder)
        s.flush()
        s.add(
            NotificationParcel(
                notification_id=reminder.id, carrier_id="sf", waybill=waybill, compartment=label
            )
        )


def test_a_reservation_writes_its_event_push_and_audit_once(
    world: World, receiver: Receiver, other_receiver: Receiver
) -> None:
    """The reservation's rows go out as plain SQL (decision 0032): one event, delivered to each
    endpoint that wants it, the push to the bank and both audit entries, all naming it."""
    world.endpoint("sf", receiver)
    world.endpoint("sf", other_receiver, events=["parcel.in_locker"])  # does not want it
    body = {"bank_id": BANK, "size": "M", "kind": "soft", "ttl_s": 600}
    made = world.cloud.ok("POST", "/api/v1/reservations", world.cloud.keys["sf"], json=body)
    drain(world.worker())
    [got] = receiver.delivered()
    assert got.type == "reservation.confirmed"
    assert got.data["reservation_id"] == made["id"]
    assert (got.data["compartment"], got.data["state"]) == (made["compartment"], "active")
    assert datetime.fromisoformat(got.data["expires_at"]) == datetime.fromisoformat(
        made["expires_at"]
    )
    assert other_receiver.delivered() == []
    with transaction(world.engine) as s:
        [push] = s.exec(select(Command).where(Command.type == "reservation.push")).all()
        entries = {a.action: a for a in s.exec(select(AuditEntry))}
    assert (push.bank_id, push.payload["reservation_id"]) == (BANK, made["id"])
    assert push.payload["compartment"] == made["compartment"]
    assert entries["reserve"].target == made["id"]
    assert entries["reserve"].detail == {"bank": BANK, "compartment": made["compartment"]}
    assert entries["command:reservation.push"].detail["command_id"] == push.id
