"""A lane takes round the banks, and under load lingers for a full batch (decision 0030)."""

from __future__ import annotations

import asyncio

import pytest

from cloud.link.lanes import FairLane

pytestmark = pytest.mark.asyncio


async def test_a_batch_takes_round_the_banks_at_most_per_bank_of_each() -> None:
    lane: FairLane[str] = FairLane()
    for n in range(5):
        lane.put("flood", f"flood-{n}")
    lane.put("quiet", "quiet-0")
    assert await lane.take(limit=4, per_bank=2) == ["flood-0", "flood-1", "quiet-0"]
    assert lane.take_now(limit=4, per_bank=2) == ["flood-2", "flood-3"]
    assert lane.take_now(limit=4, per_bank=2) == ["flood-4"]
    assert lane.size == 0


async def test_without_linger_a_take_returns_what_is_there() -> None:
    lane: FairLane[int] = FairLane()
    lane.put("a", 1)
    assert await asyncio.wait_for(lane.take(limit=10, per_bank=10), 1.0) == [1]


async def test_a_lingering_take_returns_as_soon_as_the_batch_is_full() -> None:
    lane: FairLane[int] = FairLane()
    lane.put("a", 0)
    taking = asyncio.create_task(lane.take(limit=3, per_bank=3, linger_s=30.0))
    await asyncio.sleep(0)
    lane.put("b", 1)
    assert not taking.done()
    lane.put("c", 2)  # full: no waiting out the 30 s
    assert sorted(await asyncio.wait_for(taking, 5.0)) == [0, 1, 2]


async def test_a_lingering_take_returns_what_came_once_the_linger_is_over() -> None:
    lane: FairLane[int] = FairLane()
    lane.put("a", 0)
    taking = asyncio.create_task(lane.take(limit=100, per_bank=100, linger_s=0.01))
    await asyncio.sleep(0)
    lane.put("a", 1)
    assert await asyncio.wait_for(taking, 5.0) == [0, 1]
    lane.put("b", 2)  # a later take does not return early on the earlier linger's count
    assert await asyncio.wait_for(lane.take(limit=100, per_bank=100), 1.0) == [2]


async def test_a_take_waits_for_the_first_item_however_long() -> None:
    lane: FairLane[int] = FairLane()
    taking = asyncio.create_task(lane.take(limit=5, per_bank=5, linger_s=0.01))
    await asyncio.sleep(0.05)
    assert not taking.done()
    lane.put("a", 7)
    assert await asyncio.wait_for(taking, 5.0) == [7]


async def test_a_lingering_take_cancelled_is_cancelled_and_keeps_its_items() -> None:
    lane: FairLane[int] = FairLane()
    lane.put("a", 1)
    taking = asyncio.create_task(lane.take(limit=10, per_bank=10, linger_s=30.0))
    await asyncio.sleep(0)
    taking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await taking
    assert lane.take_now(limit=10, per_bank=10) == [1]  # nothing taken and dropped
