"""A recipient's phone number: never plain in the audit log, erased everywhere the cloud keeps it
once its parcel ended ``personal_data_retention_days`` ago; engines never log parameters."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from cloud.core.db import make_engine, transaction
from cloud.models import (
    METADATA,
    AuditEntry,
    Command,
    CommandState,
    InboundEvent,
    Notification,
    Parcel,
    ParcelEvent,
    ParcelStatus,
    QuarantinedEvent,
    QuarantineState,
    utcnow,
)
from cloud.services.personal_data import mask_phone, masked, purge_personal_data
from tests.cloud.conftest import Cloud, fleet

PHONE = "13800138000"
OTHER_PHONE = "13900139001"
RETENTION = timedelta(days=30)


def everything(engine: Engine) -> str:
    """Every row of every cloud table, as text: where a phone number could hide."""
    rows = []
    with engine.connect() as connection:
        for table in METADATA.sorted_tables:
            rows += [repr(tuple(row)) for row in connection.execute(table.select())]
    return "\n".join(rows)


def announce(cloud: Cloud, waybill: str, phone: str) -> None:
    body = {"waybill": waybill, "bank_id": "maple", "recipient_phone": phone}
    cloud.ok("POST", "/api/v1/parcels", cloud.keys["sf"], json=body | {"consent": "recipient_app"})


def test_masks_show_at_most_two_digits() -> None:
    assert mask_phone(PHONE) == "*********00"
    assert mask_phone("+86 138-0013-8000") == "***********00"
    assert mask_phone("1234") == "****"
    assert masked({"recipient_phone": PHONE, "x": {"phone": PHONE}, "n": 1}) == {
        "recipient_phone": "*********00",
        "x": {"phone": "*********00"},
        "n": 1,
    }


def test_the_audit_log_never_holds_a_plain_phone(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    announce(cloud, "SF-W1", PHONE)
    with Session(cloud.engine) as s:
        details = [repr(e.detail) for e in s.exec(select(AuditEntry))]
    assert any("*********00" in d for d in details)  # the announcement's command, masked
    assert not any(PHONE in d for d in details)


def end(engine: Engine, waybill: str, status: ParcelStatus, days_ago: float) -> None:
    """What ingesting the bank's pickup (or return) does to the parcel, ``days_ago``; with the
    copies of the phone the deposit left: its event and its notification; the announcement
    acknowledged."""
    at = utcnow() - timedelta(days=days_ago)
    with transaction(engine) as s:
        parcel = s.exec(select(Parcel).where(Parcel.waybill == waybill)).one()
        parcel.status = status
        s.add(parcel)
        s.add(ParcelEvent(parcel_id=parcel.id, status=status, at=at, source="test"))
        body: dict[str, object] = {"waybill": waybill, "carrier": "sf"}
        body["recipient_phone"] = parcel.recipient_phone
        seq = len(list(s.exec(select(InboundEvent)))) + 1
        s.add(
            InboundEvent(
                event_id=f"e-{waybill}",
                bank_id="maple",
                seq=seq,
                type="parcel.deposited",
                body=body,
            )
        )
        s.add(
            Notification(
                event_id=f"e-{waybill}",
                bank_id="maple",
                carrier_id="sf",
                waybill=waybill,
                recipient_phone=parcel.recipient_phone,
                text="Your parcel is in the locker",
            )
        )
        for command in s.exec(select(Command).where(Command.type == "parcel.announce")):
            if command.payload.get("waybill") == waybill:
                command.state = CommandState.ACKNOWLEDGED
                s.add(command)


def test_phones_are_erased_everywhere_after_the_retention(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    engine = cloud.engine
    announce(cloud, "SF-OLD", PHONE)
    announce(cloud, "SF-NEW", OTHER_PHONE)
    end(engine, "SF-OLD", ParcelStatus.PICKED_UP, days_ago=31)
    end(engine, "SF-NEW", ParcelStatus.RETURNED, days_ago=29)
    assert PHONE in everything(engine)
    purged = purge_personal_data(engine, utcnow(), RETENTION)
    assert (purged.parcels, purged.notifications, purged.events, purged.commands) == (1, 1, 1, 1)
    stored = everything(engine)
    assert PHONE not in stored
    assert OTHER_PHONE in stored  # ended 29 days ago: kept one more day
    assert purge_personal_data(engine, utcnow(), RETENTION).parcels == 0  # idempotent
    later = purge_personal_data(engine, utcnow() + timedelta(days=2), RETENTION)
    assert later.parcels == 1
    assert OTHER_PHONE not in everything(engine)


def quarantine(engine: Engine, event_id: str, phone: str, settled_days_ago: float | None) -> None:
    """A deposit the cloud set aside (decision 0009), settled ``settled_days_ago`` or held;
    ``raw`` cut short in the middle of the phone, as a long event's is."""
    body: dict[str, object] = {"waybill": event_id, "carrier": "sf", "recipient_phone": phone}
    raw = json.dumps({"event_id": event_id, "event": body})
    settled = None if settled_days_ago is None else utcnow() - timedelta(days=settled_days_ago)
    with transaction(engine) as s:
        seq = len(list(s.exec(select(InboundEvent)))) + 1
        s.add(
            InboundEvent(
                event_id=event_id, bank_id="maple", seq=seq, type="parcel.deposited", body=body
            )
        )
        s.flush()
        s.add(
            QuarantinedEvent(
                event_id=event_id,
                bank_id="maple",
                seq=seq,
                type="parcel.deposited",
                raw=raw[: raw.index(phone) + 5],
                reason="test",
                state=QuarantineState.HELD if settled is None else QuarantineState.DROPPED,
                settled_at=settled,
            )
        )


def test_settled_quarantined_events_lose_their_phone_after_the_retention(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    engine = cloud.engine
    quarantine(engine, "e-dropped", PHONE, settled_days_ago=31)
    quarantine(engine, "e-held", OTHER_PHONE, settled_days_ago=None)
    purged = purge_personal_data(engine, utcnow(), RETENTION)
    assert purged.quarantined == 1
    with Session(engine) as s:
        dropped = s.get_one(QuarantinedEvent, "e-dropped")
        held = s.get_one(QuarantinedEvent, "e-held")
        events = {e.event_id: e.body["recipient_phone"] for e in s.exec(select(InboundEvent))}
    assert dropped.raw.endswith('"recipient_phone": ""')  # cut after five digits: all gone
    assert events == {"e-dropped": "", "e-held": OTHER_PHONE}
    assert OTHER_PHONE[:5] in held.raw  # still held: the operator has yet to decide
    assert PHONE not in everything(engine)


def test_a_parcel_still_in_the_locker_keeps_its_phone(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    announce(cloud, "SF-W1", PHONE)
    end(cloud.engine, "SF-W1", ParcelStatus.IN_LOCKER, days_ago=0)  # deposited: waiting
    purged = purge_personal_data(cloud.engine, utcnow() + timedelta(days=365), RETENTION)
    assert purged.parcels == 0
    assert PHONE in everything(cloud.engine)


def test_an_announcement_never_deposited_loses_its_phone_after_it_lapses(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    engine = cloud.engine
    announce(cloud, "SF-NEVER", PHONE)
    announce(cloud, "SF-CAME", OTHER_PHONE)
    end(engine, "SF-CAME", ParcelStatus.IN_LOCKER, days_ago=0)
    with transaction(engine) as s:  # long past its time to live: the ingest worker expired it
        for command in s.exec(select(Command).where(Command.type == "parcel.announce")):
            command.state = CommandState.EXPIRED
            s.add(command)
    expiry = timedelta(days=14)
    lapsed = utcnow() + expiry + RETENTION  # the announcement lapsed, then the retention passed
    early = purge_personal_data(engine, lapsed - timedelta(days=1), RETENTION, expiry)
    assert early.parcels == 0
    assert PHONE in everything(engine)
    purged = purge_personal_data(engine, lapsed + timedelta(minutes=1), RETENTION, expiry)
    assert (purged.parcels, purged.commands) == (1, 1)
    stored = everything(engine)
    assert PHONE not in stored
    assert OTHER_PHONE in stored  # deposited: its phone stays until the parcel ends
    with Session(engine) as s:
        never = s.exec(select(Parcel).where(Parcel.waybill == "SF-NEVER")).one()
        assert (never.status, never.recipient_phone) == (ParcelStatus.ANNOUNCED, "")
    assert purge_personal_data(engine, lapsed + timedelta(days=1), RETENTION, expiry).parcels == 0


def test_engines_never_log_parameters(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(database_url)
    try:
        query = text("SELECT * FROM no_such_table WHERE x = :phone")
        with pytest.raises(DBAPIError) as failed, engine.connect() as connection:
            connection.execute(query, {"phone": PHONE})
        assert PHONE not in str(failed.value)
        assert "hidden" in str(failed.value)
        assert PHONE not in caplog.text
    finally:
        engine.dispose()


def test_purge_command_erases_old_phones(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from locker_cli.cloud import app

    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    engine = cloud.engine
    announce(cloud, "SF-OLD", PHONE)
    end(engine, "SF-OLD", ParcelStatus.PICKED_UP, days_ago=8)
    monkeypatch.setenv("LOCKER_CLOUD_DATABASE_URL", cloud.settings.database_url)
    monkeypatch.setenv("LOCKER_CLOUD_SECRET_KEY", cloud.settings.secret_key)
    monkeypatch.setenv("LOCKER_CLOUD_PERSONAL_DATA_RETENTION_DAYS", "7")
    result = CliRunner().invoke(app, ["purge"])
    assert result.exit_code == 0, result.output
    assert "1 parcel" in result.output
    assert PHONE not in everything(engine)
