"""Edge and cloud over a real broker: events exactly once, commands at most once, through
restarts of the broker, the cloud and the edge, and duplicated deliveries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest
from sqlmodel import Session, col, select

from cloud.link.embedded import embedded_broker
from cloud.models import Alarm, InboundEvent
from controller.store import Outbox, get_setting
from locker_contract.events import DoorForcedOpen
from tests.brokers import Mosquitto, free_port
from tests.linkbench import (
    CloudSide,
    EdgeSide,
    applied_seq,
    cloud_database,
    fast_settings,
    rows,
    until,
)

BANK = "maple-court-3"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


@pytest.fixture(params=["mosquitto", "amqtt"])
async def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "mosquitto":
        broker = Mosquitto(tmp_path / "mosquitto").start()
        yield broker.url
        broker.stop()
    else:
        async with embedded_broker(port=free_port()) as url:
            yield url


def cloud_for(tmp_path: Path, broker: str) -> CloudSide:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    return CloudSide(cloud_database(url, [BANK]), fast_settings(url), broker)


def forced(n: int) -> list[DoorForcedOpen]:
    return [DoorForcedOpen(compartment=f"A{1 + i % 8:02d}") for i in range(n)]


def outbox_empty(edge: EdgeSide) -> bool:
    with Session(edge.engine) as s:
        return s.exec(select(Outbox)).first() is None


async def test_events_reach_the_cloud_once_in_order_and_leave_the_outbox(
    broker_url: str, tmp_path: Path
) -> None:
    cloud = cloud_for(tmp_path, broker_url)
    edge = EdgeSide.create(tmp_path / "edge", BANK, broker_url)
    cloud.start()
    edge.start()
    edge.emit(*forced(30))
    await until(lambda: applied_seq(cloud.engine, BANK) == 30, what="30 events applied")
    await until(lambda: outbox_empty(edge), what="the outbox emptied by acks")
    events = rows(cloud.engine, InboundEvent, col(InboundEvent.bank_id) == BANK)
    assert sorted(e.seq for e in events) == list(range(1, 31))
    assert len(rows(cloud.engine, Alarm, col(Alarm.kind) == "door.forced_open")) == 30
    with Session(edge.engine) as s:
        assert get_setting(s, "link.acked_seq") == "30"
    await edge.stop()
    await cloud.stop()


async def test_restarts_and_duplicates_change_nothing(mosquitto: Mosquitto, tmp_path: Path) -> None:
    cloud = cloud_for(tmp_path, mosquitto.url)
    edge = EdgeSide.create(tmp_path / "edge", BANK, mosquitto.url)
    cloud.start()
    edge.start()
    edge.emit(*forced(10))
    await until(lambda: applied_seq(cloud.engine, BANK) == 10, what="first 10")

    mosquitto.restart()  # the broker goes away and comes back with its persisted sessions
    edge.emit(*forced(10))
    await until(lambda: applied_seq(cloud.engine, BANK) == 20, what="20 after the broker")

    await cloud.stop()  # the cloud is down while the bank keeps working
    edge.emit(*forced(10))
    await asyncio.sleep(0.5)
    assert applied_seq(cloud.engine, BANK) == 20
    cloud.start()
    await until(lambda: applied_seq(cloud.engine, BANK) == 30, what="30 after the cloud")

    await edge.stop()  # the edge restarts with events it had not yet published
    edge.emit(*forced(10))
    edge.start()
    await until(lambda: applied_seq(cloud.engine, BANK) == 40, what="40 after the edge")

    # every event published again, by hand: duplicates
    async with aiomqtt.Client("127.0.0.1", mosquitto.port) as raw:
        for event in rows(cloud.engine, InboundEvent):
            envelope = {"event_id": event.event_id, "bank_id": BANK, "seq": event.seq,
                        "time": event.received_at.isoformat(), "event": event.body}  # fmt: skip
            await raw.publish(f"banks/{BANK}/events", json.dumps(envelope), qos=1)
    await until(lambda: cloud.worker is not None and cloud.worker.stats.duplicates >= 40,
                what="40 duplicates seen")  # fmt: skip
    events = rows(cloud.engine, InboundEvent)
    assert sorted(e.seq for e in events) == list(range(1, 41))
    assert len(rows(cloud.engine, Alarm, col(Alarm.kind) == "door.forced_open")) == 40
    await until(lambda: outbox_empty(edge), what="outbox drained")
    await edge.stop()
    await cloud.stop()
