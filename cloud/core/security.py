"""API keys: random, shown once, stored as HMAC-SHA256 under the server's secret key.

A leaked database alone does not let anyone check a guessed key offline: the secret key lives in
the environment, never in the database or the repository.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "lk_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(secret_key: str, api_key: str) -> str:
    return hmac.new(secret_key.encode(), api_key.encode(), hashlib.sha256).hexdigest()


def new_salt() -> str:
    return secrets.token_hex(16)


def pin_hash(pin: str, salt: str) -> str:
    return hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()
