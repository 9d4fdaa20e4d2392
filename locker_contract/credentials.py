"""Courier credentials, as both ends compute them.

**Per-bank, per-day codes** (decision 0010): the cloud derives a courier's code for one bank and
one day from a key only it holds (``day_code``); it stores no code and no verifier of one, and a
code learned at one bank opens no other bank and no other day. A bank receives, for a few days
ahead, only each day's ``pin_verifier`` (scrypt with a salt derived with the code), and keys it
once more with HMAC under its own bank key before storing it, so that its database alone is not
enough to test guesses offline.

**Local PINs** (``locker edge couriers add`` on a bank without a cloud) use the same verifier
with a random salt.

``DUMMY_SALT`` is what a kiosk checks an unknown courier's guess against: the same scrypt work as
a known courier's, so that the time of an answer tells nothing about whether an id exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~20 ms per PIN check: cheap once, slow to guess
SALT_BYTES = 16
COURIER_CODE_DIGITS = 8
DUMMY_SALT = "00" * SALT_BYTES  # no credential is ever salted with it (salts are random or HMACs)


def new_salt() -> str:
    return secrets.token_hex(SALT_BYTES)


def pin_verifier(pin: str, salt: str) -> str:
    """128 hex digits."""
    digest = hashlib.scrypt(
        pin.encode(), salt=bytes.fromhex(salt), n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
    )
    return digest.hex()


def _derive(key: bytes, purpose: str, courier_id: str, bank_id: str, day: date) -> bytes:
    # unit separators keep ("a", "b|c") and ("a|b", "c") apart
    message = "\x1f".join((purpose, courier_id, bank_id, day.isoformat())).encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def day_code(key: bytes, courier_id: str, bank_id: str, day: date) -> str:
    """The courier's kiosk code at ``bank_id`` on ``day``: 8 digits from an HMAC under ``key``
    (the modulo bias of 64 bits reduced to 10^8 is below 10^-11)."""
    number = int.from_bytes(_derive(key, "code", courier_id, bank_id, day)[:8], "big")
    return f"{number % 10**COURIER_CODE_DIGITS:0{COURIER_CODE_DIGITS}d}"


def day_salt(key: bytes, courier_id: str, bank_id: str, day: date) -> str:
    """The salt of that code's verifier: derived too, so a command sent twice is the same."""
    return _derive(key, "salt", courier_id, bank_id, day)[:SALT_BYTES].hex()


def code_day(at: datetime, timezone: str = "UTC") -> date:
    """The day a courier code belongs to at ``at``: the local date in the bank's site's time
    zone (an IANA name)."""
    return at.astimezone(ZoneInfo(timezone)).date()


def day_bounds(day: date, timezone: str = "UTC") -> tuple[datetime, datetime]:
    """When ``day`` begins and ends in ``timezone``, as instants in UTC: what a bank compares
    its clock with, without knowing the zone (a day of a clock change has 23 or 25 hours)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)
