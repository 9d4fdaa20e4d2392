"""Sign-in throttling, per e-mail address and per client address, in the database (so every
worker and process sees it).

The ramp is the edge's idea for courier PINs (``controller/throttle.py``): an allowance of
failures, then a lockout that doubles with each further failure, up to a ceiling. A success
clears the e-mail's ramp only: an address keeps its own until it has been quiet for ``QUIET``, so
signing in to one's own account between guesses at others' buys nothing. Scopes name the address
by a keyed hash, never the address itself. An attempt is counted as a failure before its
password is checked, in the transaction that reads the lockout (``attempt``), and taken back if
it succeeds: guesses sent together cannot all pass one check before any is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

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


def attempt(s: Session, scopes: list[tuple[str, Ramp]], now: datetime) -> float:
    """Seconds until every scope may try again (nothing counted); else 0, and this attempt
    counted now as a failure of each scope, its rows locked meanwhile, so that guesses sent
    all at once see each other (a success then takes it back: ``cleared``, ``refund``)."""
    rows = [(_row(s, scope), ramp) for scope, ramp in scopes]
    waits = [(aware(r.locked_until) - now).total_seconds() for r, _ in rows if r.locked_until]
    wait = max([0.0, *waits])
    if wait <= 0:
        for row, ramp in rows:
            _count(s, row, ramp, now)
    return wait


def refund(s: Session, scope: str, ramp: Ramp) -> None:
    """An attempt counted beforehand that succeeded: one failure fewer (a lockout it set stays
    only if the failures before it had reached the allowance already)."""
    row = _row(s, scope)
    row.failures = max(0, row.failures - 1)
    if row.failures < ramp.allowance:
        row.lockout_s, row.locked_until = 0.0, None
    s.add(row)


def _count(s: Session, row: SignInThrottle, ramp: Ramp, now: datetime) -> None:
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
