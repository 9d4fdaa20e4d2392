"""Sessions at the kiosk, shared by the JSON API and the pages, kept in memory (a restart ends
them all, which is the safe side):

- courier sessions, by a bearer token (API) or a cookie (pages);
- pickup sessions: what one successful pickup opened, by a random token that refusing a parcel
  needs. Without it nobody can learn anything about a parcel's code by trying to refuse it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from controller.clock import Clock, SystemClock
from controller.errors import NotAllowed
from controller.flows import CourierIdentity

SESSION_COOKIE = "kiosk_session"


@dataclass
class _Session:
    courier: CourierIdentity
    seen: float


class Sessions:
    """Tokens to couriers, each ending after ``timeout_s`` without use on ``clock``."""

    def __init__(self, timeout_s: float, clock: Clock | None = None) -> None:
        self.timeout_s = timeout_s
        self.clock: Clock = clock or SystemClock()
        self._by_token: dict[str, _Session] = {}

    def open(self, courier: CourierIdentity) -> str:
        token = secrets.token_urlsafe(24)
        self._by_token[token] = _Session(courier, self.clock.monotonic())
        return token

    def courier(self, token: str) -> CourierIdentity:
        session = self._by_token.get(token)
        now = self.clock.monotonic()
        if session is None or now - session.seen > self.timeout_s:
            self._by_token.pop(token, None)
            raise NotAllowed("your session has ended; sign in again")
        session.seen = now
        return session.courier

    def close(self, token: str) -> None:
        self._by_token.pop(token, None)


PICKUP_SESSIONS_MAX = 1000  # far above the doors a bank can hold open within one session's life


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class _Pickup:
    parcels: frozenset[str]
    expires: float


class PickupSessions:
    """The parcels each successful pickup opened, for ``ttl_s`` on ``clock``'s monotonic time.
    Tokens are 192 random bits, kept only as their SHA-256."""

    def __init__(self, ttl_s: float, clock: Clock) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._by_digest: dict[str, _Pickup] = {}

    def open(self, parcel_ids: Iterable[str]) -> str:
        now = self.clock.monotonic()
        self._by_digest = {d: p for d, p in self._by_digest.items() if p.expires > now}
        while len(self._by_digest) >= PICKUP_SESSIONS_MAX:
            del self._by_digest[next(iter(self._by_digest))]  # the oldest
        token = secrets.token_urlsafe(24)
        self._by_digest[_digest(token)] = _Pickup(frozenset(parcel_ids), now + self.ttl_s)
        return token

    def parcels(self, token: str) -> frozenset[str]:
        """What ``token``'s pickup opened; nothing once it has expired or if it never was."""
        found = self._by_digest.get(_digest(token))
        if found is None or found.expires <= self.clock.monotonic():
            return frozenset()
        return found.parcels
