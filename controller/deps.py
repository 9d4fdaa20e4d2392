"""Dependencies of the kiosk API and pages: what ``controller.api.create_app`` keeps in
``app.state`` (the daemon with its config, flows and store; the sessions; the metrics), and the
caller (a signed-in courier, the throttle's source), read per request as ``Annotated`` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from prometheus_client import CollectorRegistry

from controller.config import EdgeConfig
from controller.daemon import Edge
from controller.errors import NotAllowed
from controller.flows import CourierIdentity, Flows
from controller.sessions import SESSION_COOKIE, PickupSessions, Sessions
from controller.throttle import source_for


@dataclass(frozen=True)
class KioskState:
    """What the app keeps for every request, in ``app.state.kiosk``."""

    edge: Edge
    sessions: Sessions
    pickups: PickupSessions
    metrics: CollectorRegistry


def get_state(request: Request) -> KioskState:
    state: KioskState = request.app.state.kiosk
    return state


StateDep = Annotated[KioskState, Depends(get_state)]


def get_edge(state: StateDep) -> Edge:
    return state.edge


def get_config(state: StateDep) -> EdgeConfig:
    return state.edge.config


def get_flows(state: StateDep) -> Flows:
    return state.edge.flows


def get_sessions(state: StateDep) -> Sessions:
    return state.sessions


def get_pickups(state: StateDep) -> PickupSessions:
    return state.pickups


EdgeDep = Annotated[Edge, Depends(get_edge)]
ConfigDep = Annotated[EdgeConfig, Depends(get_config)]
FlowsDep = Annotated[Flows, Depends(get_flows)]
SessionsDep = Annotated[Sessions, Depends(get_sessions)]
PickupsDep = Annotated[PickupSessions, Depends(get_pickups)]


def request_source(request: Request, config: ConfigDep) -> str:
    """The throttle's source for this request: the kiosk's own screen, or the network."""
    host = request.client.host if request.client is not None else None
    return source_for(host, config.policy.kiosk_terminals)


def current_courier(
    request: Request,
    sessions: SessionsDep,
    flows: FlowsDep,
    authorization: Annotated[str, Header()] = "",
) -> CourierIdentity:
    """The signed-in courier: a bearer token (API clients) or the kiosk's session cookie."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise NotAllowed("sign in first")
    return _still_signed_in(sessions, flows, token)


def page_courier(
    request: Request, sessions: SessionsDep, flows: FlowsDep
) -> CourierIdentity | None:
    """The courier signed in at the kiosk's screen (its session cookie), or nobody."""
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        return _still_signed_in(sessions, flows, token) if token else None
    except NotAllowed:
        return None


def _still_signed_in(sessions: Sessions, flows: Flows, token: str) -> CourierIdentity:
    courier = sessions.courier(token)
    if not flows.couriers.still_valid(courier):
        sessions.close(token)
        raise NotAllowed("your sign-in is no longer valid; sign in again")
    return courier


SourceDep = Annotated[str, Depends(request_source)]
CourierDep = Annotated[CourierIdentity, Depends(current_courier)]
PageCourierDep = Annotated[CourierIdentity | None, Depends(page_courier)]
