"""A receiver down for a while gets every event later, with the same ids, in order per parcel;
a delivery that keeps failing dies at the end of its window and is replayed by id or time."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from cloud.webhooks.config import Policy
from cloud.webhooks.sender import ATTEMPT_MAX_S
from tests.cloud.webhooks.conftest import QUICK, World, advance, drain
from tests.cloud.webhooks.receiver import Receiver


def _parcel_order(world: World, receiver: Receiver) -> dict[str, list[str]]:
    order: dict[str, list[str]] = defaultdict(list)
    for r in receiver.delivered():
        order[str(r.data["waybill"])].append(r.type)
    return dict(order)


def test_a_receiver_down_gets_every_event_later_in_order(world: World, receiver: Receiver) -> None:
    endpoint = world.endpoint("sf", receiver)
    key = world.cloud.keys["sf"]
    worker = world.worker()
    receiver.status = 503  # up, failing: the ids of its failed attempts are recorded
    world.deposit("SF1", "A01")
    world.deposit("SF2", "A02")
    worker.step()
    failed_ids = {r.id for r in receiver.got}
    receiver.stop()  # then down altogether
    world.pick_up("SF1", "A01")
    world.refuse("SF2", "recipient refused it")
    world.collect("SF2")
    for _ in range(6):  # retries refused; the circuit opens after QUICK.breaker_after
        worker.step()
        advance(worker, QUICK.cap_s)
    log = world.cloud.ok("GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries", key)
    assert {d["state"] for d in log} == {"pending"}
    assert any(d["attempts"] > 1 for d in log)
    receiver.status = 204
    receiver.start()
    drain(worker, advance_s=QUICK.breaker_open_s)  # the circuit closes again
    delivered = receiver.delivered()
    assert len(delivered) == 5
    assert len({r.id for r in delivered}) == 5
    assert failed_ids <= {r.id for r in delivered}  # the same webhook-id on every attempt
    assert _parcel_order(world, receiver) == {
        "SF1": ["parcel.in_locker", "parcel.picked_up"],
        "SF2": ["parcel.in_locker", "parcel.refused", "parcel.returned"],
    }
    log = world.cloud.ok("GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries", key)
    assert {d["state"] for d in log} == {"delivered"}


def test_dead_letter_then_replay_by_id_and_by_time(world: World, receiver: Receiver) -> None:
    endpoint = world.endpoint("sf", receiver)
    key = world.cloud.keys["sf"]
    url = f"/api/v1/webhooks/{endpoint['id']}"
    policy = Policy(base_s=1.0, cap_s=8.0, window_s=60.0, breaker_after=100)
    worker = world.worker(policy=policy)
    receiver.status = 500
    early = world.deposit("SF1", "A01", carrier="sf")
    late = world.deposit("SF2", "A02", carrier="sf")
    for _ in range(12):
        worker.step()
        advance(worker, policy.cap_s)
    dead = world.cloud.ok("GET", f"{url}/deliveries?state=dead", key)
    assert len(dead) == 2
    assert world.cloud.ok("GET", f"{url}/deliveries?state=pending", key) == []
    receiver.status = 204
    assert worker.step() == 0  # the dead are not retried
    first = next(d for d in dead if d["occurred_at"] and d["subject"] == "parcel:SF1")
    replayed = world.cloud.ok("POST", f"{url}/replay", key, json={"delivery_id": first["id"]})
    assert replayed == {"replayed": 1}
    fresh = world.worker(policy=policy)  # a sender whose clock is the receiver's again
    drain(fresh)
    assert [r.id for r in receiver.delivered()] == [first["id"]]
    since = (late.time - timedelta(seconds=1)).isoformat()
    until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    body = {"since": since, "until": until}
    assert world.cloud.ok("POST", f"{url}/replay", key, json=body) == {"replayed": 1}
    drain(fresh)
    assert [r.data["waybill"] for r in receiver.delivered()] == ["SF1", "SF2"]
    assert early.time < late.time
    assert world.cloud.ok("GET", f"{url}/deliveries?state=dead", key) == []


def test_a_replay_names_a_delivery_or_a_time(world: World, receiver: Receiver) -> None:
    endpoint = world.endpoint("sf", receiver)
    url = f"/api/v1/webhooks/{endpoint['id']}/replay"
    answer = world.cloud.call("POST", url, world.cloud.keys["sf"], json={})
    assert answer.status_code == 422


def test_a_claim_outlasts_its_batch_at_its_slowest() -> None:
    """Found in review: a 30 s lease, while 64 claimed deliveries go 16 at a time and each may
    take 30 s, let another sender claim a delivery still in flight and send it again."""
    policy = Policy()
    assert policy.lease_s > math.ceil(policy.batch / policy.senders) * ATTEMPT_MAX_S
    with pytest.raises(ValueError, match="lease_s"):
        Policy(lease_s=30.0)
