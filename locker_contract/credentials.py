"""The one PIN verifier both ends compute: scrypt over the PIN with a per-courier salt.

The cloud stores it for its couriers and pushes it to banks (``courier.push``); a bank keys it
once more with HMAC under its own bank key before storing it, so a bank's database alone is
not enough to test guesses offline. The PIN itself never travels.
"""

from __future__ import annotations

import hashlib
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~20 ms per PIN check: cheap once, slow to guess
SALT_BYTES = 16


def new_salt() -> str:
    return secrets.token_hex(SALT_BYTES)


def pin_verifier(pin: str, salt: str) -> str:
    """128 hex digits."""
    digest = hashlib.scrypt(
        pin.encode(), salt=bytes.fromhex(salt), n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
    )
    return digest.hex()
