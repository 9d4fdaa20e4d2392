"""The one reconnect loop (``locker_contract.session``): on a fake connection and clock, every
delay is known; against a real Mosquitto, a broker lost and back is reconnected to."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiomqtt
import pytest

from locker_contract.broker import BrokerUrl, client
from locker_contract.session import Backoff, Counts, Reconnecting, Work
from tests.brokers import Mosquitto
from tests.waiting import until

BACKOFF = Backoff(base_s=1.0, cap_s=8.0, stable_after_s=60.0)
SEED = 12


@dataclass
class Clock:
    """Time that moves only when the loop sleeps (or a test says so); every sleep recorded."""

    now: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Broker:
    """A fake connection: refuses the first ``refusals`` attempts; records what happened."""

    refusals: int = 0
    close_fails: bool = False  # closing raises, as aiomqtt does when a disconnect goes unanswered
    attempts: int = 0
    open: int = 0
    closed: int = 0

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[str]:
        self.attempts += 1
        if self.attempts <= self.refusals:
            raise aiomqtt.MqttError("connection refused")
        self.open += 1
        try:
            yield f"connection {self.attempts}"
        finally:
            self.closed += 1
            if self.close_fails:
                raise aiomqtt.MqttError("Operation timed out")


def expected_delays(attempts: list[int]) -> list[float]:
    rng = random.Random(SEED)
    return [BACKOFF.delay(n, rng) for n in attempts]


async def lost(after: float, clock: Clock) -> None:
    """A session task whose connection drops ``after`` seconds in."""
    clock.now += after
    await asyncio.sleep(0)
    raise aiomqtt.MqttError("the broker went away")


async def hold() -> None:
    await asyncio.Event().wait()


def loop(
    broker: Broker,
    clock: Clock,
    work: Work,
    *,
    tally: Counts | None = None,
    farewell: Callable[[str], Awaitable[None]] | None = None,
) -> Reconnecting[str]:
    """The loop on ``broker`` and ``clock``: ``work`` on its first connection, then holding."""
    sessions = iter([work])

    async def session(connection: str) -> Work:
        return next(sessions, None) or {"hold": hold()}

    return Reconnecting(
        "fake",
        broker.connect,
        session,
        backoff=BACKOFF,
        tally=tally,
        farewell=farewell,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(SEED),
    )


async def test_refused_connections_back_off_with_capped_full_jitter() -> None:
    broker, clock, counts = Broker(refusals=6), Clock(), Counts()
    running = asyncio.create_task(loop(broker, clock, {"hold": hold()}, tally=counts).run())
    await until(lambda: counts.connected, what="connected at the seventh attempt")
    assert clock.slept == expected_delays([0, 1, 2, 3, 4, 5])
    assert all(0 <= d <= min(8.0, 2.0**n) for n, d in enumerate(clock.slept))
    assert (counts.connected, counts.reconnects, broker.attempts) == (True, 6, 7)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not counts.connected


async def test_a_flapping_connection_keeps_backing_off_a_stable_one_starts_over() -> None:
    broker, clock = Broker(), Clock()
    # five connections lost one second in, one lost a minute in, then one second in again
    sessions = iter([1.0] * 5 + [60.0] + [1.0] * 10)

    async def session(connection: str) -> Work:
        return {"drop": lost(next(sessions), clock)}

    reconnecting = Reconnecting(
        "fake",
        broker.connect,
        session,
        backoff=BACKOFF,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(SEED),
    )
    running = asyncio.create_task(reconnecting.run())
    await until(lambda: len(clock.slept) >= 8, what="eight reconnects")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert clock.slept[:8] == expected_delays([0, 1, 2, 3, 4, 0, 1, 2])
    assert broker.open == broker.closed >= 8


async def test_the_session_runs_as_named_tasks_and_stops_cleanly() -> None:
    broker, clock, counts = Broker(), Clock(), Counts()
    started: list[str] = []
    farewells: list[str] = []

    async def forever(name: str) -> None:
        started.append(name)
        await asyncio.Event().wait()

    async def farewell(connection: str) -> None:
        farewells.append(connection)

    work = {"receive": forever("receive"), "publish": forever("publish")}
    reconnecting = loop(broker, clock, work, tally=counts, farewell=farewell)
    running = asyncio.create_task(reconnecting.run(), name="the link")
    await until(lambda: len(started) == 2, what="both tasks started")
    names = {task.get_name() for task in asyncio.all_tasks()}
    assert {"fake.receive", "fake.publish"} <= names
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    left = {task.get_name() for task in asyncio.all_tasks()}
    assert not left & {"fake.receive", "fake.publish"}  # every task of the session ended
    assert farewells == ["connection 1"]  # said goodbye on the connection, before closing it
    assert (broker.open, broker.closed, counts.connected, clock.slept) == (1, 1, False, [])


async def test_a_stop_ends_the_loop_even_when_closing_the_connection_fails() -> None:
    broker, clock, counts = Broker(close_fails=True), Clock(), Counts()
    running = asyncio.create_task(loop(broker, clock, {"hold": hold()}, tally=counts).run())
    await until(lambda: counts.connected, what="connected")
    running.cancel()
    await asyncio.wait([running], timeout=5)
    assert running.cancelled(), "the loop swallowed its stop and went on"
    assert (broker.attempts, clock.slept) == (1, [])  # stopped: no backoff, no second connection


async def test_a_bug_in_the_session_is_logged_and_the_loop_reconnects(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, clock = Broker(), Clock()

    async def broken() -> None:
        raise ValueError("a bug")

    running = asyncio.create_task(loop(broker, clock, {"broken": broken()}).run())
    await until(lambda: broker.attempts >= 2, what="a second connection")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    failed = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert failed == ["fake failed; reconnecting"]
    assert clock.slept[0] == expected_delays([0])[0]


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


async def test_a_broker_lost_and_back_is_reconnected_to(mosquitto: Mosquitto) -> None:
    counts, slept = Counts(), list[float]()
    url = BrokerUrl.parse(mosquitto.url)

    async def back_after(seconds: float) -> None:
        """The backoff's wait, in which the broker comes back."""
        slept.append(seconds)
        await asyncio.to_thread(mosquitto.start)

    async def session(connection: aiomqtt.Client) -> Work:
        await connection.subscribe("nothing/here")
        return {"listen": listen(connection)}

    async def listen(connection: aiomqtt.Client) -> None:
        async for _ in connection.messages:
            pass

    reconnecting = Reconnecting(
        "real",
        lambda: client(url, "session-test"),
        session,
        backoff=BACKOFF,
        tally=counts,
        sleep=back_after,
        rng=random.Random(SEED),
    )
    running = asyncio.create_task(reconnecting.run())
    try:
        await until(lambda: counts.connected, what="the first connection")
        await asyncio.to_thread(mosquitto.stop)
        await until(lambda: counts.reconnects == 1 and counts.connected, what="back again")
        assert slept == expected_delays([0])
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert not counts.connected


async def test_connected_only_once_the_session_is_prepared() -> None:
    """Subscribing is part of connecting: a caller that sees ``connected`` may rely on what
    arrives from then on reaching it (a worker's first events, an edge's first command)."""
    broker, clock, counts = Broker(), Clock(), Counts()
    subscribing, subscribed = asyncio.Event(), asyncio.Event()

    async def session(connection: str) -> Work:
        subscribing.set()
        await subscribed.wait()
        return {"hold": hold()}

    reconnecting = Reconnecting("fake", broker.connect, session, backoff=BACKOFF, tally=counts,
                                clock=clock, sleep=clock.sleep)  # fmt: skip
    running = asyncio.create_task(reconnecting.run())
    await asyncio.wait_for(subscribing.wait(), timeout=5)
    assert (broker.open, counts.connected) == (1, False)  # the broker accepted; not yet ready
    subscribed.set()
    await until(lambda: counts.connected, what="connected once subscribed")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert not counts.connected
