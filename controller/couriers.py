"""Checking a courier's credential at the kiosk: the same work for every answer.

A courier signs in with a local PIN (``locker edge couriers add``) or with the day's code the
cloud derived for this bank (``CourierCode``). Whatever the id names (a courier, a revoked or
expired one, nobody), exactly one scrypt runs, against a dummy verifier when there is nothing
real to check: the time of an answer does not tell whether an id exists. Nor does the throttle:
every id, known or not, is counted in one of ``SCOPE_BUCKETS`` buckets chosen by a keyed hash of
the id, so the tries left and the lockouts a guesser sees are the same for a real id and a
made-up one, and made-up ids cannot grow the throttle table past ``SCOPE_BUCKETS`` rows.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from sqlmodel import Session, select

from controller import codes
from controller.store import Courier, CourierCode
from locker_contract.credentials import DUMMY_SALT

COURIER_ID_MAX = 64  # longer ids are nobody's: never looked up, never a throttle row of their own
PIN_MAX = 64  # what is hashed of a typed PIN or code; longer ones are wrong anyway
SCOPE_HEX = 3  # hex digits of the keyed hash that name a throttle bucket
SCOPE_BUCKETS = 16**SCOPE_HEX  # 4,096 rows at most, whatever ids are typed


def lookup(s: Session, courier_id: str) -> Courier | None:
    if len(courier_id) > COURIER_ID_MAX:
        return None
    return s.get(Courier, courier_id)


def scope(key: bytes, courier_id: str) -> str:
    """The throttle bucket of ``courier_id``, whether or not this bank knows it."""
    typed = courier_id.encode("utf-8", "surrogatepass")
    return "pin:" + hmac.new(key, typed, hashlib.sha256).hexdigest()[:SCOPE_HEX]


def still_valid(s: Session, courier_id: str, now: datetime) -> bool:
    """May a courier signed in earlier go on? Not once revoked, withdrawn with its carrier
    (its row is gone) or, for a PIN given at this bank, past its expiry."""
    courier = lookup(s, courier_id)
    if courier is None or courier.revoked:
        return False
    return not courier.pin_hash or _aware(courier.expires_at) > now


def matches(s: Session, key: bytes, courier: Courier | None, pin: str, now: datetime) -> bool:
    """Does ``pin`` open ``courier``'s credential at ``now``? One scrypt in every case."""
    salt, stored = _expected(s, courier, now)
    ok = codes.pin_matches(key, pin[:PIN_MAX], salt, stored)
    return ok and len(pin) <= PIN_MAX and stored != ""


def _expected(s: Session, courier: Courier | None, now: datetime) -> tuple[str, str]:
    """The salt and keyed verifier to check against; ``(DUMMY_SALT, "")`` matches nothing."""
    if courier is None or courier.revoked:
        return DUMMY_SALT, ""
    if courier.pin_hash:  # a PIN added at this bank
        alive = courier.expires_at.replace(tzinfo=now.tzinfo) > now
        return (courier.salt, courier.pin_hash) if alive else (DUMMY_SALT, "")
    days = s.exec(select(CourierCode).where(CourierCode.courier_id == courier.id))
    today = [d for d in days if _aware(d.starts_at) <= now < _aware(d.ends_at)]
    return (today[0].salt, today[0].code_hash) if today else (DUMMY_SALT, "")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite gives back what UTC it was given
