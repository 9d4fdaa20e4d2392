"""What the recipient page derives from the cloud's secret key, so that it stores none of it:
a share's code, each bank's salts, and the keyed hash a phone is stored under.

Every value is an HMAC-SHA256 under a key of its own purpose (``_key``), over fields joined by
a unit separator, as ``locker_contract.credentials`` derives couriers' codes.
"""

from __future__ import annotations

import hashlib
import hmac

from locker_contract.credentials import SALT_BYTES
from locker_contract.phones import normalize_phone

SHARE_DIGITS = 8  # as the bank's own codes: the kiosk's code entry takes exactly these


def _key(secret_key: str, purpose: str) -> bytes:
    return hmac.new(secret_key.encode(), f"smartlocker/{purpose}".encode(), hashlib.sha256).digest()


def _mac(secret_key: str, purpose: str, *fields: str) -> bytes:
    message = "\x1f".join(fields).encode()
    return hmac.new(_key(secret_key, purpose), message, hashlib.sha256).digest()


def share_code(secret_key: str, share_id: str) -> str:
    """The share's 8 digits (the modulo bias of 64 bits reduced to 10^8 is below 10^-11)."""
    number = int.from_bytes(_mac(secret_key, "share-code", share_id)[:8], "big")
    return f"{number % 10**SHARE_DIGITS:0{SHARE_DIGITS}d}"


def share_salt(secret_key: str, bank_id: str) -> str:
    """One salt per bank for its shared codes: the bank runs one scrypt per code typed."""
    return _mac(secret_key, "share-salt", bank_id)[:SALT_BYTES].hex()


def phone_salt(secret_key: str) -> str:
    """The fleet's salt for the phones of recipients who refused lockers: one scrypt for a
    refusal sent to every bank, and one per deposit at a bank."""
    return _mac(secret_key, "phone-salt")[:SALT_BYTES].hex()


def phone_hash(secret_key: str, phone: str) -> str:
    """What the cloud keys a recipient's consent by: never the number itself."""
    return _mac(secret_key, "phone-hash", normalize_phone(phone)).hex()
