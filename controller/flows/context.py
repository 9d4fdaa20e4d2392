"""What every flow shares: the store, the policy, the clock, the doors, and the guards.

``commit_then_raise`` names a pattern the flows depend on: a wrong code or PIN is *counted* (the
throttle's row, perhaps a lockout alarm) and then refused. The count must commit before the error
reaches the caller, or the refusal would roll back the very failure that limits guessing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from controller import throttle
from controller.clock import Clock
from controller.config import EdgeConfig
from controller.doors import DoorSupervisor
from controller.errors import EdgeError, EntryDisabled, LockedOut, Maintenance
from controller.handoff import Handoff
from controller.lifecycles import UnlockFlow
from controller.store import Parcel, Throttle, emit, get_setting, transaction
from locker_contract.events import KioskLockout

log = logging.getLogger(__name__)

T = TypeVar("T")


def commit_then_raise(engine: Engine, work: Callable[[Session], T | EdgeError]) -> T:
    """Run ``work`` in one transaction. When it *returns* an error, the transaction commits
    first and the error is raised after: what ``work`` wrote about the failure (a counted wrong
    code, a lockout alarm) stays. An error ``work`` *raises* rolls everything back, as usual."""
    with transaction(engine) as s:
        outcome = work(s)
    if isinstance(outcome, EdgeError):
        raise outcome
    return outcome


@dataclass(frozen=True)
class CourierIdentity:
    courier_id: str
    carrier: str


@dataclass(frozen=True)
class DoorView:
    compartment: str
    outcome: str
    parcel_id: str | None = None
    waybill: str | None = None


class FlowContext:
    """The bank's store, configuration, key and clock, with the guards every flow runs."""

    def __init__(self, engine: Engine, config: EdgeConfig, key: bytes, clock: Clock) -> None:
        self.engine = engine
        self.config = config
        self.policy = config.policy
        self.key = key
        self.clock = clock  # what the throttle, the storage period and credentials read
        self.doors: DoorSupervisor | None = None
        self.boot = throttle.boot_id()
        self.sealing_key = config.link.sealing_key() if config.link is not None else None
        self.handoff = Handoff(config.policy.session_timeout_s, clock)  # couriers' screens

    def door_supervisor(self) -> DoorSupervisor:
        assert self.doors is not None, "flows used before the door supervisor was attached"
        return self.doors

    def refuse_in_maintenance(self, s: Session) -> None:
        if get_setting(s, "maintenance") == "on":
            raise Maintenance("this locker is in maintenance; please come back later")

    def moment(self) -> throttle.Moment:
        return throttle.moment(self.clock, self.boot)

    def throttle(self, s: Session, scope: str) -> Throttle:
        """The scope's row, refusing at once when it is locked out or disabled."""
        row = s.get(Throttle, scope) or Throttle(scope=scope)
        s.add(row)
        at = self.moment()
        verdict = throttle.check(
            row, self.policy, now=at.now, today=at.today, boot=at.boot, wall=at.wall
        )
        if verdict.disabled:
            raise EntryDisabled("entry is disabled for today; a manager can re-enable it")
        if not verdict.allowed:
            raise LockedOut("too many wrong tries", retry_after_s=round(verdict.retry_after_s, 1))
        return row

    def failed(self, s: Session, row: Throttle) -> dict[str, object]:
        """Count a failure; a lockout or a daily disable is an alarm for the managers."""
        at = self.moment()
        verdict = throttle.fail(
            row, self.policy, now=at.now, today=at.today, boot=at.boot, wall=at.wall
        )
        if verdict.allowed:
            return {"attempts_left": verdict.attempts_left}
        lockout = KioskLockout(
            scope=row.scope,
            failures=row.day_failures,
            lockout_s=verdict.retry_after_s,
            disabled=verdict.disabled,
        )
        emit(s, lockout)
        if verdict.disabled:
            return {"disabled": True}
        return {"retry_after_s": round(verdict.retry_after_s, 1)}

    async def open_each(self, parcels: list[Parcel], flow: UnlockFlow) -> list[DoorView]:
        """Unlock each parcel's door in turn, for a pickup or a return."""
        views = []
        for parcel in parcels:
            outcome = await self.door_supervisor().unlock(
                parcel.compartment, reason=f"{flow} {parcel.waybill}", flow=flow, ref=parcel.id
            )
            views.append(DoorView(parcel.compartment, outcome.value, parcel.id, parcel.waybill))
        return views
