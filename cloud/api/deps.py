"""Dependencies: the database engine, settings, the clock, and the calling principal
(rate-limited)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic import AfterValidator
from sqlalchemy import Engine

from cloud.clock import Clock, SystemClock
from cloud.core.config import Settings
from cloud.services.auth import Principal, authenticate
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


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def current_principal(
    request: Request,
    authorization: Annotated[
        str, Header(description="Bearer <API key>", max_length=256), AfterValidator(check_text)
    ] = "",
) -> Principal:
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Unauthorized("send Authorization: Bearer <API key>")
    now = get_clock(request).now()
    principal = authenticate(get_engine(request), get_settings(request).secret_key, key, now)
    get_limiter(request).take(principal.key_id)
    return principal


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
ClockDep = Annotated[Clock, Depends(get_clock)]
