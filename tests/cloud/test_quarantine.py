"""One event never stalls a bank: what the cloud cannot store or apply is set aside (quarantined),
the bank is told why in its ack, and the rest of its stream is applied; an operator releases or
drops what was set aside. Events arrive as raw JSON, the way a buggy or old edge sends them,
through the ingest worker's batch handler."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from cloud.link.worker import IngestWorker, Progress
from cloud.models import (
    Alarm,
    AuditEntry,
    BankCursor,
    InboundEvent,
    Notification,
    Parcel,
    QuarantinedEvent,
)
from cloud.services import aside, effects, ingest, quarantine
from locker_contract.events import Envelope, ParcelDeposited
from locker_contract.sealing import new_key_pair, public_key, seal_code
from locker_contract.topics import Channel
from tests.cloud.conftest import Cloud, bearer, fleet

BANK = "maple"
URL = f"/api/v1/banks/{BANK}/quarantine"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # the cloud's time in an ack
PUBLIC, _ = new_key_pair()


@pytest.fixture
def engine(cloud: Cloud) -> Engine:
    fleet(cloud, {BANK: {"M": 6}})
    engine: Engine = cloud.engine
    return engine


@pytest.fixture
def worker(cloud: Cloud, engine: Engine) -> IngestWorker:
    return IngestWorker(engine, cloud.settings, "mqtt://127.0.0.1:1883")


def deposit(waybill: str, label: str, phone: str = "13800138000", **extra: Any) -> dict[str, Any]:
    return {"type": "parcel.deposited", "parcel_id": str(uuid.uuid4()), "waybill": waybill,
            "carrier": "sf", "courier_id": "nobody", "compartment": label,
            "recipient_phone": phone, "group_id": str(uuid.uuid4()),
            "sealed_code": seal_code(public_key(PUBLIC), "12345678"), "consent": "recipient_app",
            "flagged_for_review": False} | extra  # fmt: skip


def picked_up(of: dict[str, Any]) -> dict[str, Any]:
    return {"type": "parcel.picked_up", "parcel_id": of["parcel_id"], "waybill": of["waybill"],
            "compartment": of["compartment"]}  # fmt: skip


def raw(seq: int, event: dict[str, Any], event_id: str | None = None) -> bytes:
    """An envelope as an edge that skipped the contract's checks would put it on the wire."""
    envelope = {"event_id": event_id or str(uuid.uuid4()), "bank_id": BANK, "seq": seq,
                "time": datetime.now(UTC).isoformat(), "event": event}  # fmt: skip
    return json.dumps(envelope, allow_nan=True).encode()


def send(worker: IngestWorker, *payloads: bytes) -> Progress:
    batch = [(BANK, Channel.EVENTS, payload, time.time()) for payload in payloads]
    return worker.handle_batch(batch)[BANK]


def cursor(engine: Engine) -> int:
    with Session(engine) as s:
        return s.get_one(BankCursor, BANK).applied_seq


def notified(engine: Engine, waybill: str) -> bool:
    with Session(engine) as s:
        return (
            s.exec(select(Notification).where(Notification.waybill == waybill)).first() is not None
        )


def status(engine: Engine, waybill: str) -> str | None:
    with Session(engine) as s:
        parcel = s.exec(select(Parcel).where(Parcel.waybill == waybill)).first()
        return None if parcel is None else parcel.status


def applied(engine: Engine) -> dict[int, bool]:
    """Each stored event's ``applied``, by seq: what the records show as having happened."""
    with Session(engine) as s:
        return {e.seq: e.applied for e in s.exec(select(InboundEvent))}


def open_alarms(engine: Engine, kind: str = aside.QUARANTINED) -> list[str]:
    with Session(engine) as s:
        query = select(Alarm).where(Alarm.kind == kind, col(Alarm.cleared_at).is_(None))
        return sorted(a.compartment for a in s.exec(query))


def listed(cloud: Cloud) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = cloud.ok("GET", URL, cloud.keys["operator"])
    return found


# --- what once stalled a bank ---------------------------------------------------------------


def test_a_nul_waybill_is_set_aside_and_the_next_deposit_reaches_its_recipient(
    cloud: Cloud, engine: Engine, worker: IngestWorker
) -> None:
    bad = deposit("SF\x001", "A01")
    progress = send(worker, raw(1, bad), raw(2, deposit("SF2", "A02", phone="13900139000")))
    assert progress.applied_seq == 2 == cursor(engine)
    [refused] = progress.refused
    assert refused.seq == 1
    assert "parcel.deposited.waybill" in refused.reason
    assert "U+0000" in refused.reason
    ack = json.loads(progress.ack(NOW).to_json())
    assert (ack["seq"], ack["refused"][0]["seq"]) == (2, 1)
    assert status(engine, "SF2") == "in_locker"
    assert notified(engine, "SF2")
    assert open_alarms(engine) == ["seq 1"]
    [shown] = listed(cloud)
    assert (shown["seq"], shown["state"], shown["type"]) == (1, "held", "parcel.deposited")
    assert "13800138000" not in shown["preview"]  # the phone is masked for the person reading
    assert '"recipient_phone": "*********00"' in shown["preview"]
    assert bad["sealed_code"] not in shown["preview"]
    assert "SF\\u00001" in shown["preview"]  # the NUL, escaped as it was kept

    event_id = shown["event_id"]
    release = f"{URL}/{event_id}/release"
    still = cloud.call("POST", release, cloud.keys["operator"])
    assert still.status_code == 409
    assert "U+0000" in still.json()["detail"]
    mended = cloud.ok(
        "POST", release, cloud.keys["operator"], json={"event": bad | {"waybill": "SF1"}}
    )
    assert mended["state"] == "released"
    assert status(engine, "SF1") == "in_locker"
    assert notified(engine, "SF1")  # the recipient is told after all
    assert open_alarms(engine) == []
    with Session(engine) as s:
        assert s.get_one(InboundEvent, event_id).applied
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "quarantine.released"))
        assert [a.detail["amended"] for a in audited] == [True]


def test_a_nan_is_set_aside_dropped_and_forgotten(
    cloud: Cloud, engine: Engine, worker: IngestWorker
) -> None:
    left_open = {"type": "door.left_open", "compartment": "A01", "open_for_s": float("nan")}
    assert b"NaN" in raw(1, left_open)
    progress = send(worker, raw(1, left_open), raw(2, deposit("SF2", "A02")))
    assert progress.applied_seq == 2 == cursor(engine)
    assert "event.door.left_open.open_for_s" in progress.refused[0].reason
    assert notified(engine, "SF2")
    assert open_alarms(engine) == ["seq 1"]
    [shown] = listed(cloud)
    assert "NaN" in shown["preview"]

    dropped = cloud.ok("POST", f"{URL}/{shown['event_id']}/drop", cloud.keys["operator"])
    assert dropped["state"] == "dropped"
    assert open_alarms(engine) == []
    with Session(engine) as s:
        assert s.get_one(QuarantinedEvent, shown["event_id"]).raw == ""
    again = cloud.call("POST", f"{URL}/{shown['event_id']}/release", cloud.keys["operator"])
    assert again.status_code == 409  # settled once, for good


def test_a_huge_unknown_field_is_set_aside_with_a_bounded_reason(
    engine: Engine, worker: IngestWorker
) -> None:
    spoilt = deposit("SF1", "A01") | {"x" * 100_000: 1, "\x00" * 1000: 2, "y" * 5000: 3}
    progress = send(worker, raw(1, spoilt), raw(2, deposit("SF2", "A02")))
    assert progress.applied_seq == 2
    [refused] = progress.refused
    assert len(refused.reason) <= 500
    assert "extra_forbidden" in refused.reason
    assert json.loads(progress.ack(NOW).to_json())["refused"][0]["seq"] == 1


def test_a_resent_refused_event_is_a_duplicate_and_stays_acked(
    engine: Engine, worker: IngestWorker
) -> None:
    payload = raw(1, deposit("SF\x001", "A01"))
    assert send(worker, payload).applied_seq == 1
    again = send(worker, payload)
    assert (again.applied_seq, again.refused) == (1, [])
    assert worker.stats.duplicates == 1


def test_a_refused_event_after_a_gap_waits_its_turn(engine: Engine, worker: IngestWorker) -> None:
    assert send(worker, raw(2, deposit("SF\x002", "A02"))).applied_seq == 0
    assert (
        send(worker, raw(1, deposit("SF1", "A01")), raw(3, deposit("SF3", "A03"))).applied_seq == 3
    )
    assert (status(engine, "SF1"), status(engine, "SF3")) == ("in_locker", "in_locker")


def test_an_event_without_a_readable_id_is_refused_with_a_bounded_log_line(
    engine: Engine, worker: IngestWorker, caplog: pytest.LogCaptureFixture
) -> None:
    huge = json.dumps({"event_id": "\x00" + "x" * 5_000_000, "bank_id": BANK, "seq": 1})
    with caplog.at_level(logging.WARNING):
        assert worker.handle_batch([(BANK, Channel.EVENTS, huge.encode(), time.time())]) == {}
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(line) < 1000
    assert "\x00" not in line
    assert worker.stats.rejected == 1
    assert cursor(engine) == 0


def test_an_event_for_another_bank_is_not_set_aside(engine: Engine, worker: IngestWorker) -> None:
    spoofed = json.loads(raw(1, deposit("SF\x001", "A01")))
    spoofed["bank_id"] = "elm"
    assert worker.handle_batch([(BANK, Channel.EVENTS, json.dumps(spoofed).encode(), 0.0)]) == {}
    with Session(engine) as s:
        assert s.exec(select(QuarantinedEvent)).first() is None


# --- what the database or the code refuses --------------------------------------------------


def test_a_deposit_the_database_refuses_holds_its_parcels_later_events_behind_it(
    cloud: Cloud, engine: Engine, worker: IngestWorker
) -> None:
    first, second = deposit("SF1", "A01"), deposit("SF9", "A01")  # the cloud missed a pickup
    progress = send(worker, raw(1, first), raw(2, second), raw(3, picked_up(second)),
                    raw(4, deposit("SF4", "A04")))  # fmt: skip
    assert progress.applied_seq == 4
    assert [r.seq for r in progress.refused] == [2, 3]
    assert "IntegrityError" in progress.refused[0].reason  # one parcel per compartment
    assert progress.refused[1].reason == "held behind seq 2 of the same parcel"
    assert status(engine, "SF4") == "in_locker"
    assert status(engine, "SF9") is None  # nothing of the refused deposit was kept
    assert notified(engine, "SF9")  # it was stored: its recipient was told at receipt
    held = {row["seq"]: row["event_id"] for row in listed(cloud)}
    assert open_alarms(engine) == ["seq 2", "seq 3"]
    assert applied(engine) == {1: True, 2: False, 3: False, 4: True}  # stored as next, set aside

    follower = cloud.call("POST", f"{URL}/{held[3]}/release", cloud.keys["operator"])
    assert follower.status_code == 409  # its parcel's deposit first
    blocked = cloud.call("POST", f"{URL}/{held[2]}/release", cloud.keys["operator"])
    assert blocked.status_code == 409
    assert "IntegrityError" in blocked.json()["detail"]

    send(worker, raw(5, picked_up(first)))  # the fix: the first parcel leaves
    cloud.ok("POST", f"{URL}/{held[2]}/release", cloud.keys["operator"])
    assert status(engine, "SF9") == "picked_up"  # its pickup followed it
    assert {row["seq"]: row["state"] for row in listed(cloud)} == {2: "released", 3: "released"}
    assert open_alarms(engine) == []
    assert applied(engine) == dict.fromkeys(range(1, 6), True)


def test_a_bug_in_applying_is_set_aside_with_its_reason(
    engine: Engine, worker: IngestWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise KeyError("compartment")

    monkeypatch.setattr(effects, "_door_closed", broken)
    closed = {"type": "door.closed", "compartment": "A01"}
    progress = send(worker, raw(1, closed), raw(2, deposit("SF2", "A02")))
    assert progress.applied_seq == 2
    assert progress.refused[0].reason == "KeyError: 'compartment'"


def test_losing_the_database_sets_nothing_aside(
    engine: Engine, worker: IngestWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(*_: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(effects, "_door_closed", gone)
    assert worker.handle_batch([(BANK, Channel.EVENTS, raw(1, {"type": "door.closed",
                                 "compartment": "A01"}), 0.0)]) == {}  # fmt: skip
    assert cursor(engine) == 0  # the bank sends it again; nothing was kept or skipped
    with Session(engine) as s:
        assert s.exec(select(InboundEvent)).first() is None
        assert s.exec(select(QuarantinedEvent)).first() is None


# --- who may see and settle ------------------------------------------------------------------


def test_only_the_banks_operator_and_admins_see_and_settle(
    cloud: Cloud, engine: Engine, worker: IngestWorker
) -> None:
    send(worker, raw(1, deposit("SF\x001", "A01")))
    [shown] = listed(cloud)
    assert cloud.ok("GET", URL, cloud.admin)[0]["event_id"] == shown["event_id"]
    other = cloud.ok("POST", "/api/v1/operators", cloud.admin, json={"name": "Rival"})
    rival = bearer(other["api_key"])
    drop = f"{URL}/{shown['event_id']}/drop"
    assert cloud.call("GET", URL, rival).status_code == 404
    assert cloud.call("POST", drop, rival).status_code == 404
    for key in (cloud.keys[f"manager:{BANK}"], cloud.keys["sf"]):
        assert cloud.call("GET", URL, key).status_code == 403
        assert cloud.call("POST", drop, key).status_code == 403
    assert (
        cloud.call("POST", f"{URL}/{uuid.uuid4()}/drop", cloud.keys["operator"]).status_code == 404
    )
    bad = {"event": {"type": "parcel.deposited", "waybill": "\x00"}}
    release = f"{URL}/{shown['event_id']}/release"
    assert cloud.call("POST", release, cloud.keys["operator"], json=bad).status_code == 422
    assert listed(cloud)[0]["state"] == "held"


def test_a_nul_that_got_past_the_contract_does_not_stall_the_database(
    engine: Engine, database_url: str
) -> None:
    """As before the contract refused it: PostgreSQL refuses the NUL; SQLite stores it, and the
    contract refuses it as the stored body is read back to be applied. Either way it is set
    aside and the next event is applied."""
    valid = Envelope.model_validate_json(raw(1, deposit("SF1", "A01")))
    assert isinstance(valid.event, ParcelDeposited)
    event = valid.event.model_copy(update={"waybill": "SF\x001"})  # not validated
    unchecked = valid.model_copy(update={"event": event})
    first = ingest.ingest_event(engine, unchecked)
    good = Envelope.model_validate_json(raw(2, deposit("SF2", "A02")))
    assert ingest.ingest_event(engine, good).applied_seq == 2
    assert notified(engine, "SF2")
    if database_url.startswith("postgresql"):
        [refused] = first.refused
        assert "DataError" in refused.reason
        assert open_alarms(engine) == ["seq 1"]
    else:
        [refused] = first.refused
        assert refused.reason.startswith("not a valid event: parcel.deposited.waybill")
        assert open_alarms(engine) == ["seq 1"]


def test_a_preview_of_a_raw_text_that_is_not_json_hides_phones_and_codes() -> None:
    """Ingest cuts a huge event at RAW_MAX, which leaves no JSON to mask field by field."""
    cut = '{"recipient_phone":"13800138000","pickup_code":"40393153","waybill":"SF10'
    row = QuarantinedEvent(
        event_id="e-1", bank_id="maple", seq=1, type="parcel.deposited", raw=cut, reason="cut"
    )
    shown = quarantine.preview(row)
    assert "13800138000" not in shown
    assert "40393153" not in shown
    assert "recipient_phone" in shown  # what it was, still readable
