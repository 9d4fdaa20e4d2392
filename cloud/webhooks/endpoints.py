"""A carrier's webhook endpoints, managed by its own key: create (the secret shown once),
rotate with an overlap (both secrets sign until it ends), disable and enable, send a test ping,
read the delivery log, replay dead deliveries by id or time range. Every query is scoped to the
caller's carrier: another carrier's endpoint answers 404, as if absent."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.services.auth import Principal, audit
from cloud.services.errors import Conflict, Invalid, NotFound
from cloud.webhooks.events import SUBSCRIBABLE, Kind
from cloud.webhooks.keys import new_secret, seal
from cloud.webhooks.outbox import record
from cloud.webhooks.tables import (
    DeliveryState,
    EndpointState,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from cloud.webhooks.targets import check_url

MAX_OVERLAP_S = 7 * 24 * 3600.0  # a rotated secret signs beside the new one at most this long
LOG_MAX = 500  # deliveries listed at once
# a carrier's endpoints: each of its events writes one delivery per endpoint in the ingest's
# transaction, so their number is bounded (a carrier cannot make every batch carry thousands)
ENDPOINTS_MAX = 16


class EndpointPublic(BaseModel):
    id: str
    url: str
    events: list[str]
    state: EndpointState
    created_at: datetime
    previous_until: datetime | None  # the rotated secret signs until then
    failures: int
    open_until: datetime | None  # the circuit is open (no attempts) until then


class EndpointSecret(EndpointPublic):
    secret: str  # shown once: verify our signatures with it


class DeliveryPublic(BaseModel):
    id: str  # the webhook-id header of every attempt
    event_id: str
    type: str
    subject: str
    occurred_at: datetime
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    settled_at: datetime | None


def _public(endpoint: WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic.model_validate(endpoint, from_attributes=True)


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> EndpointSecret:
    return EndpointSecret(**_public(endpoint).model_dump(), secret=secret)


def _events(wanted: list[str]) -> list[str]:
    unknown = sorted(set(wanted) - set(SUBSCRIBABLE))
    if unknown:
        raise Invalid("unknown event types", unknown=unknown, choices=list(SUBSCRIBABLE))
    return sorted(set(wanted))


def _own(s: Session, who: Principal, endpoint_id: str) -> WebhookEndpoint:
    endpoint = s.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.carrier_id != who.carrier:
        raise NotFound("no such webhook endpoint")
    return endpoint


def create(
    engine: Engine,
    who: Principal,
    server_key: str,
    *,
    url: str,
    events: list[str],
    now: datetime,
) -> EndpointSecret:
    carrier = who.carrier
    secret = new_secret()
    with transaction(engine) as s:
        mine = select(func.count()).where(WebhookEndpoint.carrier_id == carrier)
        if s.exec(mine).one() >= ENDPOINTS_MAX:
            raise Conflict(f"at most {ENDPOINTS_MAX} endpoints: change or reuse one")
        endpoint = WebhookEndpoint(
            carrier_id=carrier,
            url=check_url(url),
            events=_events(events),
            secret_sealed=seal(server_key, secret),
            created_at=now,
        )
        s.add(endpoint)
        s.flush()
        audit(s, who, "webhook_create", endpoint.id, events=endpoint.events)
        return _with_secret(endpoint, secret)


def listed(engine: Engine, who: Principal) -> list[EndpointPublic]:
    with transaction(engine) as s:
        query = select(WebhookEndpoint).where(WebhookEndpoint.carrier_id == who.carrier)
        return [_public(e) for e in s.exec(query.order_by(col(WebhookEndpoint.created_at)))]


def update_endpoint(
    engine: Engine,
    who: Principal,
    endpoint_id: str,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    state: EndpointState | None = None,
) -> EndpointPublic:
    """Change the URL, the events wanted, or disable and enable again. A disabled endpoint is
    sent nothing: the deliveries it had wait (and die at the end of their window), and events
    while it is disabled are not queued for it (the tracking history keeps them)."""
    with transaction(engine) as s:
        endpoint = _own(s, who, endpoint_id)
        if url is not None:
            endpoint.url = check_url(url)
        if events is not None:
            endpoint.events = _events(events)
        if state is not None:
            endpoint.state = state
            endpoint.failures, endpoint.open_until = 0, None
        s.add(endpoint)
        audit(s, who, "webhook_update", endpoint.id, state=str(endpoint.state))
        return _public(endpoint)


def rotate(
    engine: Engine,
    who: Principal,
    server_key: str,
    endpoint_id: str,
    *,
    overlap_s: float,
    now: datetime,
) -> EndpointSecret:
    """A new secret, signing from now; the current one goes on signing beside it for
    ``overlap_s`` (0: it stops at once) while the carrier switches its receiver over."""
    if not 0 <= overlap_s <= MAX_OVERLAP_S:
        raise Invalid(f"the overlap is 0 to {MAX_OVERLAP_S:g} seconds")
    secret = new_secret()
    with transaction(engine) as s:
        endpoint = _own(s, who, endpoint_id)
        endpoint.previous_sealed = endpoint.secret_sealed if overlap_s else None
        endpoint.previous_until = now + timedelta(seconds=overlap_s) if overlap_s else None
        endpoint.secret_sealed = seal(server_key, secret)
        s.add(endpoint)
        audit(s, who, "webhook_rotate", endpoint.id, overlap_s=overlap_s)
        return _with_secret(endpoint, secret)


def ping(engine: Engine, who: Principal, endpoint_id: str, now: datetime) -> DeliveryPublic:
    """A ``webhook.ping`` to this endpoint alone, sent by the sender like any delivery."""
    with transaction(engine) as s:
        endpoint = _own(s, who, endpoint_id)
        event = record(
            s,
            Kind.PING,
            endpoint.carrier_id,
            f"ping:{endpoint.id}",
            at=now,
            now=now,
            data={"endpoint_id": endpoint.id},
            only=endpoint,
        )
        delivery = s.exec(
            select(WebhookDelivery).where(WebhookDelivery.event_seq == event.seq)
        ).one()
        return _delivery(delivery, event)


def _delivery(delivery: WebhookDelivery, event: WebhookEvent) -> DeliveryPublic:
    return DeliveryPublic(
        id=delivery.id,
        event_id=event.id,
        type=event.type,
        subject=delivery.subject,
        occurred_at=event.occurred_at,
        state=delivery.state,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status=delivery.last_status,
        last_error=delivery.last_error,
        settled_at=delivery.settled_at,
    )


def deliveries(
    engine: Engine, who: Principal, endpoint_id: str, state: DeliveryState | None = None
) -> list[DeliveryPublic]:
    """The endpoint's delivery log, newest first (at most ``LOG_MAX``)."""
    with transaction(engine) as s:
        _own(s, who, endpoint_id)
        query = (
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, col(WebhookEvent.seq) == col(WebhookDelivery.event_seq))
            .where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        if state is not None:
            query = query.where(WebhookDelivery.state == state)
        query = query.order_by(col(WebhookDelivery.event_seq).desc()).limit(LOG_MAX)
        return [_delivery(d, e) for d, e in s.exec(query)]


def replay(
    engine: Engine,
    who: Principal,
    endpoint_id: str,
    now: datetime,
    *,
    delivery_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Dead deliveries of the endpoint sent again with their ids (one by id, or those whose
    events happened in [since, until)); how many. Each gets a fresh retry window."""
    if delivery_id is None and since is None:
        raise Invalid("name a delivery id, or a time range (since, and until if you like)")
    with transaction(engine) as s:
        _own(s, who, endpoint_id)
        events = select(WebhookEvent.seq)
        if since is not None:
            events = events.where(col(WebhookEvent.occurred_at) >= since)
        if until is not None:
            events = events.where(col(WebhookEvent.occurred_at) < until)
        query = update(WebhookDelivery).where(
            col(WebhookDelivery.endpoint_id) == endpoint_id,
            col(WebhookDelivery.state) == DeliveryState.DEAD.value,
            col(WebhookDelivery.event_seq).in_(events),
        )
        if delivery_id is not None:
            query = query.where(col(WebhookDelivery.id) == delivery_id)
        revived = s.exec(
            query.values(
                state=DeliveryState.PENDING.value,
                attempts=0,
                first_attempt_at=None,
                next_attempt_at=now,
                settled_at=None,
                claimed_until=None,
            )
        )
        count = int(revived.rowcount)
        audit(s, who, "webhook_replay", endpoint_id, deliveries=count, id=delivery_id)
        return count
