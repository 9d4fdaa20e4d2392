"""Events from banks: applied once, in order, with gaps parked; the physical fact wins."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.models import (
    Alarm,
    AuditEntry,
    Bank,
    Command,
    CommandAck,
    Compartment,
    InboundEvent,
    Notification,
    Parcel,
    ParcelEvent,
    Reservation,
)
from cloud.services.commands import acknowledge, due, enqueue_command, pending
from cloud.services.errors import Conflict, NotFound
from cloud.services.ingest import ingest_event
from cloud.services.notices import open_notification
from locker_contract import sealing
from locker_contract.commands import MaintenanceSet
from locker_contract.events import (
    BoardHealthChanged,
    DoorClosed,
    DoorForcedOpen,
    DoorLeftOpen,
    Envelope,
    Event,
    ParcelDeposited,
    ParcelPickedUp,
)
from tests.cloud.conftest import Cloud, fleet

BANK = "maple"
NOTIFY_PUBLIC, NOTIFY_PRIVATE = sealing.new_key_pair()
SEALED = sealing.seal_code(sealing.public_key(NOTIFY_PUBLIC), "12345678")


def envelope(seq: int, event: Event, event_id: uuid.UUID | None = None) -> Envelope:
    return Envelope(event_id=event_id or uuid.uuid4(), bank_id=BANK, seq=seq,
                    time=datetime.now(UTC), event=event)  # fmt: skip


def edge_id(waybill: str, label: str) -> uuid.UUID:
    """The bank's id of the parcel ``waybill`` in ``label``: its later events name it so."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{waybill}@{label}")


def picked_up(waybill: str, label: str) -> ParcelPickedUp:
    return ParcelPickedUp(parcel_id=edge_id(waybill, label), waybill=waybill, compartment=label)


def deposited(waybill: str, label: str, carrier: str = "sf") -> ParcelDeposited:
    return ParcelDeposited(
        parcel_id=edge_id(waybill, label), waybill=waybill, carrier=carrier, courier_id="nobody",
        compartment=label, recipient_phone="13800138000", group_id=uuid.uuid4(),
        sealed_code=SEALED, consent="recipient_app", flagged_for_review=False,
    )  # fmt: skip


@pytest.fixture
def engine(cloud: Cloud) -> Engine:
    fleet(cloud, {BANK: {"M": 4}})
    announce = {
        "waybill": "SF1",
        "bank_id": BANK,
        "recipient_phone": "13800138000",
        "consent": "recipient_app",
    }
    cloud.ok("POST", "/api/v1/parcels", cloud.keys["sf"], json=announce)
    engine: Engine = cloud.engine
    return engine


def history(engine: Engine, waybill: str) -> list[str]:
    with Session(engine) as s:
        parcel = s.exec(select(Parcel).where(Parcel.waybill == waybill)).one()
        events = s.exec(
            select(ParcelEvent)
            .where(ParcelEvent.parcel_id == parcel.id)
            .order_by(col(ParcelEvent.id))
        )
        return [e.status for e in events]


def test_events_apply_in_order_and_a_redelivery_is_a_no_op(engine: Engine) -> None:
    first = envelope(1, deposited("SF1", "A02"))
    assert ingest_event(engine, first).applied_seq == 1
    again = ingest_event(engine, first)
    assert (again.duplicate, again.applied_seq) == (True, 1)
    ingest_event(
        engine,
        envelope(2, picked_up("SF1", "A02")),
    )
    assert history(engine, "SF1") == ["announced", "in_locker", "picked_up"]


def test_a_bank_event_moves_the_parcel_it_names_never_a_namesake(engine: Engine) -> None:
    """Two carriers' parcels with one waybill number at one bank: the pickup of one leaves the
    other in the locker (found in review: the first namesake found was moved)."""
    sf, jd = deposited("SF1", "A02"), deposited("SF1", "A03", carrier="jd")
    ingest_event(engine, envelope(1, sf))
    ingest_event(engine, envelope(2, jd))
    picked = ParcelPickedUp(parcel_id=jd.parcel_id, waybill="SF1", compartment="A03")
    ingest_event(engine, envelope(3, picked))
    with Session(engine) as s:
        status = {p.carrier_id: p.status for p in s.exec(select(Parcel))}
    assert status == {"sf": "in_locker", "jd": "picked_up"}
    stranger = ParcelPickedUp(parcel_id=uuid.uuid4(), waybill="SF1", compartment="A02")
    ingest_event(engine, envelope(4, stranger))  # names no parcel here: nothing moves
    with Session(engine) as s:
        assert s.exec(select(Parcel).where(Parcel.carrier_id == "sf")).one().status == "in_locker"


def test_the_sealed_code_goes_to_one_notification_and_is_not_kept(engine: Engine) -> None:
    first = envelope(1, deposited("SF1", "A02"))
    ingest_event(engine, first)
    ingest_event(engine, first)  # redelivered: still one message to the recipient
    with Session(engine) as s:
        [notice] = list(s.exec(select(Notification)))
        stored = s.get_one(InboundEvent, str(first.event_id))
    assert notice.text.endswith("Pickup code: {code}")  # a template: the code stays sealed
    assert notice.sealed_code == SEALED
    assert notice.recipient_phone == "13800138000"
    key = sealing.private_key(NOTIFY_PRIVATE)
    assert open_notification(notice, key).endswith("Pickup code: 12345678")
    assert SEALED not in json.dumps(stored.body)  # the event keeps no copy, sealed or not
    picked = picked_up("SF1", "A02")
    ingest_event(engine, envelope(2, picked))
    with Session(engine) as s:
        [notice] = list(s.exec(select(Notification)))
    assert notice.sealed_code is None  # the parcel left: the code is kept nowhere
    with pytest.raises(Conflict, match="purged"):
        open_notification(notice, key)


def test_a_deposit_without_a_sealed_code_makes_no_notification(engine: Engine) -> None:
    joined = deposited("SF1", "A02").model_copy(update={"sealed_code": None})
    ingest_event(engine, envelope(1, joined))
    with Session(engine) as s:
        assert list(s.exec(select(Notification))) == []
    assert history(engine, "SF1") == ["announced", "in_locker"]


def test_a_gap_parks_events_until_it_fills(engine: Engine) -> None:
    later = ingest_event(
        engine,
        envelope(2, picked_up("SF1", "A02")),
    )
    assert (later.applied_seq, later.parked) == (0, 1)
    assert history(engine, "SF1") == ["announced"]
    filled = ingest_event(engine, envelope(1, deposited("SF1", "A02")))
    assert (filled.applied_seq, filled.parked) == (2, 0)
    assert history(engine, "SF1") == ["announced", "in_locker", "picked_up"]


def test_a_reused_sequence_number_is_refused(engine: Engine) -> None:
    ingest_event(engine, envelope(1, DoorClosed(compartment="A01")))
    with pytest.raises(Conflict, match="already sent seq 1"):
        ingest_event(engine, envelope(1, DoorClosed(compartment="A02")))


def test_walk_up_deposits_are_recorded_too(engine: Engine) -> None:
    ingest_event(engine, envelope(1, deposited("JD9", "A03", carrier="jd")))
    assert history(engine, "JD9") == ["in_locker"]


def test_door_alarms_raise_and_clear(engine: Engine) -> None:
    events: list[Event] = [
        DoorForcedOpen(compartment="A04"),
        DoorLeftOpen(compartment="A01", open_for_s=61.0),
        DoorClosed(compartment="A01"),
        BoardHealthChanged(bus="main", board=2, online=False),
        BoardHealthChanged(bus="main", board=2, online=True),
    ]
    for seq, event in enumerate(events, start=1):
        ingest_event(engine, envelope(seq, event))
    with Session(engine) as s:
        alarms = {(a.kind, a.compartment, a.cleared_at is None) for a in s.exec(select(Alarm))}
    assert alarms == {
        ("door.forced_open", "A04", True),
        ("door.left_open", "A01", False),
        ("board.offline", "main/2", False),
    }


def test_a_deposit_into_another_carriers_reservation_moves_it(cloud: Cloud, engine: Engine) -> None:
    held = cloud.ok(
        "POST", "/api/v1/reservations", cloud.keys["jd"], json={"bank_id": BANK, "size": "M"}
    )
    with Session(engine) as s:
        label = s.exec(select(Reservation).where(Reservation.id == held["id"])).one().compartment_id
        first = s.get_one(Compartment, label).label
    ingest_event(engine, envelope(1, deposited("SF1", first)))  # the bank filled it while offline
    moved = cloud.ok("GET", f"/api/v1/reservations/{held['id']}", cloud.keys["jd"])
    assert moved["state"] == "active"
    assert moved["compartment_id"] != held["compartment_id"]
    with Session(engine) as s:
        kinds = [c.type for c in s.exec(select(Command).order_by(col(Command.created_at)))]
    moves = [kind for kind in kinds if kind.startswith("reservation.")]
    assert moves == ["reservation.push", "reservation.push"]  # the second push moves the hold


def test_a_displaced_reservation_with_nowhere_to_go_is_unfulfillable(
    cloud: Cloud, engine: Engine
) -> None:
    body = {"bank_id": BANK, "size": "M"}
    made = [cloud.ok("POST", "/api/v1/reservations", cloud.keys["jd"], json=body) for _ in range(4)]
    with Session(engine) as s:
        first = s.get_one(Compartment, made[0]["compartment_id"]).label
    ingest_event(engine, envelope(1, deposited("SF1", first)))
    assert (
        cloud.ok("GET", f"/api/v1/reservations/{made[0]['id']}", cloud.keys["jd"])["state"]
        == "unfulfillable"
    )


def test_policies_and_cancellations_are_pushed_to_the_bank(cloud: Cloud, engine: Engine) -> None:
    cloud.ok(
        "PUT",
        f"/api/v1/banks/{BANK}/policies/sf",
        cloud.keys["operator"],
        json={"guaranteed": 1, "ceiling": 2},
    )
    cloud.ok("POST", f"/api/v1/shares/{BANK}/accept", cloud.keys["sf"])  # pushed once accepted
    made = cloud.ok(
        "POST", "/api/v1/reservations", cloud.keys["sf"], json={"bank_id": BANK, "size": "M"}
    )
    cloud.ok("DELETE", f"/api/v1/reservations/{made['id']}", cloud.keys["sf"])
    with Session(engine) as s:
        everything = list(s.exec(select(Command).order_by(col(Command.created_at))))
    assert "parcel.announce" in {c.type for c in everything}  # the fixture's announced parcel
    sharing = ("policy.push", "reservation.push", "reservation.withdraw")
    commands = [c for c in everything if c.type in sharing]
    assert [c.type for c in commands] == list(sharing)
    assert commands[0].payload == {"carrier_id": "sf", "guaranteed": 1, "ceiling": 2}


def test_commands_wait_for_their_bank_and_an_ack_is_kept_once(cloud: Cloud, engine: Engine) -> None:
    made = cloud.ok(
        "POST", "/api/v1/reservations", cloud.keys["sf"], json={"bank_id": BANK, "size": "M"}
    )
    with transaction(engine) as s:
        [push] = [c for c in pending(s, BANK) if c.type == "reservation.push"]
        assert push.payload["reservation_id"] == made["id"]
        acknowledge(s, push.id, "applied")
    with transaction(engine) as s:
        acknowledge(s, push.id, "refused", "a redelivered ack changes nothing")
        assert push.id not in {c.id for c in pending(s, BANK)}
        ack = s.get_one(CommandAck, push.id)
        assert (ack.outcome, s.get_one(Command, push.id).state) == ("applied", "acknowledged")
        with pytest.raises(NotFound):
            acknowledge(s, "no-such-command", "applied")


def test_soft_reservations_default_to_the_servers_ttl(cloud: Cloud, engine: Engine) -> None:
    made = cloud.ok(
        "POST", "/api/v1/reservations", cloud.keys["sf"], json={"bank_id": BANK, "size": "M"}
    )
    expires = datetime.fromisoformat(made["expires_at"]).replace(tzinfo=UTC)
    created = datetime.fromisoformat(made["created_at"]).replace(tzinfo=UTC)
    assert (expires - created).total_seconds() == pytest.approx(
        cloud.settings.soft_reservation_ttl_s, abs=5
    )


def test_a_command_goes_out_at_once_then_again_only_to_an_online_bank_silent_for_long(
    cloud: Cloud, engine: Engine
) -> None:
    start = datetime.now(UTC)
    secret = cloud.settings.secret_key
    with transaction(engine) as s:
        s.execute(text("UPDATE command SET state = 'acknowledged'"))  # the fixture's, aside
        s.get_one(Bank, BANK).online = True
        command = enqueue_command(s, BANK, MaintenanceSet(on=True), ttl_s=600.0, now=start)
    sent = [d.envelope.command_id for d in due(engine, 30.0, start, secret_key=secret)]
    assert sent == [command.id]
    assert due(engine, 30.0, start + timedelta(seconds=29), secret_key=secret) == []
    later = start + timedelta(seconds=31)
    assert [d.bank_id for d in due(engine, 30.0, later, secret_key=secret)] == [BANK]
    with transaction(engine) as s:
        s.get_one(Bank, BANK).online = False
    assert due(engine, 30.0, later + timedelta(seconds=31), secret_key=secret) == []
    with Session(engine) as s:
        assert s.get_one(Command, command.id).attempts == 2


def test_a_command_expires_once_under_its_row_lock(cloud: Cloud, engine: Engine) -> None:
    """A command another worker holds (expiring or sending it) is skipped, not expired twice."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers whole")
    start = datetime.now(UTC)
    with transaction(engine) as s:
        command = enqueue_command(s, BANK, MaintenanceSet(on=True), ttl_s=1.0, now=start)
    later = start + timedelta(seconds=2)
    with engine.connect() as other, other.begin():
        held = text("SELECT id FROM command WHERE id = :id FOR UPDATE")
        other.execute(held, {"id": command.id})
        due(engine, 30.0, later, secret_key=cloud.settings.secret_key)  # does not wait for it
        with Session(engine) as s:
            assert s.get_one(Command, command.id).state == "pending"
    for _ in range(2):
        due(engine, 30.0, later, secret_key=cloud.settings.secret_key)
    with Session(engine) as s:
        assert s.get_one(Command, command.id).state == "expired"
        audits = s.exec(select(AuditEntry).where(AuditEntry.action == "expired:bank.maintenance"))
        assert len(list(audits)) == 1
