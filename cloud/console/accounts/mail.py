"""Staff mail: messages to a person of the console (an invitation, a password reset, an alarm's
escalation), written as an outbox row in the transaction of their cause and sent by the notifier
(``locker cloud notify``, ``mail_sending``) over SMTP to the person's address.

A link is a secret: it is never stored in plain. It is sealed for the notifier's public key
(``LOCKER_CLOUD_NOTIFY_PUBLIC_KEY``), as the banks seal pickup codes (decision 0011), opened only
in flight, and purged once the mail is sent or given up. ``body`` must hold nothing secret: the
link is set in place of ``{link}`` in it (or after it, when it has no ``{link}``).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from cloud.console.accounts.tables import StaffMail
from locker_contract.sealing import public_key, seal_code

LINK_SLOT = "{link}"
SUBJECT_MAX = 200
BODY_MAX = 4000


class NoSealingKey(ValueError):
    """A link to send, and no notifier key to seal it for."""


def queue_staff_mail(
    s: Session,
    *,
    to_person_id: str,
    subject: str,
    body: str,
    at: datetime,
    link: str | None = None,
    seal_for: str | None = None,
) -> None:
    """Queue a mail to a person, due at ``at``. ``link`` needs ``seal_for``, the notifier's
    public key (settings' ``notify_public_key``): without it, ``NoSealingKey``."""
    sealed = None
    if link is not None:
        if not seal_for:
            raise NoSealingKey("no notifier key (LOCKER_CLOUD_NOTIFY_PUBLIC_KEY) to seal a link")
        sealed = seal_code(public_key(seal_for), link)
    s.add(
        StaffMail(
            person_id=to_person_id,
            subject=subject[:SUBJECT_MAX],
            body=body[:BODY_MAX],
            sealed_link=sealed,
            created_at=at,
            due_at=at,
        )
    )


def with_link(body: str, link: str | None) -> str:
    """The body as sent: the link in its slot, or after it."""
    if link is None:
        return body.replace(LINK_SLOT, "")
    if LINK_SLOT in body:
        return body.replace(LINK_SLOT, link)
    return f"{body}\n\n{link}\n"
