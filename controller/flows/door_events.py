"""What doors mean to the flows: the ``doors.DoorListener`` the supervisor tells, inside the
transaction that records the door's change, so a flow's step and its door's event commit as one.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from controller import storage
from controller.failpoints import failpoint
from controller.flows.context import FlowContext
from controller.flows.deposits import Deposits
from controller.flows.pickups import taken
from controller.flows.returns import collected
from controller.lifecycles import (
    ACTIVE_DEPOSIT_STATES,
    PICKUP,
    DepositEvent,
    DepositState,
    OpenedFor,
    ParcelState,
    PickupEvent,
    UnlockFlow,
)
from controller.store import Compartment, Deposit, Intent, Parcel, emit
from locker_contract.events import CompartmentService

OPENED_FOR = {
    UnlockFlow.PICKUP: PickupEvent.OPENED_FOR_PICKUP,
    UnlockFlow.RETURN: PickupEvent.OPENED_FOR_RETURN,
}


class DoorEvents:
    """Dispatches each door change to the deposit or parcels it concerns."""

    def __init__(self, ctx: FlowContext, deposits: Deposits) -> None:
        self.ctx = ctx
        self.deposits = deposits

    def door_opened(self, session: Session, label: str, intent: Intent | None) -> None:
        storage.door_opened(session, label, self.ctx.clock.wall())
        if intent is None:
            return
        if intent.flow == UnlockFlow.DEPOSIT:
            deposit = session.get(Deposit, intent.ref)
            if (
                deposit is not None
                and deposit.state == DepositState.OPENING
                and deposit.compartment == label
            ):
                self.deposits.apply(session, deposit, DepositEvent.OPENED)
        elif intent.flow in OPENED_FOR:
            parcel = session.get(Parcel, intent.ref)
            if parcel is not None:
                parcel.opened_for = PICKUP.next(parcel.opened_for, OPENED_FOR[intent.flow])
                session.add(parcel)

    def door_closed(self, session: Session, label: str, item: bool | None) -> None:
        failpoint("after_closed")
        query = select(Deposit).where(
            Deposit.compartment == label, col(Deposit.state).in_(ACTIVE_DEPOSIT_STATES)
        )
        deposit = session.exec(query).first()
        if deposit is not None and deposit.state != DepositState.OPENING:
            event = DepositEvent.CLOSED_EMPTY if item is False else DepositEvent.CLOSED_WITH_ITEM
            self.deposits.apply(session, deposit, event)
        opened = select(Parcel).where(
            Parcel.compartment == label, col(Parcel.opened_for).is_not(None)
        )
        for parcel in session.exec(opened):
            _parcel_door_closed(session, parcel, item)

    def unlock_interrupted(self, session: Session, intent: Intent) -> None:
        """A restart found an unlock unanswered and the door shut."""
        if intent.flow != UnlockFlow.DEPOSIT:
            return  # a pickup or return simply stays pending: the person can try again
        deposit = session.get(Deposit, intent.ref)
        if deposit is None or deposit.state != DepositState.OPENING:
            return
        self.deposits.apply(session, deposit, DepositEvent.INTERRUPTED)
        # The door may have opened and shut while no process watched it: unless the board's
        # item sensor says the compartment is empty, hold it until someone has looked inside.
        if self.ctx.door_supervisor().items.get(intent.compartment) is not False:
            comp = session.get_one(Compartment, intent.compartment)
            comp.in_service, comp.service_note = False, "inspect: a deposit was interrupted"
            session.add(comp)
            service = CompartmentService(
                compartment=comp.label, in_service=False, reason=comp.service_note
            )
            emit(session, service)


def _parcel_door_closed(s: Session, parcel: Parcel, item: bool | None) -> None:
    opened_for = parcel.opened_for
    parcel.opened_for = PICKUP.next(opened_for, PickupEvent.CLOSED)
    s.add(parcel)
    if item is True:  # the sensor still sees it: left behind, or not collected
        return
    if opened_for == OpenedFor.PICKUP and parcel.state == ParcelState.IN_LOCKER:
        taken(s, parcel)
    elif opened_for == OpenedFor.RETURN and parcel.state == ParcelState.RETURN_PENDING:
        collected(s, parcel)
