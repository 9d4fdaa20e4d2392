"""What a carrier sees and does: banks with room, parcels announced ahead, its couriers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.core.security import new_salt, pin_verifier
from cloud.models import (
    ApiKey,
    Bank,
    Consent,
    Courier,
    Parcel,
    ParcelEvent,
    ParcelStatus,
    Role,
    SharingPolicy,
    Site,
)
from cloud.services.allocation import free_by_size, holdings
from cloud.services.auth import Principal, Scope, audit, mint_key
from cloud.services.commands import enqueue_command
from cloud.services.errors import Conflict, Invalid, NotFound

CONSENTS: tuple[str, ...] = tuple(c.value for c in Consent)
# how long a pushed credential opens a bank's kiosk without news from the cloud; a revocation
# reaches a bank as soon as it is online
COURIER_VALID_H = 30 * 24.0


@dataclass(frozen=True)
class BankView:
    bank_id: str
    name: str
    site: str
    lat: float
    lon: float
    free: dict[str, int]
    you_hold: int
    your_guarantee: int
    your_ceiling: int | None


def banks(engine: Engine, who: Principal) -> list[BankView]:
    """Every shared bank with its free compartments by size and this carrier's standing."""
    carrier = who.carrier
    with transaction(engine) as s:
        views = []
        for bank, site in s.exec(select(Bank, Site).join(Site).order_by(col(Bank.id))):
            policy = s.get(SharingPolicy, (bank.id, carrier))
            views.append(
                BankView(
                    bank_id=bank.id, name=bank.name, site=site.name, lat=site.lat, lon=site.lon,
                    free=free_by_size(s, bank.id), you_hold=holdings(s, bank.id)[carrier],
                    your_guarantee=policy.guaranteed if policy else 0,
                    your_ceiling=policy.ceiling if policy else None,
                )
            )  # fmt: skip
        return views


def announce(
    engine: Engine, who: Principal, *, waybill: str, bank_id: str, phone: str, consent: str
) -> Parcel:
    """A parcel announced ahead, with the recipient's consent on record."""
    carrier = who.carrier
    if consent not in CONSENTS:
        raise Invalid("unknown consent", choices=CONSENTS)
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 7:
        raise Invalid("the recipient's phone number is too short")
    try:
        with transaction(engine) as s:
            if s.get(Bank, bank_id) is None:
                raise NotFound("no such bank")
            parcel = Parcel(carrier_id=carrier, waybill=waybill, bank_id=bank_id,
                            recipient_phone=phone, consent=consent)  # fmt: skip
            s.add(parcel)
            s.flush()
            s.add(
                ParcelEvent(parcel_id=parcel.id, status=ParcelStatus.ANNOUNCED.value, source="api")
            )
            audit(s, who, "announce", parcel.id, waybill=waybill)
            announced: dict[str, object] = {"waybill": waybill, "carrier_id": carrier}
            announced |= {"recipient_phone": phone, "consent": consent}
            enqueue_command(s, bank_id, "parcel.announce", announced, who=who)
            return parcel
    except IntegrityError:
        raise Conflict(f"waybill {waybill} is already announced") from None


def parcels(engine: Engine, who: Principal) -> list[Parcel]:
    with transaction(engine) as s:
        query = select(Parcel).where(Parcel.carrier_id == who.carrier)
        return list(s.exec(query.order_by(col(Parcel.created_at))))


def parcel_history(
    engine: Engine, who: Principal, waybill: str
) -> tuple[Parcel, list[ParcelEvent]]:
    with transaction(engine) as s:
        query = select(Parcel).where(Parcel.carrier_id == who.carrier, Parcel.waybill == waybill)
        parcel = s.exec(query).first()
        if parcel is None:
            raise NotFound("no such parcel")
        history = select(ParcelEvent).where(ParcelEvent.parcel_id == parcel.id)
        return parcel, list(s.exec(history.order_by(col(ParcelEvent.id))))


def couriers(engine: Engine, who: Principal) -> list[Courier]:
    with transaction(engine) as s:
        return list(
            s.exec(
                select(Courier).where(Courier.carrier_id == who.carrier).order_by(col(Courier.id))
            )
        )


def add_courier(
    engine: Engine, who: Principal, secret_key: str, *, courier_id: str, name: str, pin: str
) -> tuple[Courier, str]:
    """A courier of this carrier, with a kiosk PIN (stored hashed) and an app key (shown once)."""
    carrier = who.carrier
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise Invalid("the PIN must be 4-12 digits")
    with transaction(engine) as s:
        if s.get(Courier, courier_id) is not None:
            raise Conflict(f"courier {courier_id} exists")
        salt = new_salt()
        courier = Courier(
            id=courier_id,
            carrier_id=carrier,
            name=name,
            salt=salt,
            pin_hash=pin_verifier(pin, salt),
        )
        s.add(courier)
        s.flush()
        push_courier(s, courier)
        key = mint_key(
            s,
            secret_key,
            Role.COURIER,
            courier_id,
            Scope(carrier_id=carrier, courier_id=courier_id),
        )
        audit(s, who, "add_courier", courier_id)
        return courier, key


def revoke_courier(engine: Engine, who: Principal, courier_id: str) -> Courier:
    """At once in the cloud (its app key) and, as soon as each is reachable, at every bank."""
    with transaction(engine) as s:
        courier = s.get(Courier, courier_id)
        if courier is None or courier.carrier_id != who.carrier:
            raise NotFound("no such courier")
        courier.active = False
        s.add(courier)
        for key in s.exec(select(ApiKey).where(ApiKey.courier_id == courier_id)):
            key.revoked = True
            s.add(key)
        for bank_id in served_banks(s, courier.carrier_id):
            enqueue_command(s, bank_id, "courier.revoke", {"courier_id": courier_id}, who=who)
        audit(s, who, "revoke_courier", courier_id)
        return courier


def served_banks(s: Session, carrier_id: str) -> list[str]:
    """Banks where the carrier has a share: where its couriers' credentials are pushed."""
    query = select(SharingPolicy.bank_id).where(SharingPolicy.carrier_id == carrier_id)
    return sorted(s.exec(query))


def push_courier(s: Session, courier: Courier, bank_ids: list[str] | None = None) -> None:
    """Send the courier's PIN verifier (never the PIN) to ``bank_ids`` (default: every bank
    the carrier serves), in the caller's transaction."""
    payload: dict[str, object] = {"courier_id": courier.id, "carrier_id": courier.carrier_id}
    payload |= {"name": courier.name, "salt": courier.salt, "verifier": courier.pin_hash}
    payload["valid_h"] = COURIER_VALID_H
    for bank_id in served_banks(s, courier.carrier_id) if bank_ids is None else bank_ids:
        enqueue_command(s, bank_id, "courier.push", payload)


def courier_self(engine: Engine, who: Principal) -> tuple[Courier, list[Parcel]]:
    """A courier's own record and the parcels it deposited."""
    who.require(Role.COURIER)
    with transaction(engine) as s:
        courier = s.get(Courier, str(who.courier_id))
        if courier is None:
            raise NotFound("no such courier")
        mine = select(Parcel).where(Parcel.courier_id == courier.id)
        return courier, list(s.exec(mine.order_by(col(Parcel.created_at))))
