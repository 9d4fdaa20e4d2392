"""Dependencies: the database engine, settings, the clock, and the calling principal
(rate-limited)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from pydantic import AfterValidator
from sqlalchemy import Engine
from sqlmodel import Session

from cloud.clock import Clock, SystemClock
from cloud.core.config import Settings
from cloud.services.auth import Principal, authenticate, authenticate_in
from cloud.services.errors import RateLimited, Unauthorized
from locker_contract.text import check_text


@dataclass
class RateLimiter:
    """A token bucket per API key, per worker process (each worker enforces the rate alone)."""

    per_minute: int
    clock: Clock = field(default_factory=SystemClock)
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key_id: str) -> None:
        now = self.clock.monotonic()
        tokens, last = self._buckets.get(key_id, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - last) * self.per_minute / 60)
        if tokens < 1:
            wait = (1 - tokens) * 60 / self.per_minute
            raise RateLimited("too many requests for this key", retry_after_s=round(wait, 2))
        self._buckets[key_id] = (tokens - 1, now)

    def inherit(self, old_key_id: str, new_key_id: str) -> None:
        """A rotated key's successor takes over its bucket: rotating is no way to a fresh one."""
        if old_key_id in self._buckets:
            self._buckets[new_key_id] = self._buckets[old_key_id]


# The app's own objects are dependencies declared ``async``: FastAPI calls a plain ``def``
# dependency on a worker thread, a hand-off that costs more than reading an attribute
# (decision 0031). ``current_principal`` reads the database, so it stays on a thread.


def _state(request: Request) -> Any:
    return request.app.state


async def get_engine(request: Request) -> Engine:
    engine: Engine = _state(request).engine
    return engine


async def get_settings(request: Request) -> Settings:
    settings: Settings = _state(request).settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = _state(request).clock
    return clock


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = _state(request).limiter
    return limiter


@dataclass(frozen=True)
class Bearer:
    """The app's engine, settings and clock, and the API key as sent, not yet looked up: all a
    route needs in one dependency (FastAPI's cost per request grows with their number).
    ``principal`` reads the database, so it runs on a worker thread: ``current_principal``'s,
    or the one thread of a route that does all its database work in one hand-off and one
    transaction (``POST /api/v1/reservations``)."""

    engine: Engine
    settings: Settings
    clock: Clock
    limiter: RateLimiter
    key: str

    def principal(self, s: Session | None = None) -> Principal:
        """The key's principal (``Unauthorized`` unless live), one request taken from its
        rate; looked up in ``s``'s transaction when given."""
        secret, now = self.settings.secret_key, self.clock.now()
        if s is None:
            principal = authenticate(self.engine, secret, self.key, now)
        else:
            principal = authenticate_in(s, secret, self.key, now)
        self.limiter.take(principal.key_id)
        return principal


async def bearer(
    request: Request,
    authorization: Annotated[
        str, Header(description="Bearer <API key>", max_length=256), AfterValidator(check_text)
    ] = "",
) -> Bearer:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("send Authorization: Bearer <API key>")
    state = _state(request)
    return Bearer(state.engine, state.settings, state.clock, state.limiter, key)


BearerDep = Annotated[Bearer, Depends(bearer)]


def current_principal(sent: BearerDep) -> Principal:
    return sent.principal()


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
ClockDep = Annotated[Clock, Depends(get_clock)]
