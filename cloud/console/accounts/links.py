"""One-time links for an invitation (the first password) or a password reset.

The link is ``{base}/console/password#<token>``: the token rides in the fragment, which browsers
never send to a server, so no access log or proxy ever holds it (the page's form posts it). The
database keeps only the token's keyed hash. A link is used once, before its expiry; a new link
of the same purpose for a person voids the ones before it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from cloud.console.accounts.errors import LinkUnusable
from cloud.console.accounts.tables import LinkPurpose, OneTimeLink
from cloud.core.security import key_hash
from cloud.services.auth import aware

LINK_PATH = "/console/password"
LIFETIMES = {
    LinkPurpose.INVITE: timedelta(days=3),  # a new colleague may read it after a weekend
    LinkPurpose.RESET: timedelta(hours=1),
}
TOKEN_BYTES = 32
TOKEN_MAX = 64  # a longer token is no token of ours (base64 of 32 bytes: 43)


def token_hash(secret_key: str, token: str) -> str:
    return key_hash(secret_key, "link:" + token)


def url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}{LINK_PATH}#{token}"


def issue(s: Session, secret_key: str, person_id: str, purpose: LinkPurpose, now: datetime) -> str:
    """A new link's token (the only copy: shown or sealed at once, never stored)."""
    s.exec(
        update(OneTimeLink)
        .where(col(OneTimeLink.person_id) == person_id, col(OneTimeLink.purpose) == purpose)
        .where(col(OneTimeLink.used_at).is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(TOKEN_BYTES)
    s.add(
        OneTimeLink(
            token_hash=token_hash(secret_key, token),
            person_id=person_id,
            purpose=purpose,
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
        )
    )
    return token


def issued_since(s: Session, person_id: str, purpose: LinkPurpose, since: datetime) -> bool:
    """Whether a link of ``purpose`` was issued to the person after ``since``."""
    query = select(OneTimeLink.id).where(
        OneTimeLink.person_id == person_id, OneTimeLink.purpose == purpose
    )
    return s.exec(query.where(col(OneTimeLink.created_at) > since)).first() is not None


def redeem(s: Session, secret_key: str, token: str, now: datetime) -> OneTimeLink:
    """The link of ``token``, now used; refused when unknown, used or expired."""
    if not 0 < len(token) <= TOKEN_MAX:
        raise LinkUnusable()
    query = select(OneTimeLink).where(OneTimeLink.token_hash == token_hash(secret_key, token))
    row = s.exec(query.with_for_update()).first()
    if row is None or row.used_at is not None or aware(row.expires_at) <= now:
        raise LinkUnusable()
    row.used_at = now
    s.add(row)
    return row
