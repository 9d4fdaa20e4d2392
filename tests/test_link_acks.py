"""A bank's ``events/ack`` is the latest word on its stream (decision 0029): published retained,
so that an edge subscribing again finds it, and at QoS 0, since the next ack replaces it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from locker_contract.messages import EventsAck
from tests.brokers import Mosquitto
from tests.linkbench import Rig, applied_seq, fast_settings
from tests.waiting import DEADLINE_S, until

BANK = "maple-court-3"
ACK = f"banks/{BANK}/events/ack"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


def event(seq: int) -> str:
    return json.dumps({"event_id": str(uuid.uuid4()), "bank_id": BANK, "seq": seq,
                       "time": datetime.now(UTC).isoformat(),
                       "event": {"type": "door.closed", "compartment": "A01"}})  # fmt: skip


async def test_the_ack_is_retained_at_qos_0_and_found_by_an_edge_subscribing_later(
    mosquitto: Mosquitto, rig: Rig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    engine = rig.database(url, [BANK])
    cloud = rig.cloud(engine, fast_settings(url), mosquitto.url)
    cloud.start()
    # this edge is bare, with no outbox to send again: publish once the worker has subscribed
    await until(lambda: cloud.worker is not None and cloud.worker.stats.connected, what="worker")
    v5 = aiomqtt.ProtocolVersion.V5
    async with aiomqtt.Client("127.0.0.1", mosquitto.port, protocol=v5) as edge:
        await edge.subscribe(ACK, qos=1)
        for seq in (1, 2):
            await edge.publish(f"banks/{BANK}/events", event(seq), qos=1)
        live = await next_ack(edge, seq=2)
    assert live.qos == 0  # asked for at QoS 1: the broker hands it on at the QoS it came with
    assert applied_seq(engine, BANK) == 2

    async with aiomqtt.Client("127.0.0.1", mosquitto.port, protocol=v5) as later:
        await later.subscribe(ACK, qos=1)
        kept = await next_ack(later, seq=2)
    assert kept.retain
    assert kept.qos == 0


async def next_ack(client: aiomqtt.Client, seq: int) -> aiomqtt.Message:
    """The first ``events/ack`` that says ``seq`` is done."""
    async with asyncio.timeout(DEADLINE_S):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            if EventsAck.model_validate_json(message.payload).seq == seq:
                return message
    raise AssertionError("the connection ended before the ack came")
