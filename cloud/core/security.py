"""API keys: random, shown once, stored as HMAC-SHA256 under the server's secret key.

A leaked database alone does not let anyone check a guessed key offline: the secret key lives in
the environment, never in the database or the repository.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from locker_contract.credentials import new_salt, pin_verifier

__all__ = ["key_hash", "new_api_key", "new_salt", "pin_verifier"]

KEY_PREFIX = "lk_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_hash(secret_key: str, api_key: str) -> str:
    return hmac.new(secret_key.encode(), api_key.encode(), hashlib.sha256).hexdigest()
