"""A bank whose stream does not move while its heartbeats say it has more raises
``stream.stalled``, and the alarm clears when the stream moves or catches up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.models import Alarm, Bank
from cloud.services import presence
from cloud.services.ingest import ingest_event
from locker_contract.events import DoorForcedOpen, Envelope
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
