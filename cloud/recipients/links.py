"""Signed, expiring links to a recipient's page: ``{base}/r/<token>[#<code>]``.

The token is 40 bytes in URL-safe base64 (54 characters): the pickup group's id (the edge's
``ParcelDeposited.group_id``, 16 bytes), the link's expiry (8 bytes, Unix seconds, big-endian)
and an HMAC-SHA256 over both, cut to 16 bytes, under a key derived from the cloud's secret key
for this purpose only. The pickup code never enters the token: the notifier, which opens it in
flight, puts it after ``#`` (the fragment), which browsers never send to a server (decision 0018).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from cloud.core.config import Settings
from cloud.services.errors import CloudError

PURPOSE = b"smartlocker/recipient-link/v1"
MAC_BYTES = 16
TOKEN_BYTES = 16 + 8 + MAC_BYTES
TOKEN_CHARS = 54  # base64 of 40 bytes, without padding
PATH = "/r/"


class LinkRefused(CloudError):
    """A link that is not ours or was altered (403)."""

    status = 403


class LinkExpired(CloudError):
    """A genuine link past its expiry (410)."""

    status = 410


@dataclass(frozen=True)
class Link:
    group_id: str
    expires_at: datetime


def link_key(secret_key: str) -> bytes:
    """The links' own key: a leaked link key tells nothing of the secret key's other uses."""
    return hmac.new(secret_key.encode(), PURPOSE, hashlib.sha256).digest()


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest()[:MAC_BYTES]


def make_token(secret_key: str, group_id: str, expires_at: datetime) -> str:
    body = uuid.UUID(group_id).bytes + struct.pack(">q", int(expires_at.timestamp()))
    raw = body + _mac(link_key(secret_key), body)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_token(secret_key: str, token: str, now: datetime) -> Link:
    """The link ``token`` names; ``LinkRefused`` if it is not one we signed (checked first, in
    constant time), ``LinkExpired`` if it is past its time."""
    raw = _decoded(token)
    body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(link_key(secret_key), body)):
        raise LinkRefused("this link is not valid")
    (expiry,) = struct.unpack(">q", body[16:])
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at:
        raise LinkExpired("this link has expired", expired_at=expires_at.isoformat())
    return Link(group_id=str(uuid.UUID(bytes=body[:16])), expires_at=expires_at)


def _decoded(token: str) -> bytes:
    if len(token) != TOKEN_CHARS or not token.isascii():
        return b"\0" * TOKEN_BYTES  # refused by its MAC, like any other forgery
    try:
        raw = base64.urlsafe_b64decode(token + "==")
    except (binascii.Error, ValueError):
        return b"\0" * TOKEN_BYTES
    return raw if len(raw) == TOKEN_BYTES else b"\0" * TOKEN_BYTES


def recipient_link(
    settings: Settings, group_id: str, expires_at: datetime, *, code: str | None = None
) -> str:
    """The link a message carries to the pickup group ``group_id`` until ``expires_at``. Give
    ``code`` (the opened pickup code, in flight) and it rides in the fragment, for the page's QR
    code; the server never receives it from there."""
    base = settings.recipient_base_url.rstrip("/")
    link = f"{base}{PATH}{make_token(settings.secret_key, group_id, expires_at)}"
    return f"{link}#{code}" if code else link
