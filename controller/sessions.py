"""Courier sessions at the kiosk, shared by the JSON API (bearer token) and the pages (cookie).

Kept in memory: a restart signs every courier out, which is the safe side.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from controller.errors import NotAllowed
from controller.flows import CourierIdentity

SESSION_COOKIE = "kiosk_session"


@dataclass
class _Session:
    courier: CourierIdentity
    seen: float


class Sessions:
    """Tokens to couriers, each ending after ``timeout_s`` without use."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._by_token: dict[str, _Session] = {}

    def open(self, courier: CourierIdentity) -> str:
        token = secrets.token_urlsafe(24)
        self._by_token[token] = _Session(courier, time.monotonic())
        return token

    def courier(self, token: str) -> CourierIdentity:
        session = self._by_token.get(token)
        now = time.monotonic()
        if session is None or now - session.seen > self.timeout_s:
            self._by_token.pop(token, None)
            raise NotAllowed("your session has ended; sign in again")
        session.seen = now
        return session.courier

    def close(self, token: str) -> None:
        self._by_token.pop(token, None)
