"""The console's accounts (decision 0022): people, their sites, sessions, one-time links,
sign-in throttling and the staff mail outbox.

Nothing secret is stored as itself: a password as its Argon2 hash, a session token and a
one-time link's token as their HMAC under the server's secret key, a link in a staff mail sealed
for the notifier's key (decision 0011). Throttling rows name an e-mail address or a client
address by a keyed hash, never the address.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field

from cloud.models import CloudModel, new_id, utcnow


class PersonRole(StrEnum):
    OPERATOR_ADMIN = "operator_admin"  # every site of its operator
    SITE_MANAGER = "site_manager"  # the sites given (``PersonSite``)


class LinkPurpose(StrEnum):
    INVITE = "invite"  # the first password of a new person
    RESET = "reset"  # a forgotten password


class Account(CloudModel, table=True):
    """One of an operator's staff. ``password_hash`` is empty until an invitation is used."""

    __tablename__ = "consoleperson"

    id: str = Field(default_factory=new_id, primary_key=True)
    email: str = Field(unique=True)  # lower-cased
    name: str
    password_hash: str = ""
    role: str
    operator_id: str = Field(foreign_key="operator.id", index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class PersonSite(CloudModel, table=True):
    """A site given to a site manager."""

    __tablename__ = "consolepersonsite"

    person_id: str = Field(foreign_key="consoleperson.id", primary_key=True)
    site_id: str = Field(foreign_key="site.id", primary_key=True)


class ConsoleSession(CloudModel, table=True):
    """A signed-in browser. The cookie holds the token; this row only its keyed hash."""

    id: str = Field(default_factory=new_id, primary_key=True)
    token_hash: str = Field(unique=True)
    person_id: str = Field(foreign_key="consoleperson.id", index=True)
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute end, whatever the activity
    idle_timeout_s: int  # ends this long after last_seen_at
    revoked_at: datetime | None = None


class OneTimeLink(CloudModel, table=True):
    """An invitation or a password reset: used once, before ``expires_at``."""

    id: str = Field(default_factory=new_id, primary_key=True)
    token_hash: str = Field(unique=True)
    person_id: str = Field(foreign_key="consoleperson.id", index=True)
    purpose: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


class SignInThrottle(CloudModel, table=True):
    """Failed sign-ins of one scope (``email:<hash>`` or ``addr:<hash>``) and its lockout,
    which doubles with each failure past the allowance and ends at a success."""

    scope: str = Field(primary_key=True)
    failures: int = 0
    lockout_s: float = 0.0
    locked_until: datetime | None = None
    last_failure_at: datetime | None = None


class StaffMail(CloudModel, table=True):
    """A message to a person, written in its cause's transaction and sent by the notifier
    (``locker cloud notify``) over SMTP. ``sealed_link``, when there is a link, is the link
    sealed for the notifier's key, purged once sent or given up."""

    id: str = Field(default_factory=new_id, primary_key=True)
    person_id: str = Field(foreign_key="consoleperson.id", index=True)
    subject: str
    body: str
    sealed_link: str | None = None
    created_at: datetime
    due_at: datetime = Field(index=True)
    attempts: int = 0
    lease_until: datetime | None = None
    sent_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str = ""
