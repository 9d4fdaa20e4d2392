"""A deposit becomes a parcel: its recipient's pickup group and code, and the event that says so.

The code is new only for a recipient with no parcel waiting here (one code opens all of theirs,
whichever carrier delivered). It leaves the bank sealed for the cloud's notifier, or, on a bank
without the notifier's key, is shown to the depositing courier alone, from memory and for their
session's length, to hand on (``controller.handoff``, decision 0011).
"""

from __future__ import annotations

import uuid

from sqlalchemy import event as sa_event
from sqlmodel import Session, col, select

from controller import codes, shared_codes, sharing, storage
from controller.cold import placement
from controller.failpoints import failpoint
from controller.flows.context import FlowContext
from controller.lifecycles import DepositState
from controller.store import Deposit, Expected, Parcel, PickupGroup, emit
from locker_contract import sealing
from locker_contract.events import ParcelDeposited


class Recording:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def record(self, s: Session, deposit: Deposit) -> None:
        """The parcel, in the transaction that moves ``deposit`` to RECORDED."""
        assert deposit.compartment is not None
        group, code = self._group_for(s, deposit.recipient_phone)
        now = self.ctx.clock.wall()
        parcel = Parcel(
            waybill=deposit.waybill,
            carrier=deposit.carrier,
            courier_id=deposit.courier_id,
            recipient_phone=deposit.recipient_phone,
            compartment=deposit.compartment,
            group_id=group.id,
            consent=deposit.consent,
            flagged_for_review=deposit.flagged_for_review,
            deposited_at=now,
            closed_at=now,
        )
        s.add(parcel)
        s.flush()
        kept_under = storage.keep_terms(s, parcel.id, storage.default_policy(self.ctx.policy))
        sharing.consume(s, deposit.compartment, deposit.carrier)
        sa_event.listen(s, "after_commit", lambda _s: failpoint("after_recorded"), once=True)
        deposit.parcel_id, deposit.outcome = parcel.id, "recorded"
        announced = s.get(Expected, (deposit.carrier, deposit.waybill))
        if announced is not None:
            s.delete(announced)
            placement.forget_announced(s, deposit.carrier, deposit.waybill)
        emit(
            s,
            ParcelDeposited(
                parcel_id=uuid.UUID(parcel.id),
                waybill=parcel.waybill,
                carrier=parcel.carrier,
                courier_id=parcel.courier_id,
                compartment=parcel.compartment,
                recipient_phone=parcel.recipient_phone,
                group_id=uuid.UUID(group.id),
                sealed_code=self._seal(deposit, code),
                consent=parcel.consent,
                flagged_for_review=parcel.flagged_for_review,
                deposited_at=now,
                storage=kept_under,
                temperature_class=self.ctx.config.temperature_class(parcel.compartment),
            ),
        )

    def _seal(self, deposit: Deposit, code: str | None) -> str | None:
        """``code`` sealed for the cloud's notifier; without its key, nothing is stored and the
        courier's screen shows the code once the deposit is recorded (decision 0011)."""
        if code is None:
            return None
        if self.ctx.sealing_key is not None:
            return sealing.seal_code(self.ctx.sealing_key, code)
        self.ctx.handoff.hold(deposit.id, deposit.courier_id, code)  # shown once RECORDED commits
        return None

    def handed_code(self, deposit: Deposit) -> str | None:
        """The code the depositing courier hands on, on a bank without a notifier key."""
        if deposit.state != DepositState.RECORDED:
            return None
        return self.ctx.handoff.show(deposit.id, deposit.courier_id)

    def _group_for(self, s: Session, phone: str) -> tuple[PickupGroup, str | None]:
        """The recipient's active group here, or a new one with a fresh code unique among
        active codes (whichever carrier delivered)."""
        query = select(PickupGroup).where(
            PickupGroup.phone == phone, col(PickupGroup.active).is_(True)
        )
        group = s.exec(query).first()
        if group is not None:
            return group, None
        while True:
            code = codes.new_code()
            digest = codes.code_hash(self.ctx.key, code)
            taken = select(PickupGroup).where(
                PickupGroup.code_hash == digest, col(PickupGroup.active).is_(True)
            )
            if s.exec(taken).first() is None and not shared_codes.in_use(s, self.ctx.key, code):
                group = PickupGroup(phone=phone, code_hash=digest, created_at=self.ctx.clock.wall())
                s.add(group)
                s.flush()
                return group, code
