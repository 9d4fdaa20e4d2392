"""Endpoints' signing secrets: new ones in the Standard Webhooks form (``whsec_`` and base64),
kept sealed at rest under a key derived from the server's secret key (``LOCKER_CLOUD_SECRET_KEY``,
which lives in the environment, never in the database): a leaked database alone signs nothing.

Changing the server's secret key makes the sealed secrets unreadable: rotate every endpoint's
secret after it (``POST /api/v1/webhooks/{id}/rotate``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64 random bytes
_CONTEXT = b"smartlocker webhook secrets v1"


class SealError(Exception):
    """A sealed secret that this server's key does not open."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _box(server_key: str) -> SecretBox:
    key = hashlib.blake2b(server_key.encode(), key=_CONTEXT, digest_size=32).digest()
    return SecretBox(key)


def seal(server_key: str, secret: str) -> str:
    return base64.b64encode(_box(server_key).encrypt(secret.encode())).decode()


def unseal(server_key: str, sealed: str) -> str:
    try:
        return _box(server_key).decrypt(base64.b64decode(sealed)).decode()
    except (CryptoError, ValueError) as exc:
        raise SealError("a webhook secret sealed under another server key") from exc
