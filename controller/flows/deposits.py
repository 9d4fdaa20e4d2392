"""Deposits: a courier's parcel from the first unlock to RECORDED or ABANDONED.

The deposit's state lives in the store and moves only through ``lifecycles.DEPOSIT``, so a crash
anywhere resumes from what was committed: the door supervisor reports the door's next change and
the table says what it means. A parcel is recorded only after an open-then-close cycle of its
compartment (and, on boards with item sensors, with an item seen): see ``recording``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from sqlmodel import Session, select

from controller import codes, recipients, sharing
from controller.cold import placement
from controller.config import Size
from controller.doors import DoorOutcome
from controller.errors import BankFull, Invalid, NotFound
from controller.flows.bank import free_compartments
from controller.flows.context import CourierIdentity, FlowContext
from controller.flows.recording import Recording
from controller.lifecycles import DEPOSIT, DepositEvent, DepositState, UnlockFlow
from controller.store import Deposit, Expected, Intent, emit, transaction
from locker_contract import cold
from locker_contract.cold import TemperatureClass
from locker_contract.events import DepositAbandoned
from locker_contract.vocabulary import CONSENTS

D, E = DepositState, DepositEvent

AbandonReason = Literal["cancelled", "nothing_put_in", "does_not_fit", "door_failed"]
ABANDON_REASON: dict[DepositEvent, AbandonReason] = {
    E.NOT_SENT: "door_failed",
    E.JAMMED: "door_failed",
    E.INTERRUPTED: "door_failed",
    E.CANCEL: "cancelled",
    E.CLOSED_EMPTY: "nothing_put_in",
    E.CLOSED_WITH_ITEM: "cancelled",
}
OPENED = (DoorOutcome.OPENED, DoorOutcome.ALREADY_OPEN, DoorOutcome.UNKNOWN)


class Deposits:
    """Starting, opening, resizing and cancelling deposits, and what door events do to them."""

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.recording = Recording(ctx)
        self._opening: set[str] = set()  # deposits whose door this process is opening now

    async def start(
        self,
        courier: CourierIdentity,
        *,
        waybill: str,
        phone: str,
        size: Size,
        low: bool = False,
        consent: str | None = None,
        temperature_class: TemperatureClass | None = None,
    ) -> Deposit:
        with transaction(self.ctx.engine) as s:
            self.ctx.refuse_in_maintenance(s)
            phone, consent, flagged = _consent(s, courier, waybill, phone, consent)
            recipients.check_deposit(s, self.ctx.key, phone)  # said no to lockers?
            klass = placement.wanted(s, courier.carrier, waybill, temperature_class)
            fits = self._of_class(s, klass)
            label = allocate(s, size, low=low, carrier=courier.carrier, exclude=set(), fits=fits)
            if label is None:
                raise _full(size, klass)
            deposit = Deposit(
                courier_id=courier.courier_id,
                carrier=courier.carrier,
                waybill=waybill,
                recipient_phone=phone,
                size=size.value,
                low=low,
                consent=consent,
                flagged_for_review=flagged,
                compartment=label,
                state=D.OPENING,
                updated_at=self.ctx.clock.wall(),
            )
            self._opening.add(deposit.id)
            s.add(deposit)
            placement.keep_for_deposit(s, deposit.id, klass)
        return await self._open(deposit.id)

    def _of_class(self, s: Session, klass: TemperatureClass) -> Callable[[str], bool]:
        """Whether a compartment (its label) may take a parcel of class ``klass`` now: of that
        class, and not in a zone out of its range for longer than its class allows."""
        config, warm = self.ctx.config, placement.in_excursion(s, self.ctx.config.zones)
        return lambda label: (
            label not in warm and cold.serves(config.temperature_class(label), klass)
        )

    async def _open(self, deposit_id: str) -> Deposit:
        """Unlock the deposit's compartment; on a jam, try the next fitting one."""
        self._opening.add(deposit_id)
        try:
            while True:
                deposit = self.get(deposit_id)
                if deposit.state != D.OPENING or deposit.compartment is None:
                    return deposit
                outcome = await self.ctx.door_supervisor().unlock(
                    deposit.compartment,
                    reason=f"deposit {deposit.waybill}",
                    flow=UnlockFlow.DEPOSIT,
                    ref=deposit.id,
                )
                if outcome in OPENED:
                    return self.get(deposit_id)
                event = E.JAMMED if outcome is DoorOutcome.JAMMED else E.NOT_SENT
                with transaction(self.ctx.engine) as s:
                    self.apply(s, s.get_one(Deposit, deposit_id), event)
        finally:
            self._opening.discard(deposit_id)

    def waiting_to_open(self) -> list[str]:
        """Deposits in OPENING whose current compartment has no unlock yet (after a resize)."""
        with transaction(self.ctx.engine) as s:
            opening = s.exec(select(Deposit).where(Deposit.state == D.OPENING))
            return [
                d.id
                for d in opening
                if d.id not in self._opening and not _has_intent(s, d.id, d.compartment)
            ]

    async def resume_openings(self) -> None:
        for deposit_id in self.waiting_to_open():
            await self._open(deposit_id)

    def abandon_orphans(self) -> None:
        """At start: deposits a crash left before their unlock was even requested."""
        with transaction(self.ctx.engine) as s:
            for deposit in s.exec(select(Deposit).where(Deposit.state == D.OPENING)):
                if not _has_intent(s, deposit.id, deposit.compartment):
                    self.apply(s, deposit, E.INTERRUPTED)

    def get(self, deposit_id: str, courier: CourierIdentity | None = None) -> Deposit:
        with transaction(self.ctx.engine) as s:
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
        self.get(deposit_id, courier)
        with transaction(self.ctx.engine) as s:
            deposit = s.get_one(Deposit, deposit_id)
            self.apply(s, deposit, event)
            return deposit

    def apply(self, s: Session, deposit: Deposit, event: DepositEvent) -> None:
        """Move ``deposit`` through the table; the target state's action runs with it."""
        state = deposit.state
        deposit.state = DEPOSIT.next(state, event)
        deposit.updated_at = self.ctx.clock.wall()
        if deposit.state is D.RECORDED:
            self.recording.record(s, deposit)
        elif deposit.state is D.ABANDONED:
            _abandon(s, deposit, ABANDON_REASON[event])
        elif deposit.state is D.OPENING:  # resized: the next size up; jammed: the next one
            fits = self._of_class(s, placement.deposit_class(s, deposit.id))
            _reallocate(s, deposit, bigger=state == D.RESIZING, fits=fits)
        if deposit.state in (D.RECORDED, D.ABANDONED):
            placement.forget_deposit(s, deposit.id)
        s.add(deposit)


def allocate(
    s: Session,
    size: Size,
    *,
    low: bool,
    carrier: str,
    exclude: set[str],
    fits: Callable[[str], bool] = lambda _label: True,
) -> str | None:
    """The smallest free compartment that fits (a low one when asked, one that ``fits`` the
    parcel's temperature class), the carrier's own reservations first."""
    free = free_compartments(s, carrier=carrier)
    candidates = [
        c
        for c in sharing.admissible(s, carrier, free)
        if c.label not in exclude
        and Size(c.size).rank >= size.rank
        and (c.low or not low)
        and fits(c.label)
    ]
    held = sharing.holders(s)
    candidates.sort(
        key=lambda c: (carrier not in held.get(c.label, ()), Size(c.size).rank, c.label)
    )
    return candidates[0].label if candidates else None


def _consent(
    s: Session, courier: CourierIdentity, waybill: str, phone: str, consent: str | None
) -> tuple[str, str, bool]:
    """The recipient's phone and consent: announced by the courier's carrier (another's is not
    ours), or declared at the kiosk and flagged for review."""
    if not waybill.strip():
        raise Invalid("the waybill number is empty")
    expected = s.get(Expected, (courier.carrier, waybill))
    if expected is not None:
        announced = codes.normalize_phone(expected.recipient_phone)
        if phone and codes.normalize_phone(phone) != announced:
            raise Invalid("the phone number does not match the announced recipient")
        return announced, expected.consent, False
    if len(_digits(phone)) < 7:
        raise Invalid("enter the recipient's phone number")
    if consent not in CONSENTS:
        raise Invalid("say how the recipient agreed to locker delivery", choices=CONSENTS)
    return codes.normalize_phone(phone), consent, True


def _full(size: Size, klass: TemperatureClass) -> BankFull:
    if klass is TemperatureClass.AMBIENT:
        return BankFull(f"no free compartment fits size {size.value}", size=size.value)
    return BankFull(
        f"no free {klass.value} compartment fits size {size.value}",
        size=size.value,
        temperature_class=klass.value,
    )


def _reallocate(s: Session, deposit: Deposit, *, bigger: bool, fits: Callable[[str], bool]) -> None:
    assert deposit.compartment is not None
    tried = {t for t in deposit.tried.split(",") if t} | {deposit.compartment}
    size = Size(deposit.size)
    if bigger:
        ranks = list(Size)
        if size.rank + 1 >= len(ranks):
            _abandon(s, deposit, "does_not_fit")
            return
        size = ranks[size.rank + 1]
        deposit.size = size.value
    label = allocate(s, size, low=deposit.low, carrier=deposit.carrier, exclude=tried, fits=fits)
    deposit.tried = ",".join(sorted(tried))
    if label is None:
        _abandon(s, deposit, "does_not_fit" if bigger else "door_failed")
        return
    deposit.compartment = label


def _abandon(s: Session, deposit: Deposit, reason: AbandonReason) -> None:
    assert deposit.compartment is not None
    deposit.state, deposit.outcome = D.ABANDONED, reason
    emit(
        s, DepositAbandoned(waybill=deposit.waybill, compartment=deposit.compartment, reason=reason)
    )


def _has_intent(s: Session, deposit_id: str, label: str | None) -> bool:
    query = select(Intent).where(Intent.ref == deposit_id, Intent.compartment == label)
    return s.exec(query).first() is not None


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())
