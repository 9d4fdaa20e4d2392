"""A parcel whose door stands open for its recipient is being taken: its deadline passing meanwhile
does not make it a return (it would stay ``return_pending`` once the door shut empty, a return
for a courier who finds nothing, and its recipient told it went back). Its expiry waits until
the door shuts with the parcel still inside."""

from __future__ import annotations

from sqlmodel import Session

from controller import storage
from controller.flows import Flows
from controller.lifecycles import OpenedFor, ParcelState
from controller.store import Parcel, transaction
from tests.controller.fakeclock import FakeClock
from tests.controller.test_storage import HOUR, POLICY, edge, put_parcel
from tests.linkbench import EdgeSide

__all__ = ["edge"]  # the fixture


def _door(edge: EdgeSide, parcel_id: str, opened_for: OpenedFor | None) -> None:
    with transaction(edge.engine) as s:
        parcel = s.get_one(Parcel, parcel_id)
        parcel.opened_for = opened_for
        s.add(parcel)


def test_a_parcel_being_taken_out_does_not_expire(edge: EdgeSide) -> None:
    clock = FakeClock()
    with transaction(edge.engine) as s:
        storage.set_policy(s, POLICY)
    parcel_id = put_parcel(edge, "A01", "OPEN1", clock)
    flows = Flows(edge.engine, edge.config, edge.key, clock)
    clock.advance(47.9 * HOUR)
    _door(edge, parcel_id, OpenedFor.PICKUP)  # the recipient opened it just before the deadline
    clock.advance(0.2 * HOUR)
    assert flows.expire_storage() == 0
    with Session(edge.engine) as s:
        assert s.get_one(Parcel, parcel_id).state == ParcelState.IN_LOCKER
    _door(edge, parcel_id, None)  # the door shut on it: left behind
    assert flows.expire_storage() == 1
