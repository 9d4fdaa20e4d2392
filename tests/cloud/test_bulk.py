"""Many rows in one statement (``cloud.services.bulk``), on SQLite and on PostgreSQL: written as
given, typed as their columns (times with their offset, JSON as JSON), updated by key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from cloud.console.health.tables import DoorWatch
from cloud.models import AuditEntry, Bank, BankCursor, Command, InboundEvent
from cloud.services import bulk
from tests.cloud.conftest import Cloud, fleet

BANKS = ["maple", "elm"]
AT = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))


@pytest.fixture
def engine(cloud: Cloud) -> Engine:
    fleet(cloud, {bank: {"M": 2} for bank in BANKS})
    engine: Engine = cloud.engine
    return engine


def watch(bank: str, label: str, intent: str | None, at: datetime | None) -> dict[str, object]:
    return {"bank_id": bank, "label": label, "unlock_intent": intent, "unlock_at": at,
            "closed_at": None}  # fmt: skip


def upsert_watches(s: Session, rows: list[dict[str, object]]) -> None:
    insert, params = bulk.insert_rows(s, DoorWatch, rows)
    kept = {name: insert.excluded[name] for name in ("unlock_intent", "unlock_at")}
    s.connection().execute(
        insert.on_conflict_do_update(index_elements=["bank_id", "label"], set_=kept), params
    )


def test_rows_are_inserted_and_upserted_in_one_statement(engine: Engine) -> None:
    with Session(engine) as s:
        upsert_watches(s, [watch("maple", "M1", "i-1", AT), watch("elm", "M1", None, None)])
        upsert_watches(s, [watch("maple", "M1", "i-2", AT + timedelta(seconds=5))])
        s.commit()
        found = {(w.bank_id, w.label): w for w in s.exec(select(DoorWatch))}
    assert set(found) == {("maple", "M1"), ("elm", "M1")}
    assert found["maple", "M1"].unlock_intent == "i-2"
    assert found["maple", "M1"].unlock_at == (AT + timedelta(seconds=5)).astimezone(UTC)
    assert found["elm", "M1"].unlock_at is None


def test_a_time_without_its_offset_is_refused_not_stored_as_something_else(
    engine: Engine,
) -> None:
    with Session(engine) as s, pytest.raises(Exception, match=r"offset|timezone"):
        upsert_watches(s, [watch("maple", "M1", "i-1", datetime(2026, 12, 1, 9, 30))])


def test_rows_are_updated_by_key_with_a_value_for_all(engine: Engine) -> None:
    with Session(engine) as s:
        rows = [{"bank_id": "maple", "applied_seq": 7}, {"bank_id": "elm", "applied_seq": 3}]
        bulk.update_rows(s, BankCursor, "bank_id", rows, {"advanced_at": AT})
        bulk.update_rows(s, BankCursor, "bank_id", [], {"advanced_at": AT})  # nothing to do
        s.commit()
        found = {c.bank_id: c for c in s.exec(select(BankCursor))}
    assert {bank: c.applied_seq for bank, c in found.items()} == {"maple": 7, "elm": 3}
    assert all(c.advanced_at == AT.astimezone(UTC) for c in found.values())
    with engine.connect() as db:  # stored as the column type writes a time, not as given
        typed = db.execute(select(BankCursor.advanced_at)).scalars().first()
        raw = db.execute(text("SELECT CAST(advanced_at AS TEXT) FROM bankcursor")).scalar()
    assert typed == AT.astimezone(UTC)
    if engine.dialect.name == "sqlite":  # text there: the UTC form the column type writes
        assert "+08" not in str(raw)


def test_new_rows_are_inserted_once_with_their_json(engine: Engine) -> None:
    def row(event_id: str, seq: int) -> dict[str, object]:
        return {"event_id": event_id, "bank_id": "maple", "seq": seq, "type": "door.closed",
                "body": {"compartment": "M1", "note": "quote \" and \\ kept"},
                "received_at": AT, "happened_at": AT, "applied": False}  # fmt: skip

    with Session(engine) as s:
        first = bulk.insert_new(s, InboundEvent, [row("e-1", 1), row("e-2", 2)], "event_id")
        again = bulk.insert_new(s, InboundEvent, [row("e-2", 2), row("e-3", 3)], "event_id")
        s.commit()
        stored = {e.event_id: e for e in s.exec(select(InboundEvent))}
    assert (first, again) == ({"e-1", "e-2"}, {"e-3"})
    assert stored["e-1"].body == {"compartment": "M1", "note": 'quote " and \\ kept'}
    assert stored["e-3"].received_at == AT.astimezone(UTC)


def test_rows_are_written_at_once_with_their_defaults_outside_the_session(
    engine: Engine,
) -> None:
    """``write``: what the session holds is flushed first (a foreign key finds its row), the
    columns' defaults fill what a row leaves out, and nothing written enters the session."""
    with Session(engine) as s:
        s.add(Bank(id="birch", site_id=_site(s), name="Birch"))  # pending, not flushed
        command = Command(bank_id="birch", type="bank.ping", payload={"n": 1})
        bulk.write(s, Command, [bulk.columns(command)])
        entries = [{"actor": "system", "role": "system", "action": f"a{n}", "target": "birch",
                    "detail": {"n": n}} for n in range(2)]  # fmt: skip
        bulk.write(s, AuditEntry, entries)
        bulk.write(s, AuditEntry, [])  # nothing to do
        assert not s.new
        assert command not in s
        s.commit()
    with Session(engine) as s:
        stored = s.get(Command, command.id)
        audited = s.exec(select(AuditEntry).where(AuditEntry.target == "birch")).all()
    assert stored is not None
    assert (stored.state, stored.payload) == ("pending", {"n": 1})
    assert sorted(a.action for a in audited) == ["a0", "a1"]
    assert all(a.at is not None and a.id is not None for a in audited)  # defaults filled


def _site(s: Session) -> str:
    site = s.exec(select(Bank.site_id)).first()
    assert site is not None
    return site
