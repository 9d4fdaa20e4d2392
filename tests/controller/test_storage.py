"""Storage at the bank, offline: the pushed policy kept and used, outages recorded with their
events, deadlines moved by them, and parcels past theirs returned (the store, no doors)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from controller import storage
from controller.commands import CommandRunner
from controller.flows import Flows
from controller.store import (
    Outbox,
    Parcel,
    PickupGroup,
    StorageOutage,
    event_types,
    transaction,
)
from locker_contract.commands import CommandEnvelope
from locker_contract.storage import StoragePolicy
from tests.controller.fakeclock import START, FakeClock
from tests.linkbench import EdgeSide

POLICY = StoragePolicy(free_hours=18, keep_hours=48, fee_minor=50, period_hours=12, cap_minor=300)
HOUR = 3600.0


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[EdgeSide]:
    side = EdgeSide.create(tmp_path, "maple-court-3", "mqtt://127.0.0.1:1")
    yield side
    side.engine.dispose()


def envelope(body: Mapping[str, object]) -> CommandEnvelope:
    return CommandEnvelope.model_validate(
        {"command_id": str(uuid.uuid4()), "sent_at": START, "ttl_s": 60.0, "command": body}
    )


def put_parcel(edge: EdgeSide, label: str, waybill: str, clock: FakeClock) -> str:
    """A parcel in ``label`` deposited now under the bank's current policy, as recording does."""
    with transaction(edge.engine) as s:
        group = PickupGroup(phone=f"1380013{label}", code_hash=f"h-{label}")
        s.add(group)
        s.flush()
        parcel = Parcel(
            waybill=waybill,
            carrier="sf-express",
            courier_id="sf-1",
            recipient_phone=group.phone,
            compartment=label,
            group_id=group.id,
            consent="phone_call",
            deposited_at=clock.wall(),
        )
        s.add(parcel)
        s.flush()
        storage.keep_terms(s, parcel.id, storage.default_policy(edge.config.policy))
        return parcel.id


def outage_events(edge: EdgeSide) -> list[dict[str, object]]:
    with Session(edge.engine) as s:
        query = select(Outbox).where(Outbox.type == "storage.outage")
        rows = s.exec(query.order_by(col(Outbox.seq)))
        return [json.loads(r.body) for r in rows]


async def test_a_pushed_policy_is_kept_and_counts_the_parcels_deposited_after_it(
    edge: EdgeSide,
) -> None:
    clock = FakeClock()
    runner = CommandRunner(edge.engine, edge.key, lambda: None, clock)
    earlier = put_parcel(edge, "A01", "OLD", clock)  # under [policy] storage_days: 3 free days
    ack = await runner.run(envelope({"type": "storage.policy", "policy": POLICY.model_dump()}), 60)
    assert ack.outcome == "applied"
    later = put_parcel(edge, "A02", "NEW", clock)
    with Session(edge.engine) as s:
        fallback = storage.default_policy(edge.config.policy)
        assert storage.current_policy(s, fallback) == POLICY
        assert storage.terms_of(s, later, fallback) == POLICY
        assert storage.terms_of(s, earlier, fallback) == StoragePolicy(free_hours=72, keep_hours=72)
        twenty = clock.wall() + timedelta(hours=20)
        assert storage.owed(s, s.get_one(Parcel, later), fallback, twenty) == (50, "CNY")
        assert storage.owed(s, s.get_one(Parcel, earlier), fallback, twenty) == (0, "CNY")


async def test_maintenance_stops_the_storage_clock_and_tells_the_cloud(edge: EdgeSide) -> None:
    clock = FakeClock()
    runner = CommandRunner(edge.engine, edge.key, lambda: None, clock)
    await runner.run(envelope({"type": "storage.policy", "policy": POLICY.model_dump()}), 60)
    parcel_id = put_parcel(edge, "A01", "M1", clock)
    flows = Flows(edge.engine, edge.config, edge.key, clock)
    clock.advance(10 * HOUR)
    await runner.run(envelope({"type": "bank.maintenance", "on": True}), 60)
    await runner.run(envelope({"type": "bank.maintenance", "on": True}), 60)  # no second one
    clock.advance(5 * HOUR)
    await runner.run(envelope({"type": "bank.maintenance", "on": False}), 60)
    began, ended = outage_events(edge)
    assert began["outage_id"] == ended["outage_id"]
    assert (began["cause"], began["compartment"], began["ended_at"]) == ("maintenance", None, None)
    assert ended["started_at"] == (START + timedelta(hours=10)).isoformat().replace("+00:00", "Z")
    assert ended["ended_at"] == (START + timedelta(hours=15)).isoformat().replace("+00:00", "Z")
    clock.advance(37.9 * HOUR)  # 52.9 h since the deposit, 47.9 h counted
    assert flows.expire_storage() == 0
    clock.advance(0.1 * HOUR)  # 48 h counted: the deadline, 5 h late
    assert flows.expire_storage() == 1
    with Session(edge.engine) as s:
        assert s.get_one(Parcel, parcel_id).refusal == "storage period ended"
        assert s.exec(select(StorageOutage)).all() == []  # nobody waiting counts it now


async def test_a_door_that_failed_stops_its_parcels_clock_until_seen_open(edge: EdgeSide) -> None:
    clock = FakeClock()
    with transaction(edge.engine) as s:
        storage.set_policy(s, POLICY)
    jammed = put_parcel(edge, "A01", "J1", clock)
    other = put_parcel(edge, "A02", "J2", clock)
    clock.advance(20 * HOUR)
    outcomes = [("A01", "jammed"), ("A02", "opened"), ("A03", "unknown")]
    storage.doors_failed(edge.engine, outcomes, clock.wall())
    storage.doors_failed(edge.engine, [("A01", "not_sent")], clock.wall())  # still the one
    clock.advance(100 * HOUR)
    flows = Flows(edge.engine, edge.config, edge.key, clock)
    assert flows.expire_storage() == 1  # A02's; A01's clock stopped at 20 h
    with transaction(edge.engine) as s:
        assert s.get_one(Parcel, other).state == "return_pending"
        assert s.get_one(Parcel, jammed).state == "in_locker"
        storage.door_opened(s, "A01", clock.wall())  # the door opened at last
    clock.advance(28 * HOUR)
    assert flows.expire_storage() == 1
    [began, ended] = outage_events(edge)
    assert (began["compartment"], began["cause"]) == ("A01", "door_failed")
    assert ended["ended_at"] is not None


async def test_a_groups_extension_moves_the_deadline(edge: EdgeSide) -> None:
    clock = FakeClock()
    with transaction(edge.engine) as s:
        storage.set_policy(s, POLICY)
    parcel_id = put_parcel(edge, "A01", "X1", clock)
    clock.advance(49 * HOUR)
    with Session(edge.engine) as s:
        group = s.get_one(Parcel, parcel_id).group_id
        fallback = storage.default_policy(edge.config.policy)
        none = storage.past_deadline(s, fallback, clock.wall(), lambda _s, _g: timedelta())
        day = storage.past_deadline(
            s, fallback, clock.wall(), lambda _s, g: timedelta(hours=24 if g == group else 0)
        )
    assert [p.id for p in none] == [parcel_id]
    assert day == []


def test_without_a_pushed_policy_the_configured_days_are_free(edge: EdgeSide) -> None:
    with Session(edge.engine) as s:
        fallback = storage.default_policy(edge.config.policy)
        assert storage.current_policy(s, fallback) == StoragePolicy(free_hours=72, keep_hours=72)
        assert "storage.outage" not in event_types(s)
