"""Everything a courier or recipient can do at the kiosk, and what doors mean to it.

One module per thing the flows hold, composed here into ``Flows`` for the API, the kiosk, the
daemon and the CLI:

- ``context``: the store, policy, clock and doors they share, the guards, ``commit_then_raise``;
- ``deposits`` (and ``recording``, a deposit becoming a parcel): ``lifecycles.DEPOSIT``;
- ``pickups``: codes, refusals, a parcel taken (``lifecycles.PARCEL``);
- ``returns``: couriers signing in, returns and the storage period;
- ``door_events``: the door supervisor's listener, dispatching each door change;
- ``bank``: free compartments and the bank's state for the cloud.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from controller import throttle
from controller.clock import Clock, SystemClock
from controller.config import EdgeConfig
from controller.doors import DoorSupervisor
from controller.flows.bank import BankView, free_compartments
from controller.flows.context import CourierIdentity, DoorView, FlowContext
from controller.flows.deposits import Deposits
from controller.flows.door_events import DoorEvents
from controller.flows.pickups import Pickups
from controller.flows.returns import Couriers
from controller.lifecycles import DepositState as D
from controller.store import transaction
from locker_contract.vocabulary import CONSENTS

__all__ = ["CONSENT_CHOICES", "CourierIdentity", "D", "DoorView", "Flows", "free_compartments"]

log = logging.getLogger(__name__)

CONSENT_CHOICES = CONSENTS  # the one vocabulary, shared with the cloud


class Flows:
    """The flows composed: each method is one part's (``flows.deposits.start`` is
    ``start_deposit``), and ``door_events`` is what the door supervisor tells."""

    def __init__(
        self, engine: Engine, config: EdgeConfig, key: bytes, clock: Clock | None = None
    ) -> None:
        self.ctx = FlowContext(engine, config, key, clock or SystemClock())
        self.engine, self.config, self.policy, self.key = engine, config, config.policy, key
        self.handoff = self.ctx.handoff
        with transaction(engine) as s:
            throttle.rearm_all(s, self.ctx.moment())
        if config.link is not None and self.ctx.sealing_key is None:
            log.warning(
                "no [link] notify_public_key: the cloud cannot tell recipients their "
                "codes; couriers are shown them to hand on (decision 0011)"
            )
        self.deposits = Deposits(self.ctx)
        self.pickups = Pickups(self.ctx)
        self.couriers = Couriers(self.ctx)
        self.bank = BankView(self.ctx)
        self.door_events = DoorEvents(self.ctx, self.deposits)
        # the callers' names for the parts' methods
        self.sign_in = self.couriers.sign_in
        self.start_deposit, self.deposit = self.deposits.start, self.deposits.get
        self.does_not_fit, self.cancel = self.deposits.does_not_fit, self.deposits.cancel
        self.resume_openings = self.deposits.resume_openings
        self.abandon_orphans = self.deposits.abandon_orphans
        self.waiting_to_open = self.deposits.waiting_to_open
        self.handed_code = self.deposits.recording.handed_code
        self.pickup, self.refuse = self.pickups.pickup, self.pickups.refuse
        self.returns_for, self.collect_returns = (
            self.couriers.returns_for,
            self.couriers.collect_returns,
        )
        self.expire_storage = self.couriers.expire_storage
        self.free_by_size, self.snapshot = self.bank.free_by_size, self.bank.snapshot
        self.in_maintenance = self.bank.in_maintenance

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.ctx.clock = self.ctx.handoff.clock = clock

    @property
    def doors(self) -> DoorSupervisor | None:
        return self.ctx.doors

    @doors.setter
    def doors(self, doors: DoorSupervisor | None) -> None:
        self.ctx.doors = doors
