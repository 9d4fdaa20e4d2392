"""A lane of the ingest worker: banks' events waiting for the lane's next batch, taken fairly.

Each bank waits in its own queue, in arrival order; a batch takes at most ``per_bank`` events of
each bank, going round the banks in the order they began waiting, so that a bank sending
thousands of events (a backlog after days offline, a bug) cannot hold another bank's event for
more than a batch. What a lane holds is bounded by the broker: the worker acknowledges a message
only after the commit that stored it, so at most the session's receive maximum is unacknowledged
(held here) at once.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class FairLane(Generic[T]):
    """Items per bank; ``take`` waits for at least one, then takes round the banks."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[T]] = {}
        self._turns: deque[str] = deque()  # banks with something waiting, in turn
        self._ready = asyncio.Event()
        self._full = asyncio.Event()
        self._wanted = 0  # a take lingering for this many items; 0: none lingers
        self.size = 0

    def put(self, bank_id: str, item: T) -> None:
        queue = self._queues.get(bank_id)
        if queue is None:
            queue = self._queues[bank_id] = deque()
            self._turns.append(bank_id)
        queue.append(item)
        self.size += 1
        self._ready.set()
        if self._wanted and self.size >= self._wanted:
            self._full.set()

    async def take(self, limit: int, per_bank: int, linger_s: float = 0.0) -> list[T]:
        """At least one item, at most ``limit``, at most ``per_bank`` from each bank per turn
        round; each bank's items in arrival order.

        With ``linger_s``, once the first item is in, wait up to that long for ``limit`` items
        before taking: under load a batch fills and one transaction stores many events, where
        taking at once would store a few per transaction and leave the receiving loop short of
        time to fill the next (Kafka's ``linger.ms``); when idle an event waits ``linger_s``."""
        while not self.size:
            self._ready.clear()
            await self._ready.wait()
        if linger_s > 0 and self.size < limit:
            self._wanted = limit
            self._full.clear()
            # not asyncio.timeout: on 3.11 a cancellation arriving as it expires can be taken
            # for the timeout and lost, and a worker's lanes are cancelled at every reconnect
            waiter = asyncio.create_task(self._full.wait(), name="lane.linger")
            try:
                await asyncio.wait({waiter}, timeout=linger_s)
            finally:
                waiter.cancel()
                self._wanted = 0
        return self.take_now(limit, per_bank)

    def take_now(self, limit: int, per_bank: int) -> list[T]:
        taken: list[T] = []
        for _ in range(len(self._turns)):
            if len(taken) >= limit:
                break
            bank_id = self._turns.popleft()
            queue = self._queues[bank_id]
            for _ in range(min(per_bank, limit - len(taken), len(queue))):
                taken.append(queue.popleft())
            if queue:
                self._turns.append(bank_id)  # the rest waits its next turn, behind the others
            else:
                del self._queues[bank_id]
        self.size -= len(taken)
        return taken
