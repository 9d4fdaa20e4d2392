"""Couriers and returns: signing in, and the parcels that go back to their courier (refused at
the door, or past the storage period) until the courier collects them."""

from __future__ import annotations

import uuid
from functools import partial

from sqlmodel import Session, select

from controller import couriers, recipients, storage, throttle
from controller.errors import BadCredentials
from controller.flows.context import CourierIdentity, DoorView, FlowContext, commit_then_raise
from controller.flows.pickups import make_return
from controller.lifecycles import PARCEL, ParcelEvent, ParcelState, UnlockFlow
from controller.store import Parcel, emit, transaction
from locker_contract.events import ParcelReturned
from locker_contract.storage import EXPIRY_REASON


class Couriers:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def sign_in(self, courier_id: str, pin: str) -> CourierIdentity:
        """Check a courier's PIN or day code (throttled in a keyed bucket of the id, known or
        not), with the same scrypt work whether the id exists or not. A wrong one is
        counted, and the count committed, before it is refused."""
        return commit_then_raise(self.ctx.engine, partial(self._check, courier_id, pin))

    def _check(self, courier_id: str, pin: str, s: Session) -> CourierIdentity | BadCredentials:
        courier = couriers.lookup(s, courier_id)
        row = self.ctx.throttle(s, couriers.scope(self.ctx.key, courier_id))
        valid = couriers.matches(s, self.ctx.key, courier, pin, self.ctx.clock.wall())
        if courier is None or not valid:
            detail = self.ctx.failed(s, row)
            return BadCredentials("wrong courier id or PIN, or the credential expired", **detail)
        throttle.succeed(row)
        return CourierIdentity(courier.id, courier.carrier)

    def still_valid(self, courier: CourierIdentity) -> bool:
        """A session outlives nothing: a courier revoked or withdrawn since signing in is out."""
        with transaction(self.ctx.engine) as s:
            return couriers.still_valid(s, courier.courier_id, self.ctx.clock.wall())

    def returns_for(self, courier: CourierIdentity) -> list[Parcel]:
        with transaction(self.ctx.engine) as s:
            query = select(Parcel).where(
                Parcel.carrier == courier.carrier, Parcel.state == ParcelState.RETURN_PENDING
            )
            return sorted(s.exec(query), key=lambda p: p.compartment)

    async def collect_returns(self, courier: CourierIdentity) -> list[DoorView]:
        with transaction(self.ctx.engine) as s:
            self.ctx.refuse_in_maintenance(s)
        return await self.ctx.open_each(self.returns_for(courier), UnlockFlow.RETURN)

    def expire_storage(self) -> int:
        """Parcels past their deadline (``controller.storage``) become returns for their
        courier."""
        now, fallback = self.ctx.clock.wall(), storage.default_policy(self.ctx.policy)
        with transaction(self.ctx.engine) as s:
            expired = storage.past_deadline(s, fallback, now, recipients.extension)
            for parcel in expired:
                make_return(s, parcel, EXPIRY_REASON, ParcelEvent.EXPIRED)
            return len(expired)


def collected(s: Session, parcel: Parcel) -> None:
    """Its door shut on an empty compartment after the courier's return opened it."""
    parcel.state = PARCEL.next(parcel.state, ParcelEvent.COLLECTED)
    event = ParcelReturned(
        parcel_id=uuid.UUID(parcel.id), waybill=parcel.waybill, courier_id=parcel.courier_id
    )
    emit(s, event)
