"""A fridge sampled while the bank's broker is unreachable: every sample and the excursion are
kept in the store and the outbox, nothing is forgotten while unsent, and all of it is published,
in order, once the broker is back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from controller.cold.sampler import ZoneSampler
from controller.cold.zones import ColdPolicy, ZoneSpec
from controller.store import event_types, transaction
from locker_contract.events import Envelope, ZoneSamples
from tests.brokers import Mosquitto, free_port
from tests.controller.cold.conftest import ScriptedSensor
from tests.controller.fakeclock import FakeClock
from tests.linkbench import EdgeSide

BANK = "maple-court-3"
FRIDGE = ZoneSpec.model_validate(
    {"name": "fridge-1", "class": "chilled", "compartments": ["B03"],
     "sensor": {"bus": "main", "address": 10}}
)  # fmt: skip


@pytest.fixture
async def edge(tmp_path: Path) -> AsyncIterator[tuple[EdgeSide, int]]:
    port = free_port()
    side = EdgeSide.create(tmp_path / "edge", BANK, f"mqtt://127.0.0.1:{port}")
    try:
        yield side, port
    finally:
        await side.stop()
        side.engine.dispose()


async def _published(port: int, received: list[dict[str, object]], want: int) -> None:
    """Collect the bank's events from the broker until ``want`` distinct seqs came."""
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(f"banks/{BANK}/events", qos=1)
        async for message in client.messages:
            assert isinstance(message.payload, bytes | str)
            received.append(json.loads(message.payload))
            if len({e["seq"] for e in received}) >= want:
                return


async def test_samples_taken_offline_are_kept_and_published_on_reconnect(
    edge: tuple[EdgeSide, int], tmp_path: Path
) -> None:
    side, port = edge
    side.start()  # its broker is not there: the link keeps trying
    sensor, clock = ScriptedSensor(4.0), FakeClock()
    policy = ColdPolicy(retention_days=1)
    sampler = ZoneSampler(side.engine, [FRIDGE], policy, sensor, clock)
    for minute in range(70):
        sensor.celsius = 11.0 if 20 <= minute < 40 else 4.0  # the fridge failed for 20 minutes
        await sampler.sample_once()
        sampler.send_batches()
        clock.advance(60)
    clock.advance(300)
    sampler.send_batches()
    with transaction(side.engine) as s:
        kinds = event_types(s)
    alarms = [k for k in kinds if k != "zone.samples"]
    assert alarms == ["zone.excursion_started", "zone.excursion_ended"]
    # a batch once its oldest sample waited send_every_s (5 minutes): six samples each
    assert kinds.count("zone.samples") == 12
    clock.advance(3 * 86400)
    assert sampler.purge() == 0  # past the retention, but never acknowledged
    assert side.link is not None
    assert not side.link.status.connected

    received: list[dict[str, object]] = []
    broker = Mosquitto(tmp_path / "mosquitto", port=port).start()  # the network returns
    try:
        await asyncio.wait_for(_published(port, received, want=len(kinds)), timeout=30)
    finally:
        broker.stop()
    events = {int(str(e["seq"])): Envelope.model_validate(e).event for e in received}
    assert sorted(events) == list(range(1, len(kinds) + 1))
    batches = [events[n] for n in sorted(events) if isinstance(events[n], ZoneSamples)]
    samples = [s for b in batches if isinstance(b, ZoneSamples) for s in b.samples]
    assert len(samples) == 70
    assert [s.at for s in samples] == sorted(s.at for s in samples)
    assert [getattr(s, "celsius", None) for s in samples].count(11.0) == 20
