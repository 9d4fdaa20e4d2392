"""The notifier's side of staff mail (``cloud.console.accounts.mail``): claim due mails, open the
sealed link in flight, send by e-mail, record what became of each.

Claims work as the recipients' messages' (``cloud.messaging.claims``): rows picked ``FOR UPDATE
SKIP LOCKED`` and taken by a conditional ``UPDATE`` whose try number is the claim's token, under
a lease another notifier takes over when it runs out. A mail goes at least once; its id is its
``Message-ID``. Logs name a mail by its id and the address's domain, never its link.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from nacl.public import PrivateKey
from sqlalchemy import Engine, and_, or_, update
from sqlmodel import col, select

from cloud.console.accounts.mail import with_link
from cloud.console.accounts.tables import Account, StaffMail
from cloud.core.db import transaction
from cloud.messaging.channels import Channel, Outgoing
from cloud.messaging.errors import Refused, SendError, TryAgain
from locker_contract.sealing import SealingError, open_code

if TYPE_CHECKING:
    from cloud.messaging.dispatcher import Dispatcher

log = logging.getLogger(__name__)

ERROR_MAX = 200


@dataclass(frozen=True)
class MailClaim:
    id: str
    attempt: int


def _due(now: datetime) -> Any:
    m = StaffMail
    waiting = and_(col(m.lease_until).is_(None), col(m.due_at) <= now)
    return and_(
        col(m.sent_at).is_(None),
        col(m.failed_at).is_(None),
        or_(waiting, col(m.lease_until) < now),
    )


def claim(engine: Engine, now: datetime, lease: timedelta, limit: int) -> list[MailClaim]:
    due = _due(now)
    query = select(StaffMail.id, StaffMail.attempts).where(due).order_by(col(StaffMail.due_at))
    claimed: list[MailClaim] = []
    with transaction(engine) as s:
        for row_id, attempts in s.exec(query.limit(limit).with_for_update(skip_locked=True)):
            taken = s.exec(
                update(StaffMail)
                .where(col(StaffMail.id) == row_id, col(StaffMail.attempts) == attempts, due)
                .values(attempts=attempts + 1, lease_until=now + lease)
            )
            if taken.rowcount == 1:
                claimed.append(MailClaim(row_id, attempts + 1))
    return claimed


def _record(engine: Engine, mail: MailClaim, **values: Any) -> bool:
    """Record an outcome if this claim still holds the mail."""
    with transaction(engine) as s:
        done = s.exec(
            update(StaffMail)
            .where(col(StaffMail.id) == mail.id, col(StaffMail.attempts) == mail.attempt)
            .where(col(StaffMail.sent_at).is_(None), col(StaffMail.failed_at).is_(None))
            .values(lease_until=None, **values)
        )
        return bool(done.rowcount == 1)


def outgoing(engine: Engine, mail: MailClaim, key: PrivateKey) -> Outgoing | None:
    """The mail as sent, its link opened; None when its person has gone (or is inactive)."""
    with transaction(engine) as s:
        row = s.get(StaffMail, mail.id)
        person = s.get(Account, row.person_id) if row else None
        if row is None or person is None or not person.active:
            return None
        link = open_code(key, row.sealed_link) if row.sealed_link else None
        return Outgoing(mail.id, person.email, row.subject, with_link(row.body, link))


def where(address: str) -> str:
    return "***@" + address.rpartition("@")[2]


async def send_one(notifier: Dispatcher, channel: Channel | None, mail: MailClaim) -> None:
    """Send one claimed mail through the notifier's e-mail channel."""
    engine = notifier.engine
    try:
        message = await asyncio.to_thread(outgoing, engine, mail, notifier.key)
    except SealingError:
        message, reason = None, "its link does not open with this notifier's key"
    else:
        reason = "its person is gone or inactive"
    if message is None or channel is None:
        reason = reason if message is None else "no e-mail channel (LOCKER_CLOUD_SMTP_HOST)"
        await _give_up(notifier, mail, Refused(reason))
        return
    try:
        await channel.send(message)
    except SendError as exc:
        await _failed_try(notifier, mail, exc)
        return
    now = notifier.clock.now()
    await asyncio.to_thread(_record, engine, mail, sent_at=now, sealed_link=None)
    log.info("staff mail %s sent to %s", mail.id, where(message.to))


async def _failed_try(notifier: Dispatcher, mail: MailClaim, exc: SendError) -> None:
    if isinstance(exc, Refused) or mail.attempt >= notifier.settings.notify_max_attempts:
        await _give_up(notifier, mail, exc)
        return
    at = notifier.clock.now() + notifier.backoff.delay(mail.attempt, notifier.rng)
    reason = exc.reason[:ERROR_MAX]
    await asyncio.to_thread(_record, notifier.engine, mail, due_at=at, last_error=reason)
    log.warning("staff mail %s: %s; tried again at %s", mail.id, exc.reason, at.isoformat())


async def _give_up(notifier: Dispatcher, mail: MailClaim, exc: SendError) -> None:
    """Given up: nothing will send it, so its link goes too."""
    now, reason = notifier.clock.now(), exc.reason[:ERROR_MAX]
    await asyncio.to_thread(
        _record, notifier.engine, mail, failed_at=now, sealed_link=None, last_error=reason
    )
    log.error("staff mail %s failed: %s", mail.id, exc.reason)


async def send_staff_mail(notifier: Dispatcher, channel: Channel | None) -> int:
    """The notifier's hook: claim the staff mail due now and send it through ``channel`` (its
    e-mail channel; None when SMTP is not set up); how many were claimed."""
    settings, now = notifier.settings, notifier.clock.now()
    lease = timedelta(seconds=settings.notify_lease_s)
    taken = await asyncio.to_thread(claim, notifier.engine, now, lease, settings.notify_batch)
    for mail in taken:
        try:
            await send_one(notifier, channel, mail)
        except Exception as exc:  # a bug is a failed try, as for recipients' messages
            log.exception("staff mail %s: unexpected failure", mail.id)
            await _failed_try(notifier, mail, TryAgain(f"unexpected ({type(exc).__name__})"))
    return len(taken)
