"""Staying connected to the broker: the one reconnect loop the bank's link and the cloud's ingest
worker both run.

``Reconnecting.run`` connects, lets the caller prepare the session (subscribe, say it is online)
and hand back its work as named coroutines, runs them together as named tasks
(``<name>.<task>``, as aiomqtt names its background tasks) until one ends or fails or the
connection is lost, then waits a capped full-jitter backoff (``broker.full_jitter``) and starts
over. A connection that lasted ``stable_after_s`` starts the backoff over from its first step, so
that a link which flaps is slowed down and one lost after a day is not. Cancelling ``run`` stops
it cleanly: every task of the session is cancelled and awaited (``tasks.run_together``), the
caller's ``farewell`` may still use the connection, and the connection is closed. A stop is
final even when closing fails: aiomqtt turns a disconnect the broker never acknowledges into an
``MqttError`` raised in place of the cancellation, which the loop would otherwise take for a lost
connection and reconnect after, never ending.

Time is injected (``clock`` and ``sleep``), and so is the randomness (``rng``): a test runs a day
of reconnects at once and knows every delay.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import aiomqtt

from locker_contract.broker import full_jitter
from locker_contract.tasks import run_together

log = logging.getLogger(__name__)

C = TypeVar("C")
Work = Mapping[str, Coroutine[Any, Any, None]]  # a session's tasks, by name


class Tally(Protocol):
    """Where the loop reports the connection: the caller's status, shown on its own pages.
    ``connected`` once the session is prepared (subscribed, said online), not merely once the
    broker accepted the connection: what arrives from then on reaches the caller."""

    connected: bool
    reconnects: int


@dataclass
class Counts:
    """A ``Tally`` of its own, for a caller that shows none."""

    connected: bool = False
    reconnects: int = 0


@dataclass(frozen=True)
class Backoff:
    """Seconds between attempts: full jitter under ``base_s``·2^attempt, at most ``cap_s``."""

    base_s: float = 0.5
    cap_s: float = 30.0
    stable_after_s: float = 60.0  # a connection that lasted this long resets the attempts

    def delay(self, attempt: int, rng: random.Random) -> float:
        return full_jitter(attempt, self.base_s, self.cap_s, rng)


class Reconnecting(Generic[C]):
    """Stay connected with ``connect``, running what ``session`` hands back on each connection."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], AbstractAsyncContextManager[C]],
        session: Callable[[C], Awaitable[Work]],
        *,
        backoff: Backoff,
        tally: Tally | None = None,
        farewell: Callable[[C], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        endpoint: str = "the broker",
        logger: logging.Logger = log,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.backoff = backoff
        self.tally: Tally = tally if tally is not None else Counts()
        self._connect = connect
        self._session = session
        self._farewell = farewell
        self._clock = clock or time.monotonic
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._log = logger

    async def run(self) -> None:
        """Connect, run the session, back off, again, until cancelled."""
        attempt = 0
        while True:
            began = self._clock()
            await self._connection()
            if _cancelling():  # a close that failed must not swallow the stop
                raise asyncio.CancelledError
            if self._clock() - began >= self.backoff.stable_after_s:
                attempt = 0
            delay = self.backoff.delay(attempt, self._rng)
            attempt += 1
            self.tally.reconnects += 1
            self._log.info("%s: reconnecting in %.2f s", self.name, delay)
            await self._sleep(delay)

    async def _connection(self) -> None:
        """One connection, from connecting to its loss; a loss or a bug is logged, not raised."""
        try:
            async with self._connect() as client:
                await self._connected(client)
        except* aiomqtt.MqttError as group:
            self._log.warning("%s: down (%s): %s", self.name, self.endpoint, group.exceptions[0])
        except* Exception as group:  # a bug must not end the link: report it, reconnect
            self._log.error("%s failed; reconnecting", self.name, exc_info=group.exceptions[0])

    async def _connected(self, client: C) -> None:
        self._log.info("%s: connected to %s", self.name, self.endpoint)
        try:
            work = await self._session(client)
            self.tally.connected = True  # subscribed and said so: what the caller's pages mean
            named = {f"{self.name}.{task}": coroutine for task, coroutine in work.items()}
            await run_together(named)
        finally:
            self.tally.connected = False
            if self._farewell is not None and _cancelling():
                await self._farewell(client)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
