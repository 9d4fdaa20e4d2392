"""The carriers' webhook, tracking and returns routes: parse, call one service, serialise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from cloud.api.deps import ClockDep, CurrentPrincipal, EngineDep, SettingsDep
from cloud.api.routes import ERRORS
from cloud.webhooks import endpoints, tracking
from cloud.webhooks.endpoints import MAX_OVERLAP_S, DeliveryPublic, EndpointPublic, EndpointSecret
from cloud.webhooks.tables import DeliveryState, EndpointState
from cloud.webhooks.targets import URL_MAX
from locker_contract.text import Text, check_text

router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["carriers"])

Url = Annotated[str, Field(max_length=URL_MAX), AfterValidator(check_text)]
EventTypes = Annotated[list[Text], Field(max_length=32)]


class EndpointCreate(BaseModel):
    url: Url
    events: EventTypes = []  # none: every event


class EndpointChange(BaseModel):
    url: Url | None = None
    events: EventTypes | None = None
    state: EndpointState | None = None


class Rotation(BaseModel):
    overlap_s: Annotated[float, Field(ge=0, le=MAX_OVERLAP_S, allow_inf_nan=False)] = 86400.0


class Replay(BaseModel):
    delivery_id: Text | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class Replayed(BaseModel):
    replayed: int


@router.post("/webhooks", status_code=201)
def create_endpoint(
    body: EndpointCreate,
    engine: EngineDep,
    settings: SettingsDep,
    who: CurrentPrincipal,
    clock: ClockDep,
) -> EndpointSecret:
    """An endpoint for your events; its signing secret is shown this once."""
    return endpoints.create(
        engine, who, settings.secret_key, url=body.url, events=body.events, now=clock.now()
    )


@router.get("/webhooks")
def list_endpoints(engine: EngineDep, who: CurrentPrincipal) -> list[EndpointPublic]:
    return endpoints.listed(engine, who)


@router.patch("/webhooks/{endpoint_id}")
def change_endpoint(
    endpoint_id: Text, body: EndpointChange, engine: EngineDep, who: CurrentPrincipal
) -> EndpointPublic:
    """Change the URL or the events wanted; ``state: disabled`` stops sending."""
    return endpoints.update_endpoint(
        engine, who, endpoint_id, url=body.url, events=body.events, state=body.state
    )


@router.post("/webhooks/{endpoint_id}/rotate")
def rotate_secret(
    *,
    endpoint_id: Text,
    body: Rotation,
    engine: EngineDep,
    settings: SettingsDep,
    who: CurrentPrincipal,
    clock: ClockDep,
) -> EndpointSecret:
    """A new secret (shown once); the old one signs beside it for ``overlap_s``."""
    key = settings.secret_key
    return endpoints.rotate(
        engine, who, key, endpoint_id, overlap_s=body.overlap_s, now=clock.now()
    )


@router.post("/webhooks/{endpoint_id}/ping", status_code=202)
def ping_endpoint(
    endpoint_id: Text, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> DeliveryPublic:
    """Queue a ``webhook.ping``; its outcome shows in the delivery log."""
    return endpoints.ping(engine, who, endpoint_id, clock.now())


@router.get("/webhooks/{endpoint_id}/deliveries")
def delivery_log(
    endpoint_id: Text,
    engine: EngineDep,
    who: CurrentPrincipal,
    state: DeliveryState | None = None,
) -> list[DeliveryPublic]:
    return endpoints.deliveries(engine, who, endpoint_id, state)


@router.post("/webhooks/{endpoint_id}/replay")
def replay_dead(
    endpoint_id: Text, body: Replay, engine: EngineDep, who: CurrentPrincipal, clock: ClockDep
) -> Replayed:
    """Send dead deliveries again, with their ids: one by id, or a range of event times."""
    count = endpoints.replay(
        engine,
        who,
        endpoint_id,
        clock.now(),
        delivery_id=body.delivery_id,
        since=body.since,
        until=body.until,
    )
    return Replayed(replayed=count)


@router.get("/tracking/{waybill}")
def tracking_history(
    waybill: Text, engine: EngineDep, who: CurrentPrincipal
) -> list[tracking.TrackingEntry]:
    """A parcel's events, at the bank's time, in our words and the national codes."""
    return tracking.history(engine, who, waybill)


@router.get("/returns")
def returns_to_collect(engine: EngineDep, who: CurrentPrincipal) -> list[tracking.ReturnPublic]:
    """Your parcels waiting to be collected (refused or expired): which bank, which door."""
    return tracking.returns(engine, who)


__all__ = ["router"]
