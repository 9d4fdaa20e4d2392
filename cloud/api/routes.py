"""The cloud's HTTP routes: parse, call one service, serialise. No queries here."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator
from sqlalchemy import Engine

from cloud.api import schemas as api
from cloud.api.deps import (
    BearerDep,
    ClockDep,
    CurrentPrincipal,
    EngineDep,
    LimiterDep,
    SettingsDep,
)
from cloud.models import (
    Command,
    CommandAck,
    Courier,
    Parcel,
    QuarantinedEvent,
    Reservation,
    Role,
    SharingPolicy,
)
from cloud.services import allocation, carriers, fleet, keys, operations, quarantine, sites
from cloud.webhooks.tracking import labels_of
from locker_contract.text import Text, check_text

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": api.Problem} for code in (400, 401, 403, 404, 409, 429)
}
ERRORS[422] = {"model": api.Unprocessable}
router = APIRouter(prefix="/api/v1", responses=ERRORS)


def _reservations(
    engine: Engine, found: list[Reservation], known: dict[str, str] | None = None
) -> list[api.ReservationPublic]:
    """As the API shows them; their compartments' labels looked up (one query for the list)
    unless ``known``."""
    label = labels_of(engine, [r.compartment_id for r in found]) if known is None else known
    return [
        api.ReservationPublic.model_validate(r, from_attributes=True).model_copy(
            update={"compartment": label.get(r.compartment_id)}
        )
        for r in found
    ]


def _reservation(engine: Engine, r: Reservation, label: str | None = None) -> api.ReservationPublic:
    """``r`` as the API shows it; its compartment's label looked up unless given."""
    known = None if label is None else {r.compartment_id: label}
    return _reservations(engine, [r], known)[0]


def _parcels(engine: Engine, found: list[Parcel]) -> list[api.ParcelPublic]:
    label = labels_of(engine, [p.compartment_id for p in found])
    return [
        api.ParcelPublic.model_validate(p, from_attributes=True).model_copy(
            update={"compartment": label.get(p.compartment_id or "")}
        )
        for p in found
    ]


def _parcel(engine: Engine, p: Parcel) -> api.ParcelPublic:
    return _parcels(engine, [p])[0]


def _courier(c: Courier) -> api.CourierPublic:
    return api.CourierPublic.model_validate(c, from_attributes=True)


def _share(p: SharingPolicy) -> api.SharePublic:
    return api.SharePublic.model_validate(p, from_attributes=True)


# --- carriers -------------------------------------------------------------------------------


@router.get("/banks", tags=["carriers"])
def list_banks(engine: EngineDep, who: CurrentPrincipal) -> list[api.BankPublic]:
    """Shared banks with their free compartments by size and your standing at each."""
    return carriers.banks(engine, who)


REPLAY: dict[int | str, dict[str, object]] = {
    200: {"model": api.ReservationPublic, "description": "A replay of an Idempotency-Key"}
}


@router.post("/reservations", status_code=201, tags=["carriers"], responses=REPLAY)
async def create_reservation(
    *,
    body: api.ReservationCreate,
    response: Response,
    sent: BearerDep,
    idempotency_key: Annotated[
        str | None, Header(max_length=128), AfterValidator(check_text)
    ] = None,
) -> api.ReservationPublic:
    """Reserve the smallest free fitting compartment (upsizing when none); replays of the same
    ``Idempotency-Key`` answer 200 with the first result."""
    ttl_s = body.ttl_s or sent.settings.soft_reservation_ttl_s
    request = body.model_copy(update={"ttl_s": ttl_s})

    def reserve() -> tuple[bool, api.ReservationPublic]:
        """The key, the reservation and its answer in one hand-off to a worker thread, the key
        and the reservation in one transaction: the carriers' busiest route pays one thread
        switch, not three, and one transaction, not two (decision 0031)."""
        reservation, created, label = allocation.reserve(
            sent.engine, sent.principal, request, idempotency_key, now=sent.clock.now()
        )
        return created, _reservation(sent.engine, reservation, label)

    created, answer = await run_in_threadpool(reserve)
    if not created:
        response.status_code = 200
    return answer


@router.get("/reservations", tags=["carriers"])
def list_reservations(
    engine: EngineDep, who: CurrentPrincipal, state: Text | None = None
) -> list[api.ReservationPublic]:
    return _reservations(engine, allocation.list_own(engine, who, state))


@router.get("/reservations/{reservation_id}", tags=["carriers"])
def get_reservation(
    reservation_id: Text, engine: EngineDep, who: CurrentPrincipal
) -> api.ReservationPublic:
    return _reservation(engine, allocation.get(engine, who, reservation_id))


@router.delete("/reservations/{reservation_id}", tags=["carriers"])
def cancel_reservation(
    reservation_id: Text, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> api.ReservationPublic:
    return _reservation(engine, allocation.cancel(engine, who, reservation_id, clock.now()))


@router.post("/parcels", status_code=201, tags=["carriers"])
def announce_parcel(
    body: api.ParcelCreate, engine: EngineDep, who: CurrentPrincipal
) -> api.ParcelPublic:
    """Announce a parcel ahead, with the recipient's consent on record."""
    parcel = carriers.announce(
        engine,
        who,
        waybill=body.waybill,
        bank_id=body.bank_id,
        phone=body.recipient_phone,
        consent=body.consent,
        temperature_class=body.temperature_class,
    )
    return _parcel(engine, parcel)


@router.get("/parcels", tags=["carriers"])
def list_parcels(engine: EngineDep, who: CurrentPrincipal) -> list[api.ParcelPublic]:
    return _parcels(engine, carriers.parcels(engine, who))


@router.get("/parcels/{waybill}", tags=["carriers"])
def parcel_history(waybill: Text, engine: EngineDep, who: CurrentPrincipal) -> api.ParcelHistory:
    parcel, history = carriers.parcel_history(engine, who, waybill)
    events = [api.ParcelEventPublic.model_validate(e, from_attributes=True) for e in history]
    return api.ParcelHistory(**_parcel(engine, parcel).model_dump(), history=events)


@router.get("/couriers", tags=["carriers"])
def list_couriers(engine: EngineDep, who: CurrentPrincipal) -> list[api.CourierPublic]:
    return [_courier(c) for c in carriers.couriers(engine, who)]


@router.post("/couriers", status_code=201, tags=["carriers"])
def add_courier(
    body: api.CourierCreate,
    engine: EngineDep,
    settings: SettingsDep,
    who: CurrentPrincipal,
    clock: ClockDep,
) -> api.CourierCreated:
    """A courier; the answer carries its app key, shown this once. Its kiosk codes are derived
    per bank and per day: ``GET /banks/{bank_id}/courier-codes``."""
    courier, key = carriers.add_courier(
        engine, who, settings.secret_key, courier_id=body.id, name=body.name, now=clock.now()
    )
    return api.CourierCreated(**_courier(courier).model_dump(), api_key=key)


@router.get("/shares", tags=["carriers"])
def list_shares(engine: EngineDep, who: CurrentPrincipal) -> list[api.SharePublic]:
    """The shares of banks operators offered you, and whether you accepted them."""
    return [_share(p) for p in carriers.shares(engine, who)]


@router.post("/shares/{bank_id}/accept", tags=["carriers"])
def accept_share(
    bank_id: Text, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> api.SharePublic:
    """Accept an offered share: your policy and your couriers' codes go to the bank."""
    return _share(carriers.accept_share(engine, who, bank_id, clock.now()))


@router.post("/shares/{bank_id}/withdraw", tags=["carriers"])
def withdraw_share(bank_id: Text, engine: EngineDep, who: CurrentPrincipal) -> api.SharePublic:
    """Decline an offer, or withdraw an accepted share: the bank drops your couriers' codes."""
    return _share(carriers.withdraw_share(engine, who, bank_id))


@router.get("/banks/{bank_id}/courier-codes", tags=["carriers", "couriers"])
def courier_codes(
    *,
    bank_id: Text,
    engine: EngineDep,
    settings: SettingsDep,
    who: CurrentPrincipal,
    clock: ClockDep,
    day: date | None = None,
) -> list[api.CourierCodePublic]:
    """The day's kiosk codes at one bank (today unless ``day``, up to two days ahead): a
    carrier's for each of its couriers, a courier's for itself. Each opens that bank on that
    day only."""
    return carriers.day_codes(engine, who, settings.secret_key, bank_id, day, now=clock.now())


# --- couriers -------------------------------------------------------------------------------


@router.get("/courier/me", tags=["couriers"])
def courier_me(engine: EngineDep, who: CurrentPrincipal) -> api.CourierSelf:
    courier, parcels = carriers.courier_self(engine, who)
    return api.CourierSelf(
        **_courier(courier).model_dump(),
        carrier_id=courier.carrier_id,
        parcels=_parcels(engine, parcels),
    )


@router.delete("/couriers/{courier_id}", tags=["carriers"])
def revoke_courier(courier_id: Text, engine: EngineDep, who: CurrentPrincipal) -> api.CourierPublic:
    """Revoke a courier: its app key at once, its kiosk credential at each bank when reachable."""
    return _courier(carriers.revoke_courier(engine, who, courier_id))


# --- property managers ----------------------------------------------------------------------


@router.get("/sites/{site_id}/health", tags=["managers"])
def site_health(site_id: Text, engine: EngineDep, who: CurrentPrincipal) -> api.SiteHealth:
    site, health = sites.site_health(engine, who, site_id)
    return api.SiteHealth(site_id=site.id, name=site.name, banks=health)


# --- operators and admins -------------------------------------------------------------------


@router.post("/operators", status_code=201, tags=["admin"])
def create_operator(
    body: api.OperatorCreate, engine: EngineDep, settings: SettingsDep, who: CurrentPrincipal
) -> api.Created:
    operator, key = fleet.create_operator(engine, who, settings.secret_key, body.name)
    return api.Created(id=operator.id, api_key=key.key, key_id=key.id)


@router.post("/sites", status_code=201, tags=["admin"])
def create_site(body: api.SiteCreate, engine: EngineDep, who: CurrentPrincipal) -> api.Created:
    site = fleet.create_site(
        engine,
        who,
        name=body.name,
        lat=body.lat,
        lon=body.lon,
        address=body.address,
        operator_id=body.operator_id,
        timezone=body.timezone,
    )
    return api.Created(id=site.id)


@router.post("/banks", status_code=201, tags=["admin"])
def create_bank(body: api.BankCreate, engine: EngineDep, who: CurrentPrincipal) -> api.Created:
    bank = fleet.create_bank(
        engine,
        who,
        bank_id=body.id,
        site_id=body.site_id,
        name=body.name,
        compartments=body.compartments,
    )
    return api.Created(id=bank.id)


@router.post("/carriers", status_code=201, tags=["admin"])
def create_carrier(
    body: api.CarrierCreate, engine: EngineDep, settings: SettingsDep, who: CurrentPrincipal
) -> api.Created:
    key = fleet.create_carrier(engine, who, settings.secret_key, body.id, body.name)
    return api.Created(id=body.id, api_key=key.key, key_id=key.id)


@router.put("/banks/{bank_id}/policies/{carrier_id}", tags=["admin"])
def set_policy(
    bank_id: Text, carrier_id: Text, body: api.PolicySet, engine: EngineDep, who: CurrentPrincipal
) -> api.PolicySet:
    policy = fleet.set_policy(
        engine, who, bank_id, carrier_id, guaranteed=body.guaranteed, ceiling=body.ceiling
    )
    return api.PolicySet(guaranteed=policy.guaranteed, ceiling=policy.ceiling)


@router.post("/sites/{site_id}/manager-keys", status_code=201, tags=["admin"])
def create_manager_key(
    site_id: Text,
    body: api.ManagerKeyCreate,
    engine: EngineDep,
    settings: SettingsDep,
    who: CurrentPrincipal,
) -> api.Created:
    """A property manager's key for one site; ``id`` and ``key_id`` are the key's id."""
    key = fleet.create_manager_key(engine, who, settings.secret_key, site_id, body.label)
    return api.Created(id=key.id, api_key=key.key, key_id=key.id)


# --- API keys: every role's, listed, revoked and rotated by whoever manages them ------------


@router.get("/keys", tags=["keys"])
def list_keys(
    engine: EngineDep, who: CurrentPrincipal, clock: ClockDep, role: Role | None = None
) -> list[api.KeyPublic]:
    """The keys you manage (an admin: all; an operator: its own and its sites' managers'; a
    carrier: its own and its couriers'; any key: itself), never their secrets."""
    return keys.list_keys(engine, who, role, clock.now())


@router.delete("/keys/{key_id}", tags=["keys"])
def revoke_key(
    key_id: api.KeyId, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> api.KeyPublic:
    """Revoke a key: refused (401) from the next request on."""
    return keys.revoke(engine, who, key_id, clock.now())


@router.post("/keys/{key_id}/rotate", status_code=201, tags=["keys"])
def rotate_key(
    *,
    key_id: api.KeyId,
    body: api.KeyRotate,
    engine: EngineDep,
    settings: SettingsDep,
    who: CurrentPrincipal,
    limiter: LimiterDep,
    clock: ClockDep,
) -> api.KeyCreated:
    """A new key for the same role and scope (shown this once); the old one is revoked at once,
    or after ``overlap_s``. The new key goes on with the old one's request budget."""
    overlap_s, now = body.overlap_s, clock.now()
    rotated = keys.rotate(engine, who, settings.secret_key, key_id, overlap_s=overlap_s, now=now)
    limiter.inherit(key_id, rotated.new.id)
    return api.KeyCreated(**rotated.new.model_dump(), api_key=rotated.key)


# --- operating banks from afar: each a command the bank answers ----------------------------


def _command(command: Command, ack: CommandAck | None = None) -> api.CommandPublic:
    answer = {"outcome": ack.outcome, "detail": ack.detail} if ack else {}
    return api.CommandPublic.model_validate(
        command.model_dump(include=set(api.CommandPublic.model_fields)) | answer
    )


@router.post("/banks/{bank_id}/compartments/{label}/open", status_code=202, tags=["operators"])
def remote_open(
    bank_id: Text, label: Text, body: api.RemoteOpen, engine: EngineDep, who: CurrentPrincipal
) -> api.CommandPublic:
    """Open a door from afar, with a reason; audited here and in the bank's own events."""
    return _command(operations.remote_open(engine, who, bank_id, label, body.reason))


@router.put("/banks/{bank_id}/maintenance", status_code=202, tags=["operators"])
def set_maintenance(
    bank_id: Text, body: api.MaintenanceSet, engine: EngineDep, who: CurrentPrincipal
) -> api.CommandPublic:
    return _command(operations.set_maintenance(engine, who, bank_id, on=body.on))


@router.put("/banks/{bank_id}/compartments/{label}/service", status_code=202, tags=["operators"])
def set_service(
    bank_id: Text, label: Text, body: api.ServiceSet, engine: EngineDep, who: CurrentPrincipal
) -> api.CommandPublic:
    command = operations.set_service(
        engine, who, bank_id, label, in_service=body.in_service, reason=body.reason
    )
    return _command(command)


@router.post("/banks/{bank_id}/keypad/reenable", status_code=202, tags=["operators"])
def reenable_keypad(bank_id: Text, engine: EngineDep, who: CurrentPrincipal) -> api.CommandPublic:
    return _command(operations.reenable_keypad(engine, who, bank_id))


@router.get("/banks/{bank_id}/commands", tags=["operators"])
def list_commands(
    bank_id: Text, engine: EngineDep, who: CurrentPrincipal
) -> list[api.CommandPublic]:
    """The bank's latest 200 commands, newest first, with their outcomes."""
    return [_command(c, ack) for c, ack in operations.commands(engine, who, bank_id)]


# --- events the cloud set aside (decision 0009) ---------------------------------------------


def _quarantined(row: QuarantinedEvent) -> api.QuarantinedPublic:
    shown = row.model_dump(include=set(api.QuarantinedPublic.model_fields))
    return api.QuarantinedPublic.model_validate(shown | {"preview": quarantine.preview(row)})


@router.get("/banks/{bank_id}/quarantine", tags=["operators"])
def list_quarantine(
    bank_id: Text, engine: EngineDep, who: CurrentPrincipal
) -> list[api.QuarantinedPublic]:
    """The bank's events the cloud could not apply and set aside (held, released, dropped),
    newest first; the bank's stream went on past them."""
    return [_quarantined(row) for row in quarantine.held(engine, who, bank_id)]


@router.post("/banks/{bank_id}/quarantine/{event_id}/release", tags=["operators"])
def release_quarantined(
    *,
    bank_id: Text,
    event_id: Text,
    engine: EngineDep,
    who: CurrentPrincipal,
    clock: ClockDep,
    body: api.QuarantineRelease | None = None,
) -> api.QuarantinedPublic:
    """Apply a held event after a fix (optionally amended), then the later events of its parcel
    held behind it; 409 with why if it still cannot be applied."""
    amended = body.event if body is not None else None
    return _quarantined(
        quarantine.release(engine, who, bank_id, event_id, amended, now=clock.now())
    )


@router.post("/banks/{bank_id}/quarantine/{event_id}/drop", tags=["operators"])
def drop_quarantined(
    bank_id: Text, event_id: Text, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> api.QuarantinedPublic:
    """Give a held event up for good; its raw copy is erased."""
    return _quarantined(quarantine.drop(engine, who, bank_id, event_id, clock.now()))
