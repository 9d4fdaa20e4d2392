"""Sign-in throttling, per e-mail address and per client address, in the database (so every
worker and process sees it).

The ramp is the edge's idea for courier PINs (``controller/throttle.py``): an allowance of
failures, then a lockout that doubles with each further failure, up to a ceiling. A success
clears the e-mail's ramp only: an address keeps its own until it has been quiet for ``QUIET``, so
signing in to one's own account between guesses at others' buys nothing. Scopes name the address
by a keyed hash, never the address itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from cloud.console.accounts.tables import SignInThrottle
from cloud.core.security import key_hash
from cloud.services.auth import aware


@dataclass(frozen=True)
class Ramp:
    allowance: int  # failures before the first lockout
    base_s: float  # the first lockout
    max_s: float  # the longest


EMAIL = Ramp(allowance=5, base_s=30.0, max_s=3600.0)
ADDRESS = Ramp(allowance=20, base_s=60.0, max_s=3600.0)  # a site's staff may share one address
QUIET = timedelta(hours=1)  # a scope this long without a failure starts afresh


def email_scope(secret_key: str, email: str) -> str:
    return "email:" + key_hash(secret_key, "throttle-email:" + email)


def address_scope(secret_key: str, address: str) -> str:
    return "addr:" + key_hash(secret_key, "throttle-addr:" + address)


def _row(s: Session, scope: str) -> SignInThrottle:
    """The scope's row, locked (made if missing; two makers at once do not collide)."""
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    s.exec(dialect.insert(SignInThrottle).values(scope=scope).on_conflict_do_nothing())
    query = select(SignInThrottle).where(SignInThrottle.scope == scope).with_for_update()
    return s.exec(query).one()


def retry_after(s: Session, scopes: list[str], now: datetime) -> float:
    """Seconds until every scope may try again; 0 when none is locked."""
    rows = s.exec(select(SignInThrottle).where(col(SignInThrottle.scope).in_(scopes))).all()
    waits = [(aware(r.locked_until) - now).total_seconds() for r in rows if r.locked_until]
    return max([0.0, *waits])


def failed(s: Session, scope: str, ramp: Ramp, now: datetime) -> None:
    row = _row(s, scope)
    if row.last_failure_at is not None and now - aware(row.last_failure_at) >= QUIET:
        row.failures, row.lockout_s = 0, 0.0
    row.failures += 1
    row.last_failure_at = now
    if row.failures >= ramp.allowance:
        row.lockout_s = min(ramp.max_s, row.lockout_s * 2 if row.lockout_s else ramp.base_s)
        row.locked_until = now + timedelta(seconds=row.lockout_s)
    s.add(row)


def cleared(s: Session, scope: str) -> None:
    row = s.get(SignInThrottle, scope)
    if row is not None:
        s.delete(row)
