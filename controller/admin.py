"""Administration of a bank: the local CLI's changes and the cloud's commands, one function each.

Every function works in the caller's transaction (``store.transaction``), so that a command's
effect and the record that it was applied commit together, and emits the event a change has.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, delete, select

from controller import codes, storage
from controller.clock import utcnow
from controller.cold import placement
from controller.couriers import COURIER_ID_MAX
from controller.errors import Conflict, Invalid, NotFound
from controller.store import (
    ACTIVE_PARCEL_STATES,
    CarrierPolicy,
    Compartment,
    Courier,
    CourierCode,
    Expected,
    Hold,
    Parcel,
    emit,
    put_setting,
)
from controller.throttle import reenable_codes
from locker_contract.commands import CourierDayCode
from locker_contract.events import CompartmentService, MaintenanceChanged

# what an unknown courier revoked ahead of its credential is recorded as valid until: it is
# never read (a revoked courier is refused first), so any instant in the past does
REVOKED_AT = datetime(1970, 1, 1, tzinfo=UTC)


def add_courier(
    s: Session,
    key: bytes,
    *,
    courier_id: str,
    carrier: str,
    pin: str,
    ttl_h: float,
    now: datetime,
    name: str = "",
) -> None:
    """Add or renew a courier's kiosk credential, valid offline for ``ttl_h`` hours from
    ``now``."""
    if not 1 <= len(courier_id) <= COURIER_ID_MAX:
        raise Invalid(f"a courier id has 1 to {COURIER_ID_MAX} characters")
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise Invalid("the PIN must be 4-12 digits")
    salt = codes.new_salt()
    verifier = codes.pin_verifier(pin, salt)
    until = now + timedelta(hours=ttl_h)
    push_courier(
        s, key, courier_id, carrier=carrier, name=name, salt=salt, verifier=verifier, until=until
    )


def push_courier(
    s: Session,
    key: bytes,
    courier_id: str,
    *,
    carrier: str,
    name: str,
    salt: str,
    verifier: str,
    until: datetime,
) -> None:
    """Store a courier's local credential from its PIN verifier, valid ``until``.
    A revoked courier stays revoked: a push that arrives after its revocation changes nothing."""
    _refuse_revoked(s, courier_id)
    _clear_codes(s, courier_id)
    s.merge(
        Courier(
            id=courier_id,
            carrier=carrier,
            name=name,
            pin_hash=codes.pin_record(key, verifier),
            salt=salt,
            expires_at=until,
        )
    )


def push_day_codes(
    s: Session, key: bytes, *, courier_id: str, carrier: str, name: str, days: list[CourierDayCode]
) -> None:
    """Store the verifiers of a cloud courier's codes for the days pushed (replacing the days
    pushed before); the credential ends with the last of them."""
    _refuse_revoked(s, courier_id)
    _clear_codes(s, courier_id)
    for day in days:
        code = CourierCode(
            courier_id=courier_id,
            day=day.day.isoformat(),
            starts_at=day.starts_at.astimezone(UTC),  # as the store keeps time
            ends_at=day.ends_at.astimezone(UTC),
            salt=day.salt,
            code_hash=codes.pin_record(key, day.verifier),
        )
        s.add(code)
    until = max(day.ends_at for day in days)
    courier = Courier(
        id=courier_id, carrier=carrier, name=name, pin_hash="", salt="", expires_at=until
    )
    s.merge(courier)


def _refuse_revoked(s: Session, courier_id: str) -> None:
    existing = s.get(Courier, courier_id)
    if existing is not None and existing.revoked:
        raise Conflict(f"courier {courier_id} is revoked")


def _clear_codes(s: Session, courier_id: str) -> None:
    s.exec(delete(CourierCode).where(col(CourierCode.courier_id) == courier_id))


def revoke_courier(s: Session, courier_id: str, *, unknown_ok: bool = False) -> None:
    """Revoke at once. With ``unknown_ok`` (the cloud's command) an unknown courier is recorded
    revoked, so that its credential, should the push arrive after the revocation, is refused;
    otherwise (a person at the CLI, perhaps mistyping) an unknown id is an error."""
    courier = s.get(Courier, courier_id)
    if courier is None and not unknown_ok:
        raise NotFound(f"no courier {courier_id}")
    if courier is None:
        courier = Courier(id=courier_id, carrier="", pin_hash="", salt="", expires_at=REVOKED_AT)
    courier.revoked = True
    _clear_codes(s, courier_id)
    s.add(courier)


def withdraw_carrier(s: Session, carrier: str) -> None:
    """The carrier no longer shares this bank: its couriers' codes from the cloud (revocations
    kept), its policy, its reservations and its announcements go. Its parcels in the lockers
    stay, and so do PINs the bank's own staff gave its couriers here (``add_courier``)."""
    for courier in s.exec(select(Courier).where(Courier.carrier == carrier)):
        _clear_codes(s, courier.id)
        if not courier.revoked and not courier.pin_hash:
            s.delete(courier)
    s.exec(delete(CarrierPolicy).where(col(CarrierPolicy.carrier) == carrier))
    s.exec(delete(Hold).where(col(Hold.carrier) == carrier))
    s.exec(delete(Expected).where(col(Expected.carrier) == carrier))
    placement.forget_announced(s, carrier)


def expect_parcel(s: Session, *, waybill: str, carrier: str, phone: str, consent: str) -> None:
    """Announce ``carrier``'s waybill, whose recipient's consent is on record. Another carrier's
    waybill of the same number is another announcement; the same one again is a no-op, and one
    naming another recipient (of an announcement or of a parcel already deposited) is refused."""
    phone = codes.normalize_phone(phone)
    announced = s.get(Expected, (carrier, waybill))
    if announced is not None and (announced.recipient_phone, announced.consent) != (phone, consent):
        raise Conflict(f"waybill {waybill} of {carrier} is already announced for another recipient")
    deposited = s.exec(
        select(Parcel).where(
            Parcel.carrier == carrier,
            Parcel.waybill == waybill,
            col(Parcel.state).in_(ACTIVE_PARCEL_STATES),
        )
    ).first()
    if deposited is not None:
        if codes.normalize_phone(deposited.recipient_phone) != phone:
            raise Conflict(f"waybill {waybill} of {carrier} is in the locker for another recipient")
        return  # already here for that recipient: nothing to expect
    s.merge(Expected(waybill=waybill, carrier=carrier, recipient_phone=phone, consent=consent))


def set_maintenance(s: Session, *, on: bool, now: datetime | None = None) -> None:
    """In or out of maintenance: parcels' storage clocks stop while it lasts (``storage``)."""
    put_setting(s, "maintenance", "on" if on else "off")
    emit(s, MaintenanceChanged(on=on))
    storage.maintenance_changed(s, on=on, now=now or utcnow())


def reenable_keypad(s: Session) -> None:
    """End every pickup-code lockout and the kiosk's slow mode of the day."""
    reenable_codes(s)


def set_service(s: Session, label: str, *, in_service: bool, reason: str) -> None:
    """Take a compartment out of service, or put it back (its jam count starts again)."""
    comp = s.get(Compartment, label)
    if comp is None:
        raise NotFound(f"no compartment {label}")
    if comp.in_service == in_service:
        return
    comp.in_service, comp.service_note = in_service, "" if in_service else reason
    if in_service:
        comp.jam_count = 0
    s.add(comp)
    emit(s, CompartmentService(compartment=label, in_service=in_service, reason=reason))


def hold(s: Session, *, reservation_id: str, carrier: str, label: str, kind: str) -> None:
    """Reserve ``label`` for ``carrier`` (pushed again: the same hold, perhaps moved)."""
    if s.get(Compartment, label) is None:
        raise NotFound(f"no compartment {label}")
    s.merge(Hold(reservation_id=reservation_id, compartment=label, carrier=carrier, kind=kind))


def withdraw(s: Session, reservation_id: str) -> None:
    """The reservation ended in the cloud; withdrawing an unknown one changes nothing."""
    s.exec(delete(Hold).where(col(Hold.reservation_id) == reservation_id))


def set_policy(s: Session, *, carrier: str, guaranteed: int, ceiling: int) -> None:
    if not 0 <= guaranteed <= ceiling:
        raise Invalid("need 0 <= guaranteed <= ceiling")
    s.merge(CarrierPolicy(carrier=carrier, guaranteed=guaranteed, ceiling=ceiling))


def holds(s: Session) -> list[Hold]:
    return list(s.exec(select(Hold).order_by(col(Hold.compartment))))
