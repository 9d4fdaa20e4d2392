"""Pickup codes and courier PINs: generated from a CSPRNG, stored only as keyed hashes.

The bank key (32 random bytes) is created on first start, readable by the daemon's user only, and
never leaves the bank. A pickup code is 8 digits; it is stored as HMAC-SHA256 under the bank key
and compared in constant time. A courier PIN is short, so it is stretched with scrypt, salted per
courier (``locker_contract.credentials``, as the cloud does), then keyed with HMAC under the bank
key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from locker_contract.credentials import new_salt, pin_verifier
from locker_contract.phones import normalize_phone

# the edge salts its couriers, and spells phones, as the cloud does
__all__ = ["new_salt", "normalize_phone", "pin_verifier"]

CODE_DIGITS = 8
KEY_BYTES = 32


def load_or_create_key(path: Path) -> bytes:
    """The bank key at ``path``, created with mode 0600 if it does not exist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(
                f"{path}: bank key must be {KEY_BYTES} bytes, found {len(key)}"
            ) from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalize_code(text: str) -> str:
    """Digits only: people type ``1234 5678`` or ``1234-5678`` as printed."""
    return "".join(ch for ch in text if ch.isdigit())


def code_hash(key: bytes, code: str) -> str:
    return hmac.new(key, normalize_code(code).encode(), hashlib.sha256).hexdigest()


def code_matches(key: bytes, code: str, stored: str) -> bool:
    return hmac.compare_digest(code_hash(key, code), stored)


def pin_record(key: bytes, verifier: str) -> str:
    """What the bank stores for a courier: the PIN verifier keyed under the bank key."""
    return hmac.new(key, bytes.fromhex(verifier), hashlib.sha256).hexdigest()


def pin_hash(key: bytes, pin: str, salt: str) -> str:
    return pin_record(key, pin_verifier(pin, salt))


def pin_matches(key: bytes, pin: str, salt: str, stored: str) -> bool:
    return hmac.compare_digest(pin_hash(key, pin, salt), stored)


def mask_phone(phone: str) -> str:
    """Show only the last 4 digits (at least 6 hidden on any real number)."""
    digits = [ch for ch in phone if ch.isdigit()]
    hidden = max(6, len(digits) - 4)
    return "*" * hidden + "".join(digits[hidden:])
