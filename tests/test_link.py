"""Edge and cloud over a real broker: events exactly once, commands at most once, through
restarts of the broker, the cloud and the edge, and duplicated deliveries."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest
from sqlmodel import Session, col, select

from cloud.link.embedded import embedded_broker
from cloud.models import Alarm, Bank, Command, CommandAck, InboundEvent
from cloud.services.commands import enqueue_command
from controller.store import AppliedCommand, Compartment, Outbox, get_setting
from locker_contract.commands import CommandAdapter
from locker_contract.events import DoorForcedOpen
from tests.brokers import Mosquitto, free_port
from tests.linkbench import (
    CloudSide,
    EdgeSide,
    Rig,
    applied_seq,
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
        # amqtt's shutdown can leave a client's stream transport open; collect it now, while
        # this loop runs, rather than as an unraisable warning when pytest exits
        await asyncio.sleep(0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()


def linked(rig: Rig, broker: str) -> tuple[CloudSide, EdgeSide]:
    """The cloud's worker and one bank's link, both started (and closed by the rig)."""
    url = f"sqlite:///{rig.folder / 'cloud.db'}"
    cloud = rig.cloud(rig.database(url, [BANK]), fast_settings(url), broker)
    edge = rig.edge(BANK, broker)
    cloud.start()
    edge.start()
    return cloud, edge


def forced(n: int, first: int = 0) -> list[DoorForcedOpen]:
    """``n`` forced doors, each at a place of its own (``A00``, ``A01``... ``Z99``): one open
    alarm each, so that the alarms count the events applied."""
    places = range(first, first + n)
    return [DoorForcedOpen(compartment=f"{chr(65 + i // 100 % 26)}{i % 100:02d}") for i in places]


def outbox_empty(edge: EdgeSide) -> bool:
    with Session(edge.engine) as s:
        return s.exec(select(Outbox)).first() is None


async def test_events_reach_the_cloud_once_in_order_and_leave_the_outbox(
    broker_url: str, rig: Rig
) -> None:
    cloud, edge = linked(rig, broker_url)
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


async def test_restarts_and_duplicates_change_nothing(mosquitto: Mosquitto, rig: Rig) -> None:
    cloud, edge = linked(rig, mosquitto.url)
    edge.emit(*forced(10))
    await until(lambda: applied_seq(cloud.engine, BANK) == 10, what="first 10")

    mosquitto.restart()  # the broker goes away and comes back with its persisted sessions
    edge.emit(*forced(10, 10))
    await until(lambda: applied_seq(cloud.engine, BANK) == 20, what="20 after the broker")

    await cloud.stop()  # the cloud is down while the bank keeps working
    edge.emit(*forced(10, 20))
    await asyncio.sleep(0.5)
    assert applied_seq(cloud.engine, BANK) == 20
    cloud.start()
    await until(lambda: applied_seq(cloud.engine, BANK) == 30, what="30 after the cloud")

    await edge.stop()  # the edge restarts with events it had not yet published
    edge.emit(*forced(10, 30))
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


def enqueue(cloud: CloudSide, type_: str, ttl_s: float, **payload: object) -> str:
    with Session(cloud.engine) as s, s.begin():
        command = CommandAdapter.validate_python({"type": type_, **payload})
        return enqueue_command(s, BANK, command, ttl_s=ttl_s).id


def command_state(cloud: CloudSide, command_id: str) -> str:
    with Session(cloud.engine) as s:
        return s.get_one(Command, command_id).state


async def test_commands_sent_while_the_bank_is_offline_apply_once_and_expired_never(
    mosquitto: Mosquitto, rig: Rig
) -> None:
    cloud, edge = linked(rig, mosquitto.url)
    await until(lambda: edge.link is not None and edge.link.status.connected, what="edge up")
    await edge.stop()
    await until(lambda: _online(cloud) is False, what="the cloud sees the bank offline")

    lasting = enqueue(cloud, "bank.maintenance", 600, on=True)
    fleeting = enqueue(cloud, "compartment.service", 1.0, compartment="A01", in_service=False,
                       reason="inspect the hinge")  # fmt: skip
    await until(lambda: command_state(cloud, fleeting) == "expired", what="expiry in the cloud")
    await asyncio.sleep(1.0)  # the cloud retries nothing while the bank is offline

    edge.start()
    await until(lambda: command_state(cloud, lasting) == "acknowledged", what="the ack")
    await asyncio.sleep(1.5)  # room for any stray copy or retry to arrive
    with Session(edge.engine) as s:
        applied = list(s.exec(select(AppliedCommand)))
        assert [(a.command_id, a.outcome) for a in applied if a.outcome == "applied"] == [
            (lasting, "applied")
        ]
        assert s.get_one(Compartment, "A01").in_service  # the expired command never applied
        changes = [o for o in s.exec(select(Outbox)) if o.type == "bank.maintenance"]
    with Session(cloud.engine) as s:
        assert s.get_one(CommandAck, lasting).outcome == "applied"
        # the broker dropped it unseen (MQTT 5 expiry), or delivered it late without its expiry
        # (Mosquitto counts whole seconds) and the edge answered that it had expired (8336be4)
        late = s.get(CommandAck, fleeting)
        assert late is None or late.outcome == "expired", late
    assert len(changes) <= 1  # the maintenance event, once (or already acked and dropped)
    await until(lambda: len(rows(cloud.engine, InboundEvent,
                                 col(InboundEvent.type) == "bank.maintenance")) == 1,
                what="the maintenance event in the cloud, once")  # fmt: skip
    await edge.stop()
    await cloud.stop()


def _online(cloud: CloudSide) -> bool:
    with Session(cloud.engine) as s:
        return s.get_one(Bank, BANK).online


async def test_malformed_messages_are_refused_and_lose_nothing(broker_url: str, rig: Rig) -> None:
    cloud, edge = linked(rig, broker_url)
    edge.emit(*forced(3))
    await until(lambda: applied_seq(cloud.engine, BANK) == 3, what="3 events")
    command = enqueue(cloud, "bank.maintenance", 600, on=True)
    await until(lambda: command_state(cloud, command) == "acknowledged", what="a good command")
    host, port = broker_url.split("//")[1].split(":")
    protocol = aiomqtt.ProtocolVersion.V5 if broker_url.startswith("mqtt:") else None
    async with aiomqtt.Client(host, int(port), protocol=protocol) as raw:
        for junk in (b"", b"not json", b'{"event_id": 1}', b"\xff\xfe"):
            await raw.publish(f"banks/{BANK}/events", junk, qos=1)
        await raw.publish(f"banks/{BANK}/heartbeat", b'{"v": 2}', qos=1)
        await raw.publish("banks/NOT A BANK/events", b"{}", qos=1)
        bad = {"v": 1, "command_id": "c-bad", "sent_at": "2026-01-01T00:00:00Z", "ttl_s": 60,
               "command": {"type": "door.explode"}}  # fmt: skip
        await raw.publish(f"banks/{BANK}/cmd", json.dumps(bad), qos=1)
    edge.emit(*forced(3))  # both ends still work, in order, nothing lost
    # the maintenance event and 3 more (and whatever else the bank recorded meanwhile)
    await until(
        lambda: applied_seq(cloud.engine, BANK) >= 7 and outbox_empty(edge), what="all applied"
    )
    assert cloud.worker is not None
    # the four junk events; the junk heartbeat may be superseded by the bank's next one before
    # it is read (heartbeats are gathered, the latest of each bank wins)
    assert cloud.worker.stats.rejected >= 4

    def refused() -> bool:
        with Session(edge.engine) as s:
            return s.get(AppliedCommand, "c-bad") is None and edge.link is not None

    await until(refused, what="the edge alive")
    await edge.stop()
    await cloud.stop()
