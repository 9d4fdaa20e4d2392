"""``locker cloud webhooks``: claims due deliveries, sends them, settles them. Several can run
(PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: ``BEGIN IMMEDIATE`` makes the claim atomic).

A delivery is due when its time has come, no worker holds its claim, its endpoint is active and
its circuit closed, and no earlier delivery of the same subject to the same endpoint is still
pending (ordered per parcel). A failure is retried with exponential backoff and jitter until
``Policy.window_s`` after the first attempt, then the delivery is dead (``replay`` revives it).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx2
from sqlalchemy import Engine, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from cloud.clock import Clock, SystemClock
from cloud.core.db import transaction
from cloud.webhooks import offline, reminders
from cloud.webhooks.config import Policy
from cloud.webhooks.keys import SealError, unseal
from cloud.webhooks.sender import Message, Outcome, new_client, send
from cloud.webhooks.tables import (
    DeliveryState,
    EndpointState,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from cloud.webhooks.targets import Network

log = logging.getLogger(__name__)
D = WebhookDelivery
PENDING = DeliveryState.PENDING


@dataclass(frozen=True)
class Job:
    delivery_id: str
    endpoint_id: str
    message: Message


def payload(event: WebhookEvent) -> str:
    """The body, as signed: Standard Webhooks' ``type``, ``timestamp`` and ``data``."""
    body = {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": {"event_id": event.id, **event.data},
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def secrets_of(endpoint: WebhookEndpoint, server_key: str, now: datetime) -> tuple[str, ...]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [unseal(server_key, endpoint.secret_sealed)]
    until = endpoint.previous_until
    if endpoint.previous_sealed is not None and until is not None and _aware(until) > now:
        found.append(unseal(server_key, endpoint.previous_sealed))
    return tuple(found)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def backoff(policy: Policy, attempts: int, rng: random.Random) -> float:
    """Seconds before the next attempt: doubled each time up to the cap, half of it jittered."""
    delay = min(policy.cap_s, policy.base_s * float(2 ** max(0, attempts - 1)))
    return delay / 2 + rng.uniform(0, delay / 2)


def _due(now: datetime, policy: Policy) -> Select[WebhookDelivery, WebhookEndpoint, WebhookEvent]:
    earlier = aliased(D)
    blocked = exists().where(
        col(earlier.endpoint_id) == col(D.endpoint_id),
        col(earlier.subject) == col(D.subject),
        col(earlier.event_seq) < col(D.event_seq),
        col(earlier.state) == PENDING,
    )
    return (
        select(D, WebhookEndpoint, WebhookEvent)
        .join(WebhookEndpoint, col(WebhookEndpoint.id) == col(D.endpoint_id))
        .join(WebhookEvent, col(WebhookEvent.seq) == col(D.event_seq))
        .where(
            D.state == PENDING,
            col(D.next_attempt_at) <= now,
            or_(col(D.claimed_until).is_(None), col(D.claimed_until) < now),
            WebhookEndpoint.state == EndpointState.ACTIVE,
            or_(col(WebhookEndpoint.open_until).is_(None), col(WebhookEndpoint.open_until) <= now),
            ~blocked,
        )
        .order_by(col(D.event_seq))
        .limit(policy.batch)
        .with_for_update(skip_locked=True, of=D)
    )


def claim(engine: Engine, server_key: str, now: datetime, policy: Policy) -> list[Job]:
    """Deliveries due at ``now``, claimed for ``policy.lease_s``; dead-letters the expired. One
    whose endpoint's secret this server's key does not open (the key changed, the endpoint not
    rotated since) is held for a lease and not sent; the others go."""
    with transaction(engine) as s:
        _bury_expired(s, now, policy)
        jobs, claimed, unreadable = [], [], set()
        lease = now + timedelta(seconds=policy.lease_s)
        for delivery, endpoint, event in s.exec(_due(now, policy)):
            claimed.append(delivery.id)  # an unreadable one too: it waits a lease, not in a batch
            try:
                secrets = secrets_of(endpoint, server_key, now)
            except SealError:
                unreadable.add(endpoint.id)
                continue
            message = Message(delivery.id, payload(event), endpoint.url, secrets)
            jobs.append(Job(delivery.id, endpoint.id, message))
        for endpoint_id in sorted(unreadable):
            log.warning("webhook endpoint %s: secret sealed under another key; rotate", endpoint_id)
        if claimed:
            mine = col(D.id).in_(claimed)
            s.execute(update(D).where(mine).values(claimed_until=lease))
        return jobs


def _bury_expired(s: Session, now: datetime, policy: Policy) -> None:
    """Pending deliveries never attempted in the window (their endpoint disabled or its
    circuit open all along) are dead too."""
    limit = now - timedelta(seconds=policy.window_s)
    started = col(D.first_attempt_at)
    s.execute(
        update(D)
        .where(
            col(D.state) == PENDING,
            or_(started < limit, started.is_(None) & (col(D.next_attempt_at) < limit)),
            or_(col(D.claimed_until).is_(None), col(D.claimed_until) < now),
        )
        .values(state=DeliveryState.DEAD.value, settled_at=now, claimed_until=None)
    )


def settle(
    engine: Engine,
    results: Sequence[tuple[Job, Outcome]],
    now: datetime,
    policy: Policy,
    rng: random.Random,
) -> None:
    """Record each attempt's outcome; the endpoints' rows locked once, in id order (two
    senders settling the same endpoints wait for each other, never deadlock)."""
    with transaction(engine) as s:
        ids = sorted({job.endpoint_id for job, _ in results})
        locked = select(WebhookEndpoint).where(col(WebhookEndpoint.id).in_(ids))
        # FOR NO KEY UPDATE: ingest's new deliveries (their foreign key's KEY SHARE) never wait
        locked = locked.order_by(col(WebhookEndpoint.id)).with_for_update(key_share=True)
        endpoints = {e.id: e for e in s.exec(locked)}
        claimed = select(D).where(col(D.id).in_([job.delivery_id for job, _ in results]))
        deliveries = {d.id: d for d in s.exec(claimed)}
        for job, outcome in results:
            delivery = deliveries[job.delivery_id]
            if delivery.state != PENDING:
                continue  # settled meanwhile (an operator's replay of a lost claim)
            endpoint = endpoints[job.endpoint_id]
            _settle_one(delivery, endpoint, outcome, now=now, policy=policy, rng=rng)
            s.add(delivery)
        s.add_all(endpoints.values())


def _settle_one(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    outcome: Outcome,
    *,
    now: datetime,
    policy: Policy,
    rng: random.Random,
) -> None:
    delivery.attempts += 1
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_status, delivery.last_error = outcome.status, outcome.error
    delivery.claimed_until = None
    if outcome.ok:
        delivery.state, delivery.settled_at = DeliveryState.DELIVERED, now
        endpoint.failures, endpoint.open_until = 0, None
        return
    endpoint.failures += 1
    if endpoint.failures >= policy.breaker_after:
        endpoint.open_until = now + timedelta(seconds=policy.breaker_open_s)
        log.warning(
            "webhook endpoint %s: circuit open after %d failures", endpoint.id, endpoint.failures
        )
    if now - _aware(delivery.first_attempt_at) >= timedelta(seconds=policy.window_s):
        delivery.state, delivery.settled_at = DeliveryState.DEAD, now
        log.warning("webhook delivery %s dead after %d attempts", delivery.id, delivery.attempts)
        return
    delivery.next_attempt_at = now + timedelta(seconds=backoff(policy, delivery.attempts, rng))


@dataclass
class Worker:
    """One sender process's loop; ``step`` is one claim, send and settle."""

    engine: Engine
    server_key: str
    allowed: Sequence[Network] = ()
    policy: Policy = field(default_factory=Policy)
    clock: Clock = field(default_factory=SystemClock)
    rng: random.Random = field(default_factory=random.Random)
    client: httpx2.Client = field(default_factory=new_client)
    _next_sweep: float = float("-inf")
    _pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self._pool = ThreadPoolExecutor(self.policy.senders, thread_name_prefix="webhook-send")

    def close(self) -> None:
        self._pool.shutdown()
        self.client.close()

    def step(self) -> int:
        """Deliveries attempted."""
        if self.clock.monotonic() >= self._next_sweep:
            offline.sweep(self.engine, self.clock.now(), self.policy.offline_after_s)
            reminders.sweep(self.engine, self.clock.now(), self.policy.window_s)
            self._next_sweep = self.clock.monotonic() + self.policy.sweep_every_s
        jobs = claim(self.engine, self.server_key, self.clock.now(), self.policy)
        if not jobs:
            return 0
        outcomes = list(self._pool.map(self._attempt, jobs))
        settle(
            self.engine,
            list(zip(jobs, outcomes, strict=True)),
            self.clock.now(),
            self.policy,
            self.rng,
        )
        return len(jobs)

    def _attempt(self, job: Job) -> Outcome:
        return send(self.client, job.message, self.clock.now(), self.allowed, self.clock)

    def run(self, stop: threading.Event, poll_s: float) -> None:
        """Until ``stop`` is set: work while there is work, else wait ``poll_s``."""
        log.info("webhook sender started")
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception:
                log.exception("webhook sender step failed; retrying")
                busy = 0
            if not busy:
                stop.wait(poll_s)
        self.close()
