"""Deposit, pickup and return flows: state tables driven by people and by door events.

A deposit's state lives in the store, so a crash anywhere resumes from what was committed: the
door supervisor reports the door's next change and the table says what it means. A parcel is
recorded only after an open-then-close cycle of its compartment (and, on boards with item
sensors, with an item seen).

    deposit   OPENING --opened--> OPEN --closed with item--> RECORDED
              OPENING --jammed--> OPENING (next compartment) | ABANDONED (none left)
              OPEN --does not fit--> RESIZING --closed--> OPENING (next size up)
              OPEN --cancel--> CANCELLING --closed--> ABANDONED
              OPEN --closed, no item--> ABANDONED (nothing put in)
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import Engine
from sqlalchemy import event as sa_event
from sqlmodel import Session, col, select

from controller import codes, couriers, sharing, throttle
from controller.config import EdgeConfig, Size
from controller.doors import OPEN, DoorOutcome, DoorSupervisor
from controller.errors import (
    BadCredentials,
    BankFull,
    Conflict,
    EntryDisabled,
    Invalid,
    LockedOut,
    Maintenance,
    NotFound,
    WrongCode,
)
from controller.failpoints import failpoint
from controller.handoff import Handoff
from controller.store import (
    ACTIVE_DEPOSIT_STATES,
    ACTIVE_PARCEL_STATES,
    Compartment,
    Deposit,
    Expected,
    Intent,
    Parcel,
    ParcelState,
    PickupGroup,
    Throttle,
    emit,
    get_setting,
    transaction,
    utcnow,
)
from locker_contract import sealing
from locker_contract.events import (
    CompartmentService,
    DepositAbandoned,
    KioskLockout,
    ParcelDeposited,
    ParcelPickedUp,
    ParcelRefused,
    ParcelReturned,
)
from locker_contract.messages import BankState
from locker_contract.vocabulary import CONSENTS

log = logging.getLogger(__name__)

CONSENT_CHOICES = CONSENTS  # the one vocabulary, shared with the cloud


class DepositState(StrEnum):
    OPENING = "opening"
    OPEN = "open"
    RESIZING = "resizing"
    CANCELLING = "cancelling"
    RECORDED = "recorded"
    ABANDONED = "abandoned"


class DepositEvent(StrEnum):
    OPENED = "opened"
    JAMMED = "jammed"
    NOT_SENT = "not_sent"
    INTERRUPTED = "interrupted"
    CLOSED_WITH_ITEM = "closed_with_item"
    CLOSED_EMPTY = "closed_empty"
    DOES_NOT_FIT = "does_not_fit"
    CANCEL = "cancel"


D, E = DepositState, DepositEvent
DEPOSIT_TABLE: dict[tuple[DepositState, DepositEvent], DepositState] = {
    (D.OPENING, E.OPENED): D.OPEN,
    (D.OPENING, E.JAMMED): D.OPENING,
    (D.OPENING, E.NOT_SENT): D.ABANDONED,
    (D.OPENING, E.INTERRUPTED): D.ABANDONED,
    (D.OPENING, E.CANCEL): D.ABANDONED,
    (D.OPEN, E.CLOSED_WITH_ITEM): D.RECORDED,
    (D.OPEN, E.CLOSED_EMPTY): D.ABANDONED,
    (D.OPEN, E.DOES_NOT_FIT): D.RESIZING,
    (D.OPEN, E.CANCEL): D.CANCELLING,
    (D.RESIZING, E.CLOSED_WITH_ITEM): D.OPENING,
    (D.RESIZING, E.CLOSED_EMPTY): D.OPENING,
    (D.CANCELLING, E.CLOSED_WITH_ITEM): D.ABANDONED,
    (D.CANCELLING, E.CLOSED_EMPTY): D.ABANDONED,
}
ACTIVE_DEPOSIT = ACTIVE_DEPOSIT_STATES  # D.OPENING, D.OPEN, D.RESIZING, D.CANCELLING
ABANDON_REASON = {
    E.NOT_SENT: "door_failed",
    E.JAMMED: "door_failed",
    E.INTERRUPTED: "door_failed",
    E.CANCEL: "cancelled",
    E.CLOSED_EMPTY: "nothing_put_in",
    E.CLOSED_WITH_ITEM: "cancelled",
}


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


class Flows:
    """Everything a courier or recipient can do at the kiosk, and what doors mean to it."""

    def __init__(
        self, engine: Engine, config: EdgeConfig, key: bytes, clock: throttle.Clock | None = None
    ) -> None:
        self.engine = engine
        self.clock: throttle.Clock = clock or throttle.SystemClock()  # what the throttle reads
        self.config = config
        self.policy = config.policy
        self.key = key
        self.doors: DoorSupervisor | None = None
        self.boot = throttle.boot_id()
        with transaction(engine) as s:
            throttle.rearm_all(s, self._moment())
        self._opening: set[str] = set()  # deposits whose door this process is opening now
        self.sealing_key = config.link.sealing_key() if config.link is not None else None
        self.handoff = Handoff(config.policy.session_timeout_s)  # codes for couriers' screens
        if config.link is not None and self.sealing_key is None:
            log.warning("no [link] notify_public_key: the cloud cannot tell recipients their "
                        "codes; couriers are shown them to hand on (decision 0011)")  # fmt: skip

    # --- guards ---------------------------------------------------------------------------

    def _door_supervisor(self) -> DoorSupervisor:
        assert self.doors is not None, "flows used before the door supervisor was attached"
        return self.doors

    def _refuse_in_maintenance(self, s: Session) -> None:
        if get_setting(s, "maintenance") == "on":
            raise Maintenance("this locker is in maintenance; please come back later")

    def _moment(self) -> throttle.Moment:
        return throttle.moment(self.clock, self.boot)

    def _throttle(self, s: Session, scope: str) -> Throttle:
        row = s.get(Throttle, scope) or Throttle(scope=scope)
        s.add(row)
        at = self._moment()
        verdict = throttle.check(
            row, self.policy, now=at.now, today=at.today, boot=at.boot, wall=at.wall
        )
        if verdict.disabled:
            raise EntryDisabled("entry is disabled for today; a manager can re-enable it")
        if not verdict.allowed:
            raise LockedOut("too many wrong tries", retry_after_s=round(verdict.retry_after_s, 1))
        return row

    def _failed(self, s: Session, row: Throttle) -> dict[str, object]:
        """Count a failure; a lockout or a daily disable is an alarm for the managers."""
        at = self._moment()
        verdict = throttle.fail(
            row, self.policy, now=at.now, today=at.today, boot=at.boot, wall=at.wall
        )
        if verdict.allowed:
            return {"attempts_left": verdict.attempts_left}
        emit(
            s,
            KioskLockout(
                scope=row.scope,
                failures=row.day_failures,
                lockout_s=verdict.retry_after_s,
                disabled=verdict.disabled,
            ),
        )
        if verdict.disabled:
            return {"disabled": True}
        return {"retry_after_s": round(verdict.retry_after_s, 1)}

    # --- couriers -------------------------------------------------------------------------

    def sign_in(self, courier_id: str, pin: str) -> CourierIdentity:
        """Check a courier's PIN or day code (throttled per known courier, one bucket for all
        unknown ids), with the same scrypt work whether the id exists or not."""
        with transaction(self.engine) as s:
            courier = couriers.lookup(s, courier_id)
            row = self._throttle(s, couriers.scope(courier))
            valid = couriers.matches(s, self.key, courier, pin, utcnow())
            if courier is None or not valid:
                detail = self._failed(s, row)
                failure = BadCredentials(
                    "wrong courier id or PIN, or the credential expired", **detail
                )
            else:
                throttle.succeed(row)
                return CourierIdentity(courier.id, courier.carrier)
        raise failure

    # --- deposits -------------------------------------------------------------------------

    async def start_deposit(
        self,
        courier: CourierIdentity,
        *,
        waybill: str,
        phone: str,
        size: Size,
        low: bool = False,
        consent: str | None = None,
    ) -> Deposit:
        with transaction(self.engine) as s:
            self._refuse_in_maintenance(s)
            phone, consent, flagged = self._consent(s, courier, waybill, phone, consent)
            label = self._allocate(s, size, low=low, carrier=courier.carrier, exclude=set())
            if label is None:
                raise BankFull(f"no free compartment fits size {size.value}", size=size.value)
            deposit = Deposit(
                id=str(uuid.uuid4()),
                courier_id=courier.courier_id,
                carrier=courier.carrier,
                waybill=waybill,
                recipient_phone=phone,
                size=size.value,
                low=low,
                consent=consent,
                flagged_for_review=flagged,
                compartment=label,
                state=D.OPENING.value,
            )
            self._opening.add(deposit.id)
            s.add(deposit)
        return await self._open_for_deposit(deposit.id)

    def _consent(
        self, s: Session, courier: CourierIdentity, waybill: str, phone: str, consent: str | None
    ) -> tuple[str, str, bool]:
        if not waybill.strip():
            raise Invalid("the waybill number is empty")
        expected = s.get(Expected, (courier.carrier, waybill))
        if expected is not None:  # announced by this courier's carrier (another's is not ours)
            announced = codes.normalize_phone(expected.recipient_phone)
            if phone and codes.normalize_phone(phone) != announced:
                raise Invalid("the phone number does not match the announced recipient")
            return announced, expected.consent, False
        if len(_digits(phone)) < 7:
            raise Invalid("enter the recipient's phone number")
        if consent not in CONSENT_CHOICES:
            raise Invalid(
                "say how the recipient agreed to locker delivery", choices=CONSENT_CHOICES
            )
        return codes.normalize_phone(phone), consent, True

    def _allocate(
        self, s: Session, size: Size, *, low: bool, carrier: str, exclude: set[str]
    ) -> str | None:
        """The smallest free compartment that fits (a low one when asked)."""
        free = free_compartments(s, carrier=carrier)
        candidates = sharing.admissible(s, carrier, free)
        candidates = [
            c
            for c in candidates
            if c.label not in exclude and Size(c.size).rank >= size.rank and (c.low or not low)
        ]
        held = sharing.holders(s)
        # the carrier's own reservations first, then the smallest fit
        candidates.sort(
            key=lambda c: (carrier not in held.get(c.label, ()), Size(c.size).rank, c.label)
        )
        return candidates[0].label if candidates else None

    def free_by_size(self) -> dict[str, int]:
        """Compartments any carrier could deposit in now, by size (for the kiosk and metrics)."""
        with transaction(self.engine) as s:
            free = free_compartments(s, carrier=None)
        return {size.value: sum(c.size == size.value for c in free) for size in Size}

    def snapshot(self) -> BankState:
        """Every compartment as the cloud's ``state`` topic shows it."""
        with transaction(self.engine) as s:
            parcels = select(Parcel.compartment).where(col(Parcel.state).in_(ACTIVE_PARCEL_STATES))
            deposits = select(Deposit.compartment).where(col(Deposit.state).in_(ACTIVE_DEPOSIT))
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
                }
                for c in s.exec(select(Compartment).order_by(col(Compartment.label)))
            ]
            maintenance = get_setting(s, "maintenance") == "on"
        return BankState.model_validate(
            {"time": utcnow(), "maintenance": maintenance, "compartments": compartments}
        )

    def in_maintenance(self) -> bool:
        with transaction(self.engine) as s:
            return get_setting(s, "maintenance") == "on"

    async def _open_for_deposit(self, deposit_id: str) -> Deposit:
        """Unlock the deposit's compartment; on a jam, try the next fitting one."""
        self._opening.add(deposit_id)
        try:
            while True:
                deposit = self.deposit(deposit_id)
                if deposit.state != D.OPENING or deposit.compartment is None:
                    return deposit
                outcome = await self._door_supervisor().unlock(
                    deposit.compartment,
                    reason=f"deposit {deposit.waybill}",
                    flow="deposit",
                    ref=deposit.id,
                )
                if outcome in (DoorOutcome.OPENED, DoorOutcome.ALREADY_OPEN, DoorOutcome.UNKNOWN):
                    return self.deposit(deposit_id)
                event = E.JAMMED if outcome is DoorOutcome.JAMMED else E.NOT_SENT
                with transaction(self.engine) as s:
                    self._deposit_event(s, s.get_one(Deposit, deposit_id), event)
        finally:
            self._opening.discard(deposit_id)

    def waiting_to_open(self) -> list[str]:
        """Deposits in OPENING whose current compartment has no unlock yet (after a resize)."""
        with transaction(self.engine) as s:
            opening = s.exec(select(Deposit).where(Deposit.state == D.OPENING.value))
            return [
                d.id
                for d in opening
                if d.id not in self._opening and not _has_intent(s, d.id, d.compartment)
            ]

    async def resume_openings(self) -> None:
        for deposit_id in self.waiting_to_open():
            await self._open_for_deposit(deposit_id)

    def abandon_orphans(self) -> None:
        """At start: deposits a crash left before their unlock was even requested."""
        with transaction(self.engine) as s:
            for deposit in s.exec(select(Deposit).where(Deposit.state == D.OPENING.value)):
                if not _has_intent(s, deposit.id, deposit.compartment):
                    self._deposit_event(s, deposit, E.INTERRUPTED)

    def deposit(self, deposit_id: str, courier: CourierIdentity | None = None) -> Deposit:
        with transaction(self.engine) as s:
            deposit = s.get(Deposit, deposit_id)
            if deposit is None or (courier and deposit.courier_id != courier.courier_id):
                raise NotFound("no such deposit")
            return deposit

    async def does_not_fit(self, courier: CourierIdentity, deposit_id: str) -> Deposit:
        return self._courier_says(courier, deposit_id, E.DOES_NOT_FIT)

    async def cancel(self, courier: CourierIdentity, deposit_id: str) -> Deposit:
        return self._courier_says(courier, deposit_id, E.CANCEL)

    def _courier_says(
        self, courier: CourierIdentity, deposit_id: str, event: DepositEvent
    ) -> Deposit:
        self.deposit(deposit_id, courier)
        with transaction(self.engine) as s:
            deposit = s.get_one(Deposit, deposit_id)
            self._deposit_event(s, deposit, event)
            return deposit

    def _deposit_event(self, s: Session, deposit: Deposit, event: DepositEvent) -> None:
        """Apply ``event`` through the table; the target state's action runs with it."""
        state = D(deposit.state)
        nxt = DEPOSIT_TABLE.get((state, event))
        if nxt is None:
            raise Conflict(
                f"cannot {event.value.replace('_', ' ')} a deposit that is {state.value}"
            )
        deposit.updated_at = utcnow()
        deposit.state = nxt.value
        if nxt is D.RECORDED:
            self._record_parcel(s, deposit)
        elif nxt is D.ABANDONED:
            self._abandon(s, deposit, ABANDON_REASON[event])
        elif nxt is D.OPENING and state is D.RESIZING:
            self._reallocate(s, deposit, bigger=True)
        elif nxt is D.OPENING:  # jammed: the next fitting compartment
            self._reallocate(s, deposit, bigger=False)
        s.add(deposit)

    def _reallocate(self, s: Session, deposit: Deposit, *, bigger: bool) -> None:
        assert deposit.compartment is not None
        tried = {t for t in deposit.tried.split(",") if t} | {deposit.compartment}
        size = Size(deposit.size)
        if bigger:
            ranks = list(Size)
            if size.rank + 1 >= len(ranks):
                self._abandon(s, deposit, "does_not_fit")
                return
            size = ranks[size.rank + 1]
            deposit.size = size.value
        label = self._allocate(s, size, low=deposit.low, carrier=deposit.carrier, exclude=tried)
        deposit.tried = ",".join(sorted(tried))
        if label is None:
            self._abandon(s, deposit, "does_not_fit" if bigger else "door_failed")
            return
        deposit.compartment = label

    def _abandon(self, s: Session, deposit: Deposit, reason: str) -> None:
        assert deposit.compartment is not None
        deposit.state, deposit.outcome = D.ABANDONED.value, reason
        emit(
            s,
            DepositAbandoned(
                waybill=deposit.waybill,
                compartment=deposit.compartment,
                reason=reason,  # type: ignore[arg-type]
            ),
        )

    def _record_parcel(self, s: Session, deposit: Deposit) -> None:
        assert deposit.compartment is not None
        group, code = self._group_for(s, deposit.recipient_phone)
        sealed = self._seal(deposit, code)
        parcel = Parcel(
            waybill=deposit.waybill,
            carrier=deposit.carrier,
            courier_id=deposit.courier_id,
            recipient_phone=deposit.recipient_phone,
            compartment=deposit.compartment,
            group_id=group.id,
            consent=deposit.consent,
            flagged_for_review=deposit.flagged_for_review,
            closed_at=utcnow(),
        )
        s.add(parcel)
        sharing.consume(s, deposit.compartment, deposit.carrier)
        sa_event.listen(s, "after_commit", lambda _s: failpoint("after_recorded"), once=True)
        deposit.parcel_id, deposit.outcome = parcel.id, "recorded"
        announced = s.get(Expected, (deposit.carrier, deposit.waybill))
        if announced is not None:
            s.delete(announced)
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
                sealed_code=sealed,
                consent=parcel.consent,
                flagged_for_review=parcel.flagged_for_review,
            ),
        )

    def _seal(self, deposit: Deposit, code: str | None) -> str | None:
        """``code`` sealed for the cloud's notifier; without its key, nothing is stored and the
        courier's screen shows the code once the deposit is recorded (decision 0011)."""
        if code is None:
            return None
        if self.sealing_key is not None:
            return sealing.seal_code(self.sealing_key, code)
        self.handoff.hold(deposit.id, deposit.courier_id, code)  # shown once RECORDED commits
        return None

    def handed_code(self, deposit: Deposit) -> str | None:
        """The code the depositing courier hands on, on a bank without a notifier key."""
        if deposit.state != D.RECORDED:
            return None
        return self.handoff.show(deposit.id, deposit.courier_id)

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
            digest = codes.code_hash(self.key, code)
            taken = select(PickupGroup).where(
                PickupGroup.code_hash == digest, col(PickupGroup.active).is_(True)
            )
            if s.exec(taken).first() is None:
                group = PickupGroup(phone=phone, code_hash=digest)
                s.add(group)
                s.flush()
                return group, code

    # --- pickup ---------------------------------------------------------------------------

    async def pickup(self, code: str, *, source: str = throttle.TERMINAL) -> list[DoorView]:
        """Open every door of the group ``code`` belongs to, one after another; ``source`` is
        where the attempt comes from (``throttle.source_for``)."""
        with transaction(self.engine) as s:
            self._refuse_in_maintenance(s)
            at = self._moment()
            rows = throttle.admit_code(s, self.policy, source, at)
            parcels = self._group_parcels(s, code)
            if parcels is None:
                detail = throttle.code_failed(s, rows, self.policy, at)
                failure = WrongCode("that code opens nothing here", **detail)
            else:
                throttle.succeed_code(rows)
        if parcels is None:
            raise failure
        return await self._open_each(parcels, flow="pickup")

    def _group_parcels(self, s: Session, code: str) -> list[Parcel] | None:
        digest = codes.code_hash(self.key, code)
        query = select(PickupGroup).where(
            PickupGroup.code_hash == digest, col(PickupGroup.active).is_(True)
        )
        group = s.exec(query).first()
        if group is None or not codes.code_matches(self.key, code, group.code_hash):
            return None
        in_locker = select(Parcel).where(
            Parcel.group_id == group.id, Parcel.state == ParcelState.IN_LOCKER.value
        )
        return sorted(s.exec(in_locker), key=lambda p: p.compartment)

    async def _open_each(self, parcels: list[Parcel], *, flow: str) -> list[DoorView]:
        views = []
        for parcel in parcels:
            outcome = await self._door_supervisor().unlock(
                parcel.compartment, reason=f"{flow} {parcel.waybill}", flow=flow, ref=parcel.id
            )
            views.append(DoorView(parcel.compartment, outcome.value, parcel.id, parcel.waybill))
        return views

    def refuse(
        self, parcel_id: str, reason: str, *, opened: Collection[str], source: str
    ) -> Parcel:
        """The recipient refuses a damaged parcel at the open door: it becomes a return.
        ``opened`` is what the caller's pickup session opened (``sessions.PickupSessions``);
        any other parcel is counted and answered like a wrong code, whatever its state."""
        with transaction(self.engine) as s:
            at = self._moment()
            rows = throttle.admit_code(s, self.policy, source, at)
            parcel = s.get(Parcel, parcel_id) if parcel_id in opened else None
            if parcel is None:
                detail = throttle.code_failed(s, rows, self.policy, at)
                failure = WrongCode("this pickup has ended; enter your code again", **detail)
            elif parcel.state != ParcelState.IN_LOCKER or parcel.opened_for != "pickup":
                raise Conflict("only a parcel whose door is open for pickup can be refused")
            else:
                self._make_return(s, parcel, reason)
                return parcel
        raise failure

    def _make_return(self, s: Session, parcel: Parcel, reason: str) -> None:
        """The parcel goes back to its courier (refused, or past its storage period)."""
        parcel.state, parcel.refusal = ParcelState.RETURN_PENDING.value, reason
        s.add(parcel)
        event = ParcelRefused(parcel_id=uuid.UUID(parcel.id), waybill=parcel.waybill, reason=reason)
        emit(s, event)
        if parcel.group_id:
            self._close_group_if_empty(s, s.get_one(PickupGroup, parcel.group_id))

    def _close_group_if_empty(self, s: Session, group: PickupGroup) -> None:
        s.flush()
        left = select(Parcel).where(
            Parcel.group_id == group.id, Parcel.state == ParcelState.IN_LOCKER.value
        )
        if s.exec(left).first() is None:
            group.active = False
            s.add(group)

    # --- returns --------------------------------------------------------------------------

    def returns_for(self, courier: CourierIdentity) -> list[Parcel]:
        with transaction(self.engine) as s:
            query = select(Parcel).where(
                Parcel.carrier == courier.carrier,
                Parcel.state == ParcelState.RETURN_PENDING.value,
            )
            return sorted(s.exec(query), key=lambda p: p.compartment)

    async def collect_returns(self, courier: CourierIdentity) -> list[DoorView]:
        with transaction(self.engine) as s:
            self._refuse_in_maintenance(s)
        return await self._open_each(self.returns_for(courier), flow="return")

    def expire_storage(self) -> int:
        """Parcels past the storage period become returns for their courier."""
        limit = utcnow() - timedelta(days=self.policy.storage_days)
        with transaction(self.engine) as s:
            query = select(Parcel).where(
                Parcel.state == ParcelState.IN_LOCKER.value, col(Parcel.deposited_at) < limit
            )
            expired = list(s.exec(query))
            for parcel in expired:
                self._make_return(s, parcel, "storage period ended")
            return len(expired)

    # --- what doors mean (DoorListener) ---------------------------------------------------

    def door_opened(self, session: Session, label: str, intent: Intent | None) -> None:
        if intent is None:
            return
        if intent.flow == "deposit":
            deposit = session.get(Deposit, intent.ref)
            if deposit is not None and deposit.state == D.OPENING and deposit.compartment == label:
                self._deposit_event(session, deposit, E.OPENED)
        elif intent.flow in ("pickup", "return"):
            parcel = session.get(Parcel, intent.ref)
            if parcel is not None:
                parcel.opened_for = intent.flow
                session.add(parcel)

    def door_closed(self, session: Session, label: str, item: bool | None) -> None:
        failpoint("after_closed")
        query = select(Deposit).where(
            Deposit.compartment == label, col(Deposit.state).in_(ACTIVE_DEPOSIT)
        )
        deposit = session.exec(query).first()
        if deposit is not None and deposit.state != D.OPENING:
            event = E.CLOSED_EMPTY if item is False else E.CLOSED_WITH_ITEM
            self._deposit_event(session, deposit, event)
        for parcel in session.exec(
            select(Parcel).where(Parcel.compartment == label, col(Parcel.opened_for).is_not(None))
        ):
            self._parcel_door_closed(session, parcel, item)

    def _parcel_door_closed(self, s: Session, parcel: Parcel, item: bool | None) -> None:
        opened_for, parcel.opened_for = parcel.opened_for, None
        s.add(parcel)
        if item is True:  # the sensor still sees it: left behind, or not collected
            return
        if opened_for == "pickup" and parcel.state == ParcelState.IN_LOCKER:
            parcel.state = ParcelState.PICKED_UP.value
            emit(
                s,
                ParcelPickedUp(
                    parcel_id=uuid.UUID(parcel.id),
                    waybill=parcel.waybill,
                    compartment=parcel.compartment,
                ),
            )
            if parcel.group_id:
                self._close_group_if_empty(s, s.get_one(PickupGroup, parcel.group_id))
        elif opened_for == "return" and parcel.state == ParcelState.RETURN_PENDING:
            parcel.state = ParcelState.RETURNED.value
            emit(
                s,
                ParcelReturned(
                    parcel_id=uuid.UUID(parcel.id),
                    waybill=parcel.waybill,
                    courier_id=parcel.courier_id,
                ),
            )

    def unlock_interrupted(self, session: Session, intent: Intent) -> None:
        """A restart found an unlock unanswered and the door shut."""
        if intent.flow != "deposit":
            return  # a pickup or return simply stays pending: the person can try again
        deposit = session.get(Deposit, intent.ref)
        if deposit is None or deposit.state != D.OPENING:
            return
        self._deposit_event(session, deposit, E.INTERRUPTED)
        # The door may have opened and shut while no process watched it: unless the board's
        # item sensor says the compartment is empty, hold it until someone has looked inside.
        if self._door_supervisor().items.get(intent.compartment) is not False:
            comp = session.get_one(Compartment, intent.compartment)
            comp.in_service, comp.service_note = False, "inspect: a deposit was interrupted"
            session.add(comp)
            emit(
                session,
                CompartmentService(
                    compartment=comp.label, in_service=False, reason=comp.service_note
                ),
            )


def free_compartments(s: Session, *, carrier: str | None) -> list[Compartment]:
    """In service, door shut, holding no parcel, held by no deposit in progress, and not
    reserved for another carrier (``carrier=None``: reserved for nobody)."""
    held = set(s.exec(select(Deposit.compartment).where(col(Deposit.state).in_(ACTIVE_DEPOSIT))))
    full = set(
        s.exec(select(Parcel.compartment).where(col(Parcel.state).in_(ACTIVE_PARCEL_STATES)))
    )
    holds = sharing.holders(s)
    return [
        c
        for c in s.exec(select(Compartment).where(col(Compartment.in_service).is_(True)))
        if c.label not in held | full and c.door != OPEN and holds.get(c.label, set()) <= {carrier}
    ]


def _has_intent(s: Session, deposit_id: str, label: str | None) -> bool:
    query = select(Intent).where(Intent.ref == deposit_id, Intent.compartment == label)
    return s.exec(query).first() is not None


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
