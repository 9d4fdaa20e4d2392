"""The accounts' service layer: people made and invited, signing in, passwords set by link.

Each function opens its own transactions (the boundary is here, not in the routes). Argon2 runs
outside any transaction, so that no lock is held while a password is hashed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.console.accounts import links, passwords, sessions, throttle
from cloud.console.accounts.deps import Person, audit_person, load_person
from cloud.console.accounts.errors import (
    BadInvitation,
    LinkUnusable,
    LockedOut,
    SignInRefused,
    WeakPassword,
)
from cloud.console.accounts.mail import queue_staff_mail
from cloud.console.accounts.tables import Account, LinkPurpose, PersonRole, PersonSite
from cloud.console.texts import LANGUAGES
from cloud.console.texts.accounts import TEXTS
from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.models import Operator, Site
from cloud.services.auth import audit

log = logging.getLogger(__name__)

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}$")
NAME_MAX = 100
# one reset mail per person this often, whoever asks: no flood of mail, and a link being used
# is not voided by a stranger's request a second later
RESET_EVERY = timedelta(minutes=2)


@dataclass(frozen=True)
class NewPerson:
    email: str
    name: str
    role: PersonRole
    operator_id: str
    site_ids: frozenset[str] = frozenset()


def normal_email(text: str) -> str:
    email = text.strip().lower()
    if len(email) > 254 or not EMAIL.match(email):
        raise BadInvitation("accounts.email_invalid")
    return email


def _check_new(s: Session, new: NewPerson) -> None:
    name = new.name.strip()
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise BadInvitation("accounts.name_invalid")
    if s.get(Operator, new.operator_id) is None:
        raise BadInvitation("accounts.operator_unknown")
    if new.role is PersonRole.SITE_MANAGER and not new.site_ids:
        raise BadInvitation("accounts.sites_needed")
    query = select(Site.id).where(Site.operator_id == new.operator_id)
    if not new.site_ids <= set(s.exec(query.where(col(Site.id).in_(new.site_ids))).all()):
        raise BadInvitation("accounts.sites_not_yours")
    if s.exec(select(Account.id).where(Account.email == new.email)).first() is not None:
        raise BadInvitation("accounts.email_taken")


def create_person(s: Session, new: NewPerson, now: datetime) -> Account:
    """A person without a password yet (an invitation link sets it), in the caller's
    transaction. An operator admin is given no sites: it sees all of its operator's."""
    sites = new.site_ids if new.role is PersonRole.SITE_MANAGER else frozenset()
    new = NewPerson(normal_email(new.email), new.name.strip(), new.role, new.operator_id, sites)
    _check_new(s, new)
    row = Account(
        email=new.email,
        name=new.name,
        role=new.role,
        operator_id=new.operator_id,
        created_at=now,
    )
    s.add(row)
    s.flush()
    if new.role is PersonRole.SITE_MANAGER:
        for site_id in sorted(new.site_ids):
            s.add(PersonSite(person_id=row.id, site_id=site_id))
    return row


def mail_text(purpose: LinkPurpose, name: str) -> tuple[str, str]:
    """A link's mail in both languages (a person has no language of their own yet)."""
    key = f"accounts.mail_{purpose}"
    subject = f"{TEXTS[key + '_subject']['zh']} / {TEXTS[key + '_subject']['en']}"
    lines = [TEXTS[key + "_body"][lang].format(name=name) for lang in LANGUAGES]
    return subject, "\n\n".join(lines) + "\n\n{link}\n"


def mail_link(
    s: Session, settings: Settings, person: Account, purpose: LinkPurpose, now: datetime
) -> str:
    """Issue a link for ``person`` and queue its mail; the token (for development, where the
    caller shows it when the notifier's key is not set)."""
    token = links.issue(s, settings.secret_key, person.id, purpose, now)
    if settings.notify_public_key:
        subject, body = mail_text(purpose, person.name)
        url = links.url(settings.recipient_base_url, token)
        queue_staff_mail(
            s,
            to_person_id=person.id,
            subject=subject,
            body=body,
            at=now,
            link=url,
            seal_for=settings.notify_public_key,
        )
    return token


def invite(
    engine: Engine, settings: Settings, inviter: Person, new: NewPerson, now: datetime
) -> tuple[str, str]:
    """An operator admin invites a person of its operator: (the person's id, the link's token)."""
    if not inviter.is_admin or new.operator_id != inviter.operator_id:
        raise BadInvitation("accounts.invite_not_yours")
    with transaction(engine) as s:
        row = create_person(s, new, now)
        token = mail_link(s, settings, row, LinkPurpose.INVITE, now)
        detail = {"role": str(new.role), "sites": sorted(new.site_ids)}
        audit_person(s, inviter, "console.invite", f"person:{row.id}", **detail)
    return row.id, token


def sign_in(
    engine: Engine, secret_key: str, email: str, password: str, *, address: str, now: datetime
) -> sessions.Opened:
    """A new session for the right e-mail and password; throttled per e-mail and per address."""
    email = email.strip().lower()
    by_email = throttle.email_scope(secret_key, email)
    by_address = throttle.address_scope(secret_key, address)
    with transaction(engine) as s:  # counted as failed until the password is verified
        wait = throttle.attempt(
            s, [(by_email, throttle.EMAIL), (by_address, throttle.ADDRESS)], now
        )
        row = s.exec(select(Account).where(Account.email == email)).first()
    if wait > 0:
        raise LockedOut(wait)
    stored = row.password_hash if row is not None and row.active else ""
    if not passwords.verify(password[: passwords.MAX_LENGTH], stored) or row is None:
        log.info("console sign-in refused")
        raise SignInRefused()
    with transaction(engine) as s:
        throttle.cleared(s, by_email)
        throttle.refund(s, by_address, throttle.ADDRESS)
        opened = sessions.open_session(s, secret_key, row.id, now)
        person = load_person(s, row.id)
        assert person is not None  # active, just read
        audit_person(s, person, "console.sign_in", f"person:{row.id}")
    return opened


def sign_out(engine: Engine, secret_key: str, person: Person, token: str, now: datetime) -> None:
    with transaction(engine) as s:
        sessions.revoke(s, secret_key, token, now)
        audit_person(s, person, "console.sign_out", f"person:{person.id}")


def set_password(engine: Engine, secret_key: str, token: str, password: str, now: datetime) -> None:
    """The password of the link's person, set once by the link; every session of theirs ends."""
    reason = passwords.weakness(password)
    if reason is not None:
        raise WeakPassword(reason)
    hashed = passwords.hash_password(password)
    with transaction(engine) as s:
        link = links.redeem(s, secret_key, token, now)
        row, person = s.get(Account, link.person_id), load_person(s, link.person_id)
        if row is None or person is None:  # a person made inactive since
            raise LinkUnusable()
        row.password_hash = hashed
        s.add(row)
        sessions.revoke_all(s, row.id, now)
        audit_person(s, person, f"console.password_{link.purpose}", f"person:{row.id}")


def request_reset(engine: Engine, settings: Settings, email: str, now: datetime) -> None:
    """Mail a reset link if ``email`` is an active person's; nothing tells the caller whether."""
    try:
        email = normal_email(email)
    except BadInvitation:
        return
    with transaction(engine) as s:
        row = s.exec(select(Account).where(Account.email == email)).first()
        if row is None or not row.active:
            return
        if not settings.notify_public_key:
            log.warning("a password reset asked for, and no notifier key to mail it with")
            return
        if links.issued_since(s, row.id, LinkPurpose.RESET, now - RESET_EVERY):
            log.info("a password reset asked for again within %s: not mailed", RESET_EVERY)
            return
        mail_link(s, settings, row, LinkPurpose.RESET, now)


def people_of(engine: Engine, operator_id: str) -> list[Account]:
    with transaction(engine) as s:
        query = select(Account).where(Account.operator_id == operator_id)
        return list(s.exec(query.order_by(col(Account.email))).all())


def sites_of(engine: Engine, site_ids: Collection[str]) -> list[Site]:
    with transaction(engine) as s:
        query = select(Site).where(col(Site.id).in_(site_ids)).order_by(col(Site.name))
        return list(s.exec(query).all())


def enrol(engine: Engine, settings: Settings, new: NewPerson, now: datetime) -> tuple[str, str]:
    """A person made from the command line (``locker cloud create-admin``, ``invite``): the
    person's id and an invitation link's token, for the caller to print, not mail."""
    with transaction(engine) as s:
        row = create_person(s, new, now)
        token = links.issue(s, settings.secret_key, row.id, LinkPurpose.INVITE, now)
        audit(s, None, "console.enrol", f"person:{row.id}", role=str(new.role))
    return row.id, token


def reset_link(engine: Engine, settings: Settings, email: str, now: datetime) -> str:
    """A reset link's token for an active person, for the command line to print."""
    with transaction(engine) as s:
        row = s.exec(select(Account).where(Account.email == normal_email(email))).first()
        if row is None or not row.active:
            raise BadInvitation("accounts.email_unknown")
        token = links.issue(s, settings.secret_key, row.id, LinkPurpose.RESET, now)
        audit(s, None, "console.reset_link", f"person:{row.id}")
    return token


def set_active(engine: Engine, admin: Person, person_id: str, active: bool, now: datetime) -> str:
    """An operator admin turns a person of its operator away (a leaver: no more sign-in, every
    session ended at once) or back. Another operator's person is unknown; oneself is refused.
    The person's e-mail."""
    if not admin.is_admin:
        raise BadInvitation("accounts.admins_only")
    if person_id == admin.id:
        raise BadInvitation("accounts.not_yourself")
    with transaction(engine) as s:
        row = s.get(Account, person_id)
        if row is None or row.operator_id != admin.operator_id:
            raise BadInvitation("accounts.person_unknown")
        row.active = active
        s.add(row)
        if not active:
            sessions.revoke_all(s, row.id, now)
        action = "console.reactivate" if active else "console.deactivate"
        audit_person(s, admin, action, f"person:{row.id}")
        return row.email
