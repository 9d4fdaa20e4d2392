"""Console sessions: a random token in the cookie, its keyed hash in ``ConsoleSession``.

A session ends at the first of: its absolute expiry, ``idle_timeout_s`` without a request, or
its revocation (sign-out, a password change). Signing in always makes a new session (the old
cookie's, if any, is revoked): a token planted before sign-in is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from cloud.console.accounts.tables import ConsoleSession
from cloud.core.security import key_hash
from cloud.services.auth import aware

SESSION_LIFETIME = timedelta(hours=12)  # a working day, then sign in again
IDLE_TIMEOUT = timedelta(minutes=30)  # a console left open on a shared desk
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often
TOKEN_BYTES = 32


@dataclass(frozen=True)
class Opened:
    """A new session: its row's id and the token for the cookie (shown to the browser once)."""

    id: str
    token: str


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(secret_key: str, token: str) -> str:
    return key_hash(secret_key, "session:" + token)


def derived(secret_key: str, purpose: str, value: str) -> str:
    """A value bound to ``value`` (a session token) for one purpose, such as the CSRF token."""
    mac = hmac.new(secret_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256)
    return mac.hexdigest()


def open_session(s: Session, secret_key: str, person_id: str, now: datetime) -> Opened:
    token = new_token()
    row = ConsoleSession(
        token_hash=token_hash(secret_key, token),
        person_id=person_id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_LIFETIME,
        idle_timeout_s=int(IDLE_TIMEOUT.total_seconds()),
    )
    s.add(row)
    s.flush()
    return Opened(row.id, token)


def is_live(row: ConsoleSession, now: datetime) -> bool:
    idle_end = aware(row.last_seen_at) + timedelta(seconds=row.idle_timeout_s)
    return row.revoked_at is None and now < aware(row.expires_at) and now < idle_end


def live_session(
    s: Session, secret_key: str, token: str, now: datetime, *, touch: bool = True
) -> ConsoleSession | None:
    """The live session of ``token``, its last use moved to ``now`` when ``touch`` (a person's
    own request, not the page refreshing itself in the background); None if there is none."""
    row = s.exec(
        select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(secret_key, token))
    ).first()
    if row is None or not is_live(row, now):
        return None
    if touch and now - aware(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
        s.add(row)
    return row


def revoke(s: Session, secret_key: str, token: str, now: datetime) -> None:
    s.exec(
        update(ConsoleSession)
        .where(col(ConsoleSession.token_hash) == token_hash(secret_key, token))
        .where(col(ConsoleSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def revoke_all(s: Session, person_id: str, now: datetime) -> None:
    """Every session of a person (a new password, a person disabled)."""
    s.exec(
        update(ConsoleSession)
        .where(col(ConsoleSession.person_id) == person_id)
        .where(col(ConsoleSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
