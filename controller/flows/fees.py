"""Storage fees at pickup: once a parcel's door opened for its recipient, what it owes
(``controller.storage.owed``, counted offline) is charged through the payment provider, and
the outcome recorded with its event (``parcel.fee``). A provider that fails or declines leaves
the fee recorded as owed; the door has opened already, and nothing here shuts one (decision
0017). A second pickup of the same parcel (its door closed on it) charges only what it came to
owe since."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from controller import storage
from controller.flows.context import DoorView, FlowContext
from controller.payments import Charge, DevelopmentProvider, PaymentProvider, pay
from controller.store import Parcel, StorageTerms, emit, transaction
from locker_contract.events import ParcelFeeSettled
from locker_contract.storage import StoragePolicy, money

OPENED = frozenset({"opened", "already_open"})


@dataclass(frozen=True)
class FeeView(DoorView):
    """A door opened for a pickup, with the storage fee its parcel was charged there."""

    fee: str = ""  # ``¥1.50``
    fee_state: str = ""  # paid, or owed


@dataclass(frozen=True)
class Due:
    parcel_id: str
    waybill: str
    amount_minor: int  # newly due at this pickup
    owed_minor: int  # all the parcel owes now
    currency: str


@dataclass(frozen=True)
class Settled:
    state: storage.FeeState
    reference: str = ""


class Fees:
    def __init__(self, ctx: FlowContext, provider: PaymentProvider | None = None) -> None:
        self.ctx = ctx
        self.provider: PaymentProvider = provider or DevelopmentProvider()

    @property
    def fallback(self) -> Callable[[], StoragePolicy]:
        return lambda: storage.default_policy(self.ctx.policy)

    async def settle(self, views: list[DoorView]) -> list[DoorView]:
        """Charge each opened parcel's fee and record it; the views, with what was charged."""
        now = self.ctx.clock.wall()
        opened = [v.parcel_id for v in views if v.parcel_id and v.outcome in OPENED]
        dues = self._dues(opened, now)
        settled = {due.parcel_id: await self._pay(due) for due in dues}
        self._record(dues, settled, now)
        by_parcel = {due.parcel_id: due for due in dues}
        return [_view(view, by_parcel, settled) for view in views]

    def _dues(self, parcel_ids: list[str], now: datetime) -> list[Due]:
        dues = []
        with transaction(self.ctx.engine) as s:
            for parcel_id in parcel_ids:
                parcel = s.get_one(Parcel, parcel_id)
                owed, currency = storage.owed(s, parcel, self.fallback(), now)
                terms = s.get(StorageTerms, parcel_id)
                before = (terms.fee_minor or 0) if terms is not None else 0
                new = max(0, owed - before)
                dues.append(Due(parcel_id, parcel.waybill, new, max(owed, before), currency))
        return dues

    async def _pay(self, due: Due) -> Settled:
        if due.amount_minor == 0:
            return Settled(storage.FeeState.FREE)
        charge = Charge(
            reference=due.parcel_id,
            amount_minor=due.amount_minor,
            currency=due.currency,
            description=f"storage fee, parcel {due.waybill}",
        )
        receipt = await pay(self.provider, charge)
        state = storage.FeeState.PAID if receipt.approved else storage.FeeState.OWED
        return Settled(state, receipt.reference)

    def _record(self, dues: list[Due], settled: dict[str, Settled], now: datetime) -> None:
        with transaction(self.ctx.engine) as s:
            for due in dues:
                terms = s.get(StorageTerms, due.parcel_id) or StorageTerms(
                    parcel_id=due.parcel_id, policy=self.fallback().model_dump_json()
                )
                outcome = settled[due.parcel_id]
                terms.fee_state = _worse(terms.fee_state, outcome.state)
                terms.fee_reference = outcome.reference or terms.fee_reference
                terms.fee_minor, terms.settled_at = due.owed_minor, now
                s.add(terms)
                if outcome.state is not storage.FeeState.FREE:
                    emit(s, _event(due, outcome))


def _event(due: Due, outcome: Settled) -> ParcelFeeSettled:
    state: Literal["paid", "owed"] = "paid" if outcome.state is storage.FeeState.PAID else "owed"
    return ParcelFeeSettled(
        parcel_id=uuid.UUID(due.parcel_id),
        waybill=due.waybill,
        amount_minor=due.amount_minor,
        currency=due.currency,
        state=state,
        reference=outcome.reference,
    )


def _worse(before: str, now: storage.FeeState) -> str:
    """A parcel that owes any part of its fee stays owed; one never charged stays free."""
    if storage.FeeState.OWED.value in (before, now.value):
        return storage.FeeState.OWED.value
    if now is storage.FeeState.FREE and before:
        return before
    return now.value


def _view(view: DoorView, dues: dict[str, Due], settled: dict[str, Settled]) -> DoorView:
    due = dues.get(view.parcel_id or "")
    if due is None or settled[due.parcel_id].state is storage.FeeState.FREE:
        return view
    return FeeView(
        **view.__dict__,
        fee=money(due.amount_minor, due.currency),
        fee_state=settled[due.parcel_id].state.value,
    )
