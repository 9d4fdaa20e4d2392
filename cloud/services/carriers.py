"""What a carrier sees and does: banks with room, parcels announced ahead, its couriers, and
the shares operators offer it.

A share (``SharingPolicy``) is the operator's offer until the carrier accepts it with its own
key; only then does anything of the carrier reach the bank: its policy, its couriers' codes
(``courier_codes``: derived per bank and per day, never stored), its announcements. Withdrawing
an accepted share takes all of that back from the bank (``carrier.withdraw``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.lifecycles import SHARE
from cloud.models import (
    ApiKey,
    Bank,
    BankPublic,
    Consent,
    Courier,
    CourierCodePublic,
    Parcel,
    ParcelEvent,
    ParcelStatus,
    Role,
    ShareState,
    SharingPolicy,
    Site,
)
from cloud.services import courier_codes
from cloud.services.allocation import (
    end_withdrawn,
    free_by_class,
    held_everywhere,
    no_sizes,
    refuse_unaccepted,
)
from cloud.services.auth import Principal, Scope, audit, is_live, mint_key
from cloud.services.commands import enqueue_command
from cloud.services.errors import Conflict, Invalid, NotFound
from cloud.services.keys import end_key
from cloud.webhooks import outbox as webhooks
from cloud.webhooks.events import Kind
from locker_contract import commands as contract
from locker_contract import vocabulary
from locker_contract.cold import TemperatureClass
from locker_contract.credentials import day_bounds

CONSENTS = vocabulary.CONSENTS


def banks(engine: Engine, who: Principal) -> list[BankPublic]:
    """Every shared bank with its free compartments by size and this carrier's standing."""
    carrier = who.carrier
    with transaction(engine) as s:
        free, held = free_by_class(s), held_everywhere(s, carrier)
        mine = select(SharingPolicy).where(SharingPolicy.carrier_id == carrier)
        policies = {p.bank_id: p for p in s.exec(mine)}
        views = []
        for bank, site in s.exec(select(Bank, Site).join(Site).order_by(col(Bank.id))):
            policy = policies.get(bank.id)
            views.append(
                BankPublic(
                    bank_id=bank.id,
                    name=bank.name,
                    site=site.name,
                    lat=site.lat,
                    lon=site.lon,
                    free=free.get(bank.id, {}).get(TemperatureClass.AMBIENT) or no_sizes(),
                    free_cold=_cold(free.get(bank.id, {})),
                    you_hold=held[bank.id],
                    your_guarantee=policy.guaranteed if policy else 0,
                    your_ceiling=policy.ceiling if policy else None,
                )
            )
        return views


def announce(
    engine: Engine,
    who: Principal,
    *,
    waybill: str,
    bank_id: str,
    phone: str,
    consent: str,
    temperature_class: TemperatureClass = TemperatureClass.AMBIENT,
) -> Parcel:
    """A parcel announced ahead, with the recipient's consent on record, and the temperature
    class it travels in (the bank puts it only into a compartment of that class)."""
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
            refuse_unaccepted(s, bank_id, carrier)
            parcel = Parcel(
                carrier_id=carrier,
                waybill=waybill,
                bank_id=bank_id,
                recipient_phone=phone,
                consent=consent,
                temperature_class=str(temperature_class),
            )
            s.add(parcel)
            s.flush()
            s.add(ParcelEvent(parcel_id=parcel.id, status=ParcelStatus.ANNOUNCED, source="api"))
            webhooks.parcel_event(s, Kind.ANNOUNCED, parcel, at=parcel.created_at)
            audit(s, who, "announce", parcel.id, waybill=waybill)
            announced = contract.ParcelAnnounce(
                waybill=waybill,
                carrier_id=carrier,
                recipient_phone=phone,
                consent=Consent(consent),
                temperature_class=_asked(temperature_class),
            )
            enqueue_command(s, bank_id, announced, who=who)
            return parcel
    except IntegrityError:
        raise Conflict(f"waybill {waybill} is already announced") from None


def _cold(free: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    return {klass: sizes for klass, sizes in free.items() if klass != TemperatureClass.AMBIENT}


def _asked(klass: TemperatureClass) -> TemperatureClass | None:
    """What the announcement tells the bank: nothing for ambient (as before issue 17, so that
    a bank whose contract predates the field takes it), the class otherwise."""
    return None if klass is TemperatureClass.AMBIENT else klass


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
    engine: Engine,
    who: Principal,
    secret_key: str,
    *,
    courier_id: str,
    name: str,
    now: datetime | None = None,
) -> tuple[Courier, str]:
    """A courier of this carrier and its app key (shown once). Its kiosk codes reach every bank
    the carrier has accepted a share of; the courier or the carrier fetches them (``day_codes``)."""
    carrier = who.carrier
    with transaction(engine) as s:
        if s.get(Courier, courier_id) is not None:
            raise Conflict(f"courier {courier_id} exists")
        courier = Courier(id=courier_id, carrier_id=carrier, name=name)
        s.add(courier)
        s.flush()
        for share in _accepted(s, carrier):
            timezone = _timezone(s, share.bank_id)
            days = _days_until(share.codes_through, timezone, now or utcnow())
            _push_days(s, courier, share.bank_id, days, timezone=timezone, now=now)
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
        now = utcnow()
        for key in s.exec(select(ApiKey).where(ApiKey.courier_id == courier_id)):
            if is_live(key, now):
                end_key(s, key, now)
                audit(s, who, "revoke_key", key.id, role=key.role, label=key.label)
        for bank_id in served_banks(s, courier.carrier_id):
            enqueue_command(s, bank_id, contract.CourierRevoke(courier_id=courier_id), who=who)
        audit(s, who, "revoke_courier", courier_id)
        return courier


def served_banks(s: Session, carrier_id: str) -> list[str]:
    """Banks whose share the carrier accepted: where its couriers' codes are sent."""
    return sorted(p.bank_id for p in _accepted(s, carrier_id))


def _accepted(s: Session, carrier_id: str) -> list[SharingPolicy]:
    query = select(SharingPolicy).where(
        SharingPolicy.carrier_id == carrier_id, SharingPolicy.state == ShareState.ACCEPTED
    )
    return list(s.exec(query))


def _timezone(s: Session, bank_id: str) -> str:
    """The time zone of the bank's site, whose midnight changes couriers' codes."""
    site = s.exec(select(Site).join(Bank).where(Bank.id == bank_id)).one()
    return site.timezone


def _days_until(through: date | None, timezone: str, now: datetime) -> list[date]:
    """The code window at ``now``, but not past the days the bank already has for the others."""
    days = courier_codes.window(now, timezone)
    return [d for d in days if through is None or d <= through] or days[:1]


def _push_days(
    s: Session,
    courier: Courier,
    bank_id: str,
    days: list[date],
    *,
    timezone: str,
    now: datetime | None,
) -> None:
    """Order ``bank_id`` the courier's codes for ``days``; they are derived as the command
    leaves (``commands.due``), so the order holds none."""
    order = courier_codes.CourierPushOrder(
        courier_id=courier.id,
        carrier_id=courier.carrier_id,
        name=courier.name,
        days=days,
        timezone=timezone,
    )
    enqueue_command(s, bank_id, order, now=now)


def _push_all(s: Session, share: SharingPolicy, now: datetime) -> None:
    """Every active courier's codes for the window at ``now``, to the share's bank; the next
    window is due when the bank's local day ends."""
    timezone = _timezone(s, share.bank_id)
    days = courier_codes.window(now, timezone)
    active = select(Courier).where(Courier.carrier_id == share.carrier_id, col(Courier.active))
    for courier in s.exec(active.order_by(col(Courier.id))):
        _push_days(s, courier, share.bank_id, days, timezone=timezone, now=now)
    share.codes_through = days[-1]
    share.refresh_at = day_bounds(days[0], timezone)[1]
    s.add(share)


def refresh_codes(engine: Engine, now: datetime | None = None) -> int:
    """Each day: send every accepted share's bank its couriers' codes for the days ahead, once
    the bank's local day has ended; how many shares were refreshed. Safe to run from several
    processes (a share refreshed twice sends the same codes twice)."""
    now = now or utcnow()
    with transaction(engine) as s:
        query = select(SharingPolicy).where(
            SharingPolicy.state == ShareState.ACCEPTED,
            or_(col(SharingPolicy.refresh_at).is_(None), col(SharingPolicy.refresh_at) <= now),
        )
        stale = list(s.exec(query))
        for share in stale:
            _push_all(s, share, now)
        return len(stale)


# --- shares: offered by operators, accepted or withdrawn by carriers ------------------------


def shares(engine: Engine, who: Principal) -> list[SharingPolicy]:
    carrier = who.carrier
    with transaction(engine) as s:
        query = select(SharingPolicy).where(SharingPolicy.carrier_id == carrier)
        return list(s.exec(query.order_by(col(SharingPolicy.bank_id))))


def _own_share(s: Session, who: Principal, bank_id: str) -> SharingPolicy:
    share = s.get(SharingPolicy, (bank_id, who.carrier))
    if share is None:
        raise NotFound("no share of this bank was offered to you")
    return share


def accept_share(
    engine: Engine, who: Principal, bank_id: str, now: datetime | None = None
) -> SharingPolicy:
    """The carrier accepts the operator's offer: its policy and its couriers' codes go to the
    bank. Accepting an accepted share changes nothing."""
    with transaction(engine) as s:
        share = _own_share(s, who, bank_id)
        if share.state == ShareState.ACCEPTED:
            return share
        share.state = SHARE.step(share.state, ShareState.ACCEPTED)
        audit(s, who, "accept_share", f"{bank_id}/{share.carrier_id}")
        policy = contract.PolicyPush(
            carrier_id=share.carrier_id, guaranteed=share.guaranteed, ceiling=share.ceiling
        )
        now = now or utcnow()
        enqueue_command(s, bank_id, policy, who=who, now=now)
        _push_all(s, share, now)
        return share


def withdraw_share(engine: Engine, who: Principal, bank_id: str) -> SharingPolicy:
    """The carrier declines an offer, or withdraws an accepted share: the bank drops the
    carrier's couriers' codes, its policy, reservations and announcements there."""
    with transaction(engine) as s:
        share = _own_share(s, who, bank_id)
        was = share.state
        if was == ShareState.ACCEPTED:
            share.state = SHARE.step(was, ShareState.WITHDRAWN)
            withdraw = contract.CarrierWithdraw(carrier_id=share.carrier_id)
            enqueue_command(s, bank_id, withdraw, who=who)
            end_withdrawn(s, who, bank_id, share.carrier_id)
        elif was == ShareState.OFFERED:
            share.state = SHARE.step(was, ShareState.DECLINED)
        share.codes_through = None
        s.add(share)
        audit(s, who, "withdraw_share", f"{bank_id}/{share.carrier_id}", was=was)
        return share


# --- the day's codes, for the courier or its carrier -------------------------------------------


def day_codes(
    engine: Engine,
    who: Principal,
    secret_key: str,
    bank_id: str,
    day: date | None = None,
    *,
    now: datetime | None = None,
) -> list[CourierCodePublic]:
    """The codes that open ``bank_id`` on ``day`` (default the bank's local today; at most the
    days the bank was sent): a carrier's for each of its active couriers, a courier's for
    itself."""
    who.require(Role.CARRIER, Role.COURIER)
    with transaction(engine) as s:
        share = s.get(SharingPolicy, (bank_id, str(who.carrier_id)))
        if share is None or share.state != ShareState.ACCEPTED:
            raise NotFound("no accepted share of this bank")
        window = courier_codes.window(now or utcnow(), _timezone(s, bank_id))
        day = day or window[0]
        if day not in window:
            raise Invalid(f"codes are given for {window[0]} to {window[-1]}")
        query = select(Courier).where(Courier.carrier_id == who.carrier_id, col(Courier.active))
        if who.role is Role.COURIER:
            query = query.where(Courier.id == who.courier_id)
        found = list(s.exec(query.order_by(col(Courier.id))))
    return [
        CourierCodePublic(
            courier_id=c.id,
            bank_id=bank_id,
            day=day,
            code=courier_codes.code(secret_key, c.id, bank_id, day),
        )
        for c in found
    ]


def courier_self(engine: Engine, who: Principal) -> tuple[Courier, list[Parcel]]:
    """A courier's own record and the parcels it deposited."""
    who.require(Role.COURIER)
    with transaction(engine) as s:
        courier = s.get(Courier, str(who.courier_id))
        if courier is None:
            raise NotFound("no such courier")
        mine = select(Parcel).where(Parcel.courier_id == courier.id)
        return courier, list(s.exec(mine.order_by(col(Parcel.created_at))))
