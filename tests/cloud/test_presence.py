"""A bank whose stream does not move while its heartbeats say it has more raises
``stream.stalled``, and the alarm clears when the stream moves or catches up."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.link.coalesce import Gathered
from cloud.link.worker import IngestWorker
from cloud.models import Alarm, Bank, Command
from cloud.services import alarms, commands, presence
from cloud.services.commands import enqueue_command
from cloud.services.ingest import ingest_event
from locker_contract.commands import MaintenanceSet
from locker_contract.events import DoorForcedOpen, Envelope
from locker_contract.messages import CommandAck as CommandAckMessage
from locker_contract.messages import Heartbeat
from tests.cloud.conftest import Cloud, fleet

BANK = "maple"
STALL_S = 300.0


@pytest.fixture
def engine(cloud: Cloud) -> Engine:
    fleet(cloud, {BANK: {"M": 2}, "elm": {"M": 2}})
    engine: Engine = cloud.engine
    return engine


def beat(engine: Engine, last_seq: int, at: datetime, bank: str = BANK) -> None:
    heartbeat = Heartbeat(edge_time=at, last_seq=last_seq, acked_seq=0, uptime_s=1.0,
                          boards_online=1, boards_total=1)  # fmt: skip
    presence.record_heartbeat(engine, bank, heartbeat, at, skew_alarm_s=120.0)


def applied(engine: Engine, seq: int) -> None:
    event = DoorForcedOpen(compartment="A01")
    ingest_event(engine, Envelope(event_id=uuid.uuid4(), bank_id=BANK, seq=seq,
                                  time=datetime.now(UTC), event=event))  # fmt: skip


def stalled(engine: Engine) -> list[str]:
    with Session(engine) as s:
        query = select(Alarm).where(Alarm.kind == "stream.stalled", col(Alarm.cleared_at).is_(None))
        return sorted(a.bank_id for a in s.exec(query))


def test_a_stream_that_does_not_move_while_the_bank_has_more_alarms_until_it_moves(
    engine: Engine,
) -> None:
    now = datetime.now(UTC)
    beat(engine, 3, now - timedelta(seconds=1000))  # the bank has 3 events; the cloud none
    beat(engine, 0, now - timedelta(seconds=1000), bank="elm")  # nothing to send: never stalled
    assert presence.sweep_stalled(engine, STALL_S, now - timedelta(seconds=701)) == []
    assert presence.sweep_stalled(engine, STALL_S, now) == [BANK]
    assert stalled(engine) == [BANK]
    presence.sweep_stalled(engine, STALL_S, now)
    assert stalled(engine) == [BANK]  # one alarm, however often swept

    applied(engine, 1)  # the stream moves: the alarm clears
    assert presence.sweep_stalled(engine, STALL_S, datetime.now(UTC)) == []
    assert stalled(engine) == []
    later = datetime.now(UTC) + timedelta(seconds=STALL_S + 1)
    assert presence.sweep_stalled(engine, STALL_S, later) == [BANK]  # stuck again at 1 of 3

    applied(engine, 2)
    applied(engine, 3)
    beat(engine, 3, datetime.now(UTC))  # caught up: cleared, and nothing to wait for
    assert stalled(engine) == []
    far = datetime.now(UTC) + timedelta(days=1)
    assert presence.sweep_stalled(engine, STALL_S, far) == []
    with Session(engine) as s:
        bank = s.get_one(Bank, BANK)
        assert (bank.edge_last_seq, bank.edge_ahead_since) == (3, None)


def test_heartbeats_of_many_banks_written_at_once_each_keep_their_own_clock_and_stream(
    cloud: Cloud,
) -> None:
    """One write of a worker's gathered heartbeats (one statement on PostgreSQL): each bank's
    own time, skew and stream, and since when it is ahead kept from before, set or cleared."""
    fleet(cloud, {"ahead": {"M": 1}, "still": {"M": 1}, "level": {"M": 1}, "skewed": {"M": 1}})
    engine: Engine = cloud.engine
    before = datetime.now(UTC) - timedelta(seconds=600)
    beat(engine, 5, before, bank="still")  # ahead since ``before``
    now = datetime.now(UTC).replace(microsecond=0)

    def heartbeat(last_seq: int, clock: datetime) -> Heartbeat:
        return Heartbeat(edge_time=clock, last_seq=last_seq, acked_seq=0, uptime_s=1.0,
                         boards_online=1, boards_total=1)  # fmt: skip

    beats = [
        presence.Beat("ahead", heartbeat(2, now), now),
        presence.Beat("still", heartbeat(6, now), now),
        presence.Beat("level", heartbeat(0, now), now + timedelta(seconds=1)),
        presence.Beat("skewed", heartbeat(0, now - timedelta(seconds=300)), now),
        presence.Beat("not-ours", heartbeat(1, now), now),  # unknown: left out
    ]
    presence.record(engine, presence.Seen(beats=beats), now, 120.0)
    with Session(engine) as s:
        found = {
            b.id: (b.last_heartbeat_at, b.clock_skew_s, b.edge_last_seq, b.edge_ahead_since)
            for b in s.exec(select(Bank).where(col(Bank.id) != BANK, col(Bank.id) != "elm"))
        }
        open_alarms = s.exec(
            select(Alarm.bank_id, Alarm.kind).where(col(Alarm.cleared_at).is_(None))
        )
        raised = sorted(open_alarms.all())

    def aware(at: datetime | None) -> datetime | None:  # SQLite gives times back naive
        return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)

    assert {bank: (aware(a), skew, seq, aware(b)) for bank, (a, skew, seq, b) in found.items()} == {
        "ahead": (now, 0.0, 2, now),
        "still": (now, 0.0, 6, before),
        "level": (now + timedelta(seconds=1), -1.0, 0, None),
        "skewed": (now, -300.0, 0, None),
    }
    assert raised == [("skewed", "clock.skew")]


def test_a_worker_refuses_a_heartbeat_out_of_range_alone_and_stores_the_others(
    cloud: Cloud,
) -> None:
    """One bank's heartbeat that the database could not store (a counter past the contract's
    range) is refused on its own; the other banks' heartbeats of the same write are stored."""
    fleet(cloud, {"good": {"M": 1}, "buggy": {"M": 1}})
    worker = IngestWorker(cloud.engine, cloud.settings, "mqtt://127.0.0.1:1883")
    now = datetime.now(UTC)
    gathered = Gathered()
    for n, (bank, seq) in enumerate([("buggy", 2**31), ("good", 4)]):
        body = {"v": 1, "edge_time": now.isoformat(), "last_seq": seq, "acked_seq": 0,
                "uptime_s": 1.0, "boards_online": 1, "boards_total": 1}  # fmt: skip
        gathered.heartbeat(bank, json.dumps(body).encode(), now.timestamp(), (n + 1, 1))
    assert worker._write_presence(gathered)  # written: not to be tried again
    with Session(cloud.engine) as s:
        assert s.get_one(Bank, "good").edge_last_seq == 4
        assert s.get_one(Bank, "buggy").last_heartbeat_at is None
    assert worker.stats.rejected == 1


def test_a_write_one_bank_spoils_is_written_bank_by_bank(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever makes the database refuse one bank's part of a write (bad data the contract let
    through, a bug: here the alarms' lookup fails whenever that bank is in it), the other banks'
    heartbeats are stored: one bank must not turn the fleet offline."""
    fleet(cloud, {"good": {"M": 1}, "spoiled": {"M": 1}})
    noted = alarms.note_open

    def spoiled_by_one(s: Session, bank_ids: Collection[str]) -> None:
        if "spoiled" in bank_ids:
            raise ValueError("a bug")
        noted(s, bank_ids)

    monkeypatch.setattr(alarms, "note_open", spoiled_by_one)
    worker = IngestWorker(cloud.engine, cloud.settings, "mqtt://127.0.0.1:1883")
    now = datetime.now(UTC)
    gathered = Gathered()
    for n, bank in enumerate(["spoiled", "good"]):
        body = {"v": 1, "edge_time": now.isoformat(), "last_seq": 4, "acked_seq": 0,
                "uptime_s": 1.0, "boards_online": 1, "boards_total": 1}  # fmt: skip
        gathered.heartbeat(bank, json.dumps(body).encode(), now.timestamp(), (n + 1, 1))
    with caplog.at_level(logging.ERROR, logger="cloud"):
        assert worker._write_presence(gathered)  # written: not to be tried again
    with Session(cloud.engine) as s:
        assert (s.get_one(Bank, "good").edge_last_seq, s.get_one(Bank, "good").online) == (4, True)
        assert s.get_one(Bank, "spoiled").last_heartbeat_at is None
    assert worker.stats.rejected == 1
    assert any("spoiled" in r.getMessage() for r in caplog.records)


def test_a_command_ack_the_database_refuses_costs_the_others_nothing(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet(cloud, {"good": {"M": 1}})
    with transaction(cloud.engine) as s:
        made = [enqueue_command(s, "good", MaintenanceSet(on=on)) for on in (True, False)]
    spoiled, fine = made[0].id, made[1].id
    recorded = commands.record_ack

    def refusing(engine: Engine, bank_id: str, ack: CommandAckMessage) -> None:
        if ack.command_id == spoiled:
            raise ValueError("a bug")
        recorded(engine, bank_id, ack)

    monkeypatch.setattr(commands, "record_ack", refusing)
    worker = IngestWorker(cloud.engine, cloud.settings, "mqtt://127.0.0.1:1883")
    gathered = Gathered()
    for n, command_id in enumerate([spoiled, fine]):
        ack = CommandAckMessage(
            command_id=command_id, outcome="applied", edge_time=datetime.now(UTC)
        )
        gathered.cmd_ack("good", ack.model_dump_json().encode(), (n + 1, 1))
    assert worker._write_presence(gathered)
    with Session(cloud.engine) as s:
        assert s.get_one(Command, fine).state == "acknowledged"
        assert s.get_one(Command, spoiled).state == "pending"  # sent again, answered again
    assert worker.stats.rejected == 1
