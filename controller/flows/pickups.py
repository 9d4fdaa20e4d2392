"""Pickups and refusals: a recipient's code opens their parcels' doors; a shut, empty door means
the parcel was taken; a parcel refused at its open door goes back to its courier."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from functools import partial

from sqlmodel import Session, col, select

from controller import codes, shared_codes, storage, throttle
from controller.errors import Conflict, WrongCode
from controller.flows.context import DoorView, FlowContext, commit_then_raise
from controller.flows.fees import Fees
from controller.lifecycles import PARCEL, OpenedFor, ParcelEvent, ParcelState, UnlockFlow
from controller.store import Parcel, PickupGroup, emit
from locker_contract.events import ParcelPickedUp, ParcelRefused


class Pickups:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.fees = Fees(ctx)  # storage fees, through its payment provider

    async def pickup(self, code: str, *, source: str = throttle.TERMINAL) -> list[DoorView]:
        """Open every door of the group ``code`` belongs to, one after another; ``source`` is
        where the attempt comes from (``throttle.source_for``). A wrong code is counted, and
        the count committed, before it is refused."""
        parcels = commit_then_raise(self.ctx.engine, partial(self._admit, code, source))
        views = await self.ctx.open_each(parcels, UnlockFlow.PICKUP)
        outcomes = [(view.compartment, view.outcome) for view in views]
        storage.doors_failed(self.ctx.engine, outcomes, self.ctx.clock.wall())
        return await self.fees.settle(views)

    def _admit(self, code: str, source: str, s: Session) -> list[Parcel] | WrongCode:
        self.ctx.refuse_in_maintenance(s)
        at = self.ctx.moment()
        rows = throttle.admit_code(s, self.ctx.policy, source, at)
        parcels = self._group_parcels(s, code)
        if parcels is None:
            detail = throttle.code_failed(s, rows, self.ctx.policy, at)
            return WrongCode("that code opens nothing here", **detail)
        throttle.succeed_code(rows)
        return parcels

    def _group_parcels(self, s: Session, code: str) -> list[Parcel] | None:
        digest = codes.code_hash(self.ctx.key, code)
        query = select(PickupGroup).where(
            PickupGroup.code_hash == digest, col(PickupGroup.active).is_(True)
        )
        group = s.exec(query).first()
        if group is None or not codes.code_matches(self.ctx.key, code, group.code_hash):
            group = shared_codes.group_for(s, self.ctx.key, code)  # a second code, shared
        if group is None:
            return None
        in_locker = select(Parcel).where(
            Parcel.group_id == group.id, Parcel.state == ParcelState.IN_LOCKER
        )
        return sorted(s.exec(in_locker), key=lambda p: p.compartment)

    def refuse(
        self, parcel_id: str, reason: str, *, opened: Collection[str], source: str
    ) -> Parcel:
        """The recipient refuses a damaged parcel at the open door: it becomes a return.
        ``opened`` is what the caller's pickup session opened (``sessions.PickupSessions``);
        any other parcel is counted and answered like a wrong code, whatever its state."""
        refusal = partial(self._refusal, parcel_id, reason, opened, source)
        return commit_then_raise(self.ctx.engine, refusal)

    def _refusal(
        self, parcel_id: str, reason: str, opened: Collection[str], source: str, s: Session
    ) -> Parcel | WrongCode:
        at = self.ctx.moment()
        rows = throttle.admit_code(s, self.ctx.policy, source, at)
        parcel = s.get(Parcel, parcel_id) if parcel_id in opened else None
        if parcel is None:
            detail = throttle.code_failed(s, rows, self.ctx.policy, at)
            return WrongCode("this pickup has ended; enter your code again", **detail)
        if parcel.opened_for != OpenedFor.PICKUP or not PARCEL.allows(
            parcel.state, ParcelEvent.REFUSED
        ):
            raise Conflict("only a parcel whose door is open for pickup can be refused")
        make_return(s, parcel, reason, ParcelEvent.REFUSED)
        return parcel


def make_return(s: Session, parcel: Parcel, reason: str, event: ParcelEvent) -> None:
    """The parcel goes back to its courier (refused, or past its storage period)."""
    parcel.state, parcel.refusal = PARCEL.next(parcel.state, event), reason
    s.add(parcel)
    emit(s, ParcelRefused(parcel_id=uuid.UUID(parcel.id), waybill=parcel.waybill, reason=reason))
    close_group_if_empty(s, parcel)


def taken(s: Session, parcel: Parcel) -> None:
    """Its door shut on an empty compartment after a pickup opened it."""
    parcel.state = PARCEL.next(parcel.state, ParcelEvent.TAKEN)
    event = ParcelPickedUp(
        parcel_id=uuid.UUID(parcel.id), waybill=parcel.waybill, compartment=parcel.compartment
    )
    emit(s, event)
    close_group_if_empty(s, parcel)


def close_group_if_empty(s: Session, parcel: Parcel) -> None:
    """The recipient's code stops working once none of their parcels is left in the locker."""
    if not parcel.group_id:
        return
    group = s.get_one(PickupGroup, parcel.group_id)
    s.flush()
    left = select(Parcel).where(Parcel.group_id == group.id, Parcel.state == ParcelState.IN_LOCKER)
    if s.exec(left).first() is None:
        group.active = False
        s.add(group)
