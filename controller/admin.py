"""Local administration of a bank, each change committed with its event where one exists.

Used by ``locker edge`` and, later, by the cloud's commands arriving over the link.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from controller import codes
from controller.errors import Invalid, NotFound
from controller.flows import CODE_SCOPE
from controller.store import Courier, Expected, Throttle, emit, put_setting, transaction, utcnow
from controller.throttle import reenable
from locker_contract.events import MaintenanceChanged


def add_courier(
    engine: Engine,
    key: bytes,
    *,
    courier_id: str,
    carrier: str,
    pin: str,
    ttl_h: float,
    name: str = "",
) -> None:
    """Add or renew a courier's kiosk credential, valid offline for ``ttl_h`` hours."""
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise Invalid("the PIN must be 4-12 digits")
    salt = codes.new_salt()
    with transaction(engine) as s:
        s.merge(
            Courier(
                id=courier_id,
                carrier=carrier,
                name=name,
                pin_hash=codes.pin_hash(key, pin, salt),
                salt=salt,
                expires_at=utcnow() + timedelta(hours=ttl_h),
            )
        )


def revoke_courier(engine: Engine, courier_id: str) -> None:
    with transaction(engine) as s:
        courier = s.get(Courier, courier_id)
        if courier is None:
            raise NotFound(f"no courier {courier_id}")
        courier.revoked = True
        s.add(courier)


def expect_parcel(engine: Engine, *, waybill: str, carrier: str, phone: str, consent: str) -> None:
    """Announce a waybill whose recipient's consent is on record."""
    record = Expected(
        waybill=waybill,
        carrier=carrier,
        recipient_phone=codes.normalize_phone(phone),
        consent=consent,
    )
    with transaction(engine) as s:
        s.merge(record)


def set_maintenance(engine: Engine, *, on: bool) -> None:
    with transaction(engine) as s:
        put_setting(s, "maintenance", "on" if on else "off")
        emit(s, MaintenanceChanged(on=on))


def reenable_keypad(engine: Engine) -> None:
    with transaction(engine) as s:
        row = s.get(Throttle, CODE_SCOPE)
        if row is not None:
            reenable(row)
            s.add(row)
