"""The edge's side of the link as a person at the kiosk and a monitoring system see it: a bank
whose broker is unreachable keeps working, says so, counts what waits, and catches up."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import controller.link
from controller.commands import CommandRunner
from controller.link import EdgeLink
from hil_sim import Simulator
from locker_contract.commands import CommandEnvelope, MaintenanceSet
from locker_contract.events import DoorForcedOpen
from locker_contract.messages import EventsAck, RefusedEvent
from tests.brokers import Mosquitto, free_port
from tests.controller.conftest import FAST_POLICY, Bank, make_bank
from tests.linkbench import EdgeSide
from tests.waiting import until, wait_until


@pytest.fixture
def port() -> int:
    """The broker's port, chosen when the test starts: one chosen at import could be taken by
    the time a late test in a long run starts its broker on it."""
    return free_port()


@pytest.fixture
def cut_off(tmp_path: Path, port: int) -> Iterator[Bank]:
    """A bank configured for a broker that is not there (yet)."""
    link = (f'\n[link]\nbroker = "mqtt://127.0.0.1:{port}"\nbackoff_base_s = 0.05\n'
            "backoff_cap_s = 0.2\nresync_jitter_s = 0\n")  # fmt: skip
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    yield from make_bank(tmp_path, sim, extra=FAST_POLICY + link)


def test_a_bank_without_its_broker_works_says_so_and_catches_up(
    cut_off: Bank, tmp_path: Path, port: int
) -> None:
    cut_off.sim.force_open(1, 2)  # something happens while the network is down
    wait_until(lambda: "door.forced_open" in cut_off.events())
    status = cut_off.client.get("/api/status").json()["link"]
    assert status["configured"]
    assert not status["connected"]
    wait_until(lambda: cut_off.client.get("/api/status").json()["link"]["reconnects"] >= 2)
    home = cut_off.client.get("/kiosk/").text
    assert "离线运行中" in home
    metrics = cut_off.client.get("/metrics").text
    assert "locker_link_connected 0.0" in metrics

    broker = Mosquitto(tmp_path / "mosquitto", port=port).start()  # the network returns
    try:
        wait_until(lambda: cut_off.client.get("/api/status").json()["link"]["connected"])
        assert "离线运行中" not in cut_off.client.get("/kiosk/").text
        link = cut_off.client.get("/api/status").json()["link"]
        assert link["unacknowledged"] >= 1  # published, but no cloud has applied it yet
        assert "door.forced_open" in cut_off.events()  # kept until a cloud's ack covers it
    finally:
        broker.stop()


def test_a_standalone_bank_reports_no_link(tmp_path: Path) -> None:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    for bank in make_bank(tmp_path, sim):
        assert bank.client.get("/api/status").json()["link"] == {
            "configured": False, "connected": False, "acked_seq": 0, "unacknowledged": 0,
            "reconnects": 0,
        }  # fmt: skip
        assert "离线运行中" not in bank.client.get("/kiosk/").text


# --- the outbox's tail, on an injected clock --------------------------------------------------


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorder:
    """Stands in for the broker client: what the link publishes, in order."""

    seqs: list[int] = field(default_factory=list)

    async def publish(self, topic: str, payload: str, **_: Any) -> None:
        assert topic.endswith("/events")
        self.seqs.append(json.loads(payload)["seq"])


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[tuple[EdgeLink, EdgeSide, Clock]]:
    """A linked bank's link with a 30 s resend, its store, and the clock it reads."""
    edge = EdgeSide.create(tmp_path / "edge", "maple-court-3", "mqtt://127.0.0.1:1")
    assert edge.config.link is not None
    clock = Clock()
    spec = edge.config.link.model_copy(update={"resend_after_s": 30.0})
    runner = CommandRunner(edge.engine, edge.key, lambda: None)
    link = EdgeLink(edge.engine, "maple-court-3", spec, runner=runner,
                    snapshot=lambda: None, clock=clock)  # type: ignore[arg-type,return-value]  # fmt: skip
    yield link, edge, clock
    edge.engine.dispose()


async def rounds(link: EdgeLink, client: Recorder) -> None:
    """Let the publisher go round until it has nothing more to do at once."""
    for _ in range(10):
        if not await link._publish_round(client):  # type: ignore[arg-type]
            return
    raise AssertionError("the publisher never went idle")


def ack(seq: int, *refused: tuple[int, str]) -> EventsAck:
    told = [RefusedEvent(seq=n, reason=why) for n, why in refused]
    return EventsAck(seq=seq, cloud_time=datetime.now(UTC), refused=told)


async def test_the_first_event_after_a_quiet_spell_is_published_once(
    quiet: tuple[EdgeLink, EdgeSide, Clock],
) -> None:
    link, edge, clock = quiet
    client = Recorder()
    await rounds(link, client)
    clock.now += 45  # quiet: no event, so no ack, for longer than resend_after_s
    edge.emit(DoorForcedOpen(compartment="A01"))
    await rounds(link, client)
    assert client.seqs == [1]  # not [1, 1]
    clock.now += 29
    await rounds(link, client)
    assert client.seqs == [1]
    clock.now += 2  # 31 s without its ack: published again, once
    await rounds(link, client)
    assert client.seqs == [1, 1]
    link._acked(ack(1), live=True)
    clock.now += 100
    await rounds(link, client)
    assert client.seqs == [1, 1]


async def test_an_event_the_cloud_refused_is_logged_and_never_published_again(
    quiet: tuple[EdgeLink, EdgeSide, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    link, edge, clock = quiet
    client = Recorder()
    edge.emit(*(DoorForcedOpen(compartment=f"A0{n}") for n in range(1, 5)))
    await rounds(link, client)
    assert client.seqs == [1, 2, 3, 4]
    with caplog.at_level(logging.WARNING, logger="controller.link"):
        link._acked(ack(1, (3, "not a valid event: " + "x" * 480)), live=True)
    [said] = [r.getMessage() for r in caplog.records]
    assert "event 3" in said
    assert "not a valid event" in said
    assert len(said) < 350  # a bounded quote of the reason
    clock.now += 31  # 2 and 4 are overdue: published again, 3 not
    await rounds(link, client)
    assert client.seqs == [1, 2, 3, 4, 2, 4]
    link._acked(ack(4), live=True)  # the cloud went past it: it leaves the outbox with the rest
    assert link._tail.refused == set()
    assert link.status.acked_seq == 4


async def test_a_backlog_goes_out_a_window_at_a_time_as_the_cloud_acknowledges(
    quiet: tuple[EdgeLink, EdgeSide, Clock],
) -> None:
    """Days offline leave thousands of events: at most ``window`` are out past the last ack, so
    the broker never holds a flood of one bank ahead of the others' events."""
    link, edge, clock = quiet
    link._tail.window = 3
    client = Recorder()
    edge.emit(*(DoorForcedOpen(compartment=f"A0{n}") for n in range(1, 8)))
    await rounds(link, client)
    assert client.seqs == [1, 2, 3]  # the window is full: the rest waits for an ack
    link._acked(ack(2), live=True)
    assert link._nudge.is_set()  # the ack wakes the publisher: no wait for the next poll
    await rounds(link, client)
    assert client.seqs == [1, 2, 3, 4, 5]
    clock.now += 31  # no ack past 2 for resend_after_s: the window again, from there
    await rounds(link, client)
    assert client.seqs == [1, 2, 3, 4, 5, 3, 4, 5]
    link._acked(ack(5), live=True)
    await rounds(link, client)
    assert client.seqs == [1, 2, 3, 4, 5, 3, 4, 5, 6, 7]


@dataclass
class WritingRecorder(Recorder):
    """A recorder during whose first publish the bank writes another event and nudges."""

    then: Any = None

    async def publish(self, topic: str, payload: str, **kw: Any) -> None:
        await super().publish(topic, payload, **kw)
        if self.then is not None:
            self.then, then = None, self.then
            then()


async def test_an_event_written_while_a_round_publishes_goes_out_without_waiting_to_poll(
    quiet: tuple[EdgeLink, EdgeSide, Clock], monkeypatch: pytest.MonkeyPatch
) -> None:
    link, edge, _ = quiet
    link.spec = link.spec.model_copy(update={"resync_jitter_s": 0.0})
    monkeypatch.setattr(controller.link, "POLL_S", 60.0)  # a nudge lost waits this long

    def write_another() -> None:
        edge.emit(DoorForcedOpen(compartment="A02"))
        link.nudge()

    client = WritingRecorder(then=write_another)
    edge.emit(DoorForcedOpen(compartment="A01"))
    publishing = asyncio.create_task(link._publish_events(client))  # type: ignore[arg-type]
    try:
        await until(lambda: client.seqs == [1, 2], timeout=5.0, what="both out, no poll waited")
    finally:
        publishing.cancel()


# --- how long a command has left ------------------------------------------------------------


def _received(expiry: int | None) -> Any:
    """A message as aiomqtt hands it over, with or without the broker's remaining expiry."""
    properties = (
        SimpleNamespace() if expiry is None else SimpleNamespace(MessageExpiryInterval=expiry)
    )
    return SimpleNamespace(properties=properties)


def _command(sent_at: datetime, ttl_s: float) -> CommandEnvelope:
    return CommandEnvelope(
        command_id="c-1", sent_at=sent_at, ttl_s=ttl_s, command=MaintenanceSet(on=True)
    )


def test_a_command_delivered_without_its_expiry_over_mqtt5_has_none_left(
    quiet: tuple[EdgeLink, EdgeSide, Clock],
) -> None:
    """The cloud sets an expiry on every MQTT 5 command; Mosquitto was seen to deliver a 1 s
    command 1.1 to 1.9 s after it was published without the property. It was then given its
    whole ttl_s from receipt and applied, although the cloud had marked it expired."""
    link, _, _ = quiet
    assert link.broker.mqtt5
    late = _command(datetime.now(UTC) - timedelta(seconds=1.5), ttl_s=1.0)
    assert link._remaining(_received(None), late) == 0.0  # no ack yet: no cloud clock either


def test_the_smaller_of_the_brokers_and_the_clouds_count_wins(
    quiet: tuple[EdgeLink, EdgeSide, Clock],
) -> None:
    link, _, _ = quiet
    fresh = _command(datetime.now(UTC), ttl_s=60.0)
    assert link._remaining(_received(5), fresh) == 5.0  # no cloud clock yet: the broker's
    link._acked(ack(0), live=True)  # the cloud's clock, learnt from a live ack
    assert link._remaining(_received(5), fresh) == 5.0
    old = _command(datetime.now(UTC) - timedelta(seconds=58), ttl_s=60.0)
    left = link._remaining(_received(5), old)
    assert left is not None
    assert left < 2.5  # 60 s less its 58 s of age, though the broker still said 5
