"""What the bank has to offer: free compartments, and every compartment as the cloud sees it."""

from __future__ import annotations

from sqlmodel import Session, col, select

from controller import sharing
from controller.config import Size
from controller.flows.context import FlowContext
from controller.lifecycles import ACTIVE_DEPOSIT_STATES, ACTIVE_PARCEL_STATES, DoorState
from controller.store import Compartment, Deposit, Parcel, get_setting, transaction
from locker_contract.cold import TemperatureClass
from locker_contract.messages import BankState


def free_compartments(s: Session, *, carrier: str | None) -> list[Compartment]:
    """In service, door shut, holding no parcel, held by no deposit in progress, and not
    reserved for another carrier (``carrier=None``: reserved for nobody)."""
    held = set(
        s.exec(select(Deposit.compartment).where(col(Deposit.state).in_(ACTIVE_DEPOSIT_STATES)))
    )
    full = set(
        s.exec(select(Parcel.compartment).where(col(Parcel.state).in_(ACTIVE_PARCEL_STATES)))
    )
    holds = sharing.holders(s)
    return [
        c
        for c in s.exec(select(Compartment).where(col(Compartment.in_service).is_(True)))
        if c.label not in held | full
        and c.door != DoorState.OPEN
        and holds.get(c.label, set()) <= {carrier}
    ]


class BankView:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def free_by_size(
        self, klass: TemperatureClass | None = TemperatureClass.AMBIENT
    ) -> dict[str, int]:
        """Compartments any carrier could deposit a parcel of ``klass`` in now, by size (the
        kiosk's counts: a free fridge is no room for an ambient parcel); ``None``: of any class
        (metrics)."""
        with transaction(self.ctx.engine) as s:
            free = free_compartments(s, carrier=None)
        of_class = self.ctx.config.temperature_class
        free = [c for c in free if klass is None or of_class(c.label) == klass]
        return {size.value: sum(c.size == size.value for c in free) for size in Size}

    def in_maintenance(self) -> bool:
        with transaction(self.ctx.engine) as s:
            return get_setting(s, "maintenance") == "on"

    def snapshot(self) -> BankState:
        """Every compartment as the cloud's ``state`` topic shows it."""
        with transaction(self.ctx.engine) as s:
            parcels = select(Parcel.compartment).where(col(Parcel.state).in_(ACTIVE_PARCEL_STATES))
            deposits = select(Deposit.compartment).where(
                col(Deposit.state).in_(ACTIVE_DEPOSIT_STATES)
            )
            occupied = set(s.exec(parcels)) | set(s.exec(deposits))
            held = sharing.holders(s)
            compartments = [
                {
                    "label": c.label,
                    "size": c.size,
                    "in_service": c.in_service,
                    "door": c.door,
                    "occupied": c.label in occupied,
                    "reserved_for": ",".join(sorted(held[c.label])) if c.label in held else None,
                    "temperature_class": self.ctx.config.temperature_class(c.label),
                }
                for c in s.exec(select(Compartment).order_by(col(Compartment.label)))
            ]
            maintenance = get_setting(s, "maintenance") == "on"
        return BankState.model_validate(
            {
                "time": self.ctx.clock.wall(),
                "maintenance": maintenance,
                "compartments": compartments,
            }
        )
