"""A bank whose outbox holds events this contract refuses (written by an older version whose
kiosk took a NUL or a NaN) does not stall: over a real broker the cloud sets them aside and says
so in its ack, the edge stops publishing them, and the events after them are applied."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from cloud.models import Alarm, QuarantinedEvent
from controller.store import Outbox, transaction, utcnow
from locker_contract.events import DoorForcedOpen
from tests.brokers import Mosquitto
from tests.linkbench import EdgeSide, Rig, applied_seq, fast_settings, rows, until

BANK = "maple-court-3"
SPOILT = [  # as an older edge stored them, before the contract refused such values
    ("door.left_open", '{"type": "door.left_open", "compartment": "A01", "open_for_s": NaN}'),
    ("compartment.service", json.dumps({"type": "compartment.service", "compartment": "A02",
                                        "in_service": False, "reason": "bent\x00hinge"})),
]  # fmt: skip


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


def outbox_seqs(edge: EdgeSide) -> list[int]:
    with transaction(edge.engine) as s:
        return [row.seq for row in s.exec(select(Outbox)) if row.seq is not None]


async def test_events_the_contract_refuses_are_set_aside_and_the_stream_goes_on(
    database_url: str, mosquitto: Mosquitto, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    cloud = rig.cloud(rig.database(database_url, [BANK]), fast_settings(database_url),
                      mosquitto.url)  # fmt: skip
    edge = rig.edge(BANK, mosquitto.url)
    with transaction(edge.engine) as s:
        for type_, body in SPOILT:
            s.add(Outbox(event_id=str(uuid.uuid4()), type=type_, time=utcnow(), body=body))
    edge.emit(DoorForcedOpen(compartment="A03"), DoorForcedOpen(compartment="A04"))
    caplog.set_level(logging.WARNING)
    cloud.start()
    edge.start()

    await until(lambda: applied_seq(cloud.engine, BANK) == 4, what="the stream past both")
    await until(lambda: outbox_seqs(edge) == [], what="the edge's outbox emptied by the ack")
    held = rows(cloud.engine, QuarantinedEvent)
    assert sorted((q.seq, q.type, q.state) for q in held) == [
        (1, "door.left_open", "held"),
        (2, "compartment.service", "held"),
    ]
    assert "open_for_s" in held[0].reason or "open_for_s" in held[1].reason
    forced = rows(cloud.engine, Alarm, col(Alarm.kind) == "door.forced_open")
    assert sorted(a.compartment for a in forced) == ["A03", "A04"]
    quarantined = rows(cloud.engine, Alarm, col(Alarm.kind) == "event.quarantined")
    assert sorted(a.compartment for a in quarantined) == ["seq 1", "seq 2"]
    said = [r.getMessage() for r in caplog.records if r.name == "controller.link"]
    assert any("set event 1 aside" in line for line in said)
    assert any("set event 2 aside" in line for line in said)
    assert all("\x00" not in line and len(line) < 700 for line in said)
    with Session(edge.engine) as s:
        assert s.exec(select(Outbox)).first() is None
