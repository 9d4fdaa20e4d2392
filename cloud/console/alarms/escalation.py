"""Alarms nobody acknowledged in time go to the site's people, once.

``escalate_due`` is run by the notifier's loop (``locker cloud notify``, one call in
``cloud.messaging.dispatcher``'s pass): an alarm still open, not acknowledged, raised at least
``after_s`` ago (the setting ``alarm_escalate_after_s``) and never escalated is stamped
``escalated_at`` and a staff mail is queued, in the same transaction, to each of its site's
managers, or, if the site has none, to its operator's admins. Several notifiers may run at once:
each takes the alarms it escalates under their row locks, skipping those another holds, and a
stamped alarm is never taken again, so each alarm is escalated once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.console.accounts.mail import queue_staff_mail
from cloud.console.accounts.tables import Account, PersonRole, PersonSite
from cloud.console.texts.alarms import TEXTS
from cloud.core.db import transaction
from cloud.models import Alarm, Bank, Site
from cloud.services import bulk
from cloud.services.auth import audit

log = logging.getLogger(__name__)

BATCH = 200  # alarms escalated by one call; the rest at the next pass


def escalate_due(engine: Engine, now: datetime, after_s: float) -> int:
    """Escalate the alarms due at ``now``; how many were escalated."""
    due_before = now - timedelta(seconds=after_s)
    with transaction(engine) as s:
        query = (
            select(Alarm, Bank.site_id, Bank.name)
            .join(Bank, col(Bank.id) == col(Alarm.bank_id))
            .where(
                col(Alarm.cleared_at).is_(None),
                col(Alarm.acknowledged_at).is_(None),
                col(Alarm.escalated_at).is_(None),
                col(Alarm.raised_at) <= due_before,
            )
            .order_by(col(Alarm.raised_at))
            .limit(BATCH)
            .with_for_update(of=Alarm, skip_locked=True)
        )
        rows = list(s.exec(query))
        contacts = _contacts(s, {site for _, site, _ in rows})
        for alarm, site_id, bank_name in rows:
            alarm.escalated_at = now
            s.add(alarm)
            people = contacts.get(site_id, [])
            for person_id in people:
                subject, body = message(alarm, bank_name)
                queue_staff_mail(s, to_person_id=person_id, subject=subject, body=body, at=now)
            audit(s, None, "alarm.escalate", alarm.id, kind=alarm.kind, people=len(people))
            if not people:
                log.warning("alarm %s escalated to nobody: site %s has no one", alarm.id, site_id)
        return len(rows)


def escalate_logged(engine: Engine, now: datetime, after_s: float) -> int:
    """``escalate_due`` for the notifier's loop: a failure is logged, never stops its pass."""
    try:
        return escalate_due(engine, now, after_s)
    except Exception:
        log.exception("escalating alarms failed; tried again at the next pass")
        return 0


def _contacts(s: Session, site_ids: set[str]) -> dict[str, list[str]]:
    """Per site: its site managers, or if it has none, its operator's admins (active only)."""
    if not site_ids:
        return {}
    sites = sorted(site_ids)
    managers = (
        select(PersonSite.site_id, Account.id)
        .join(Account, col(Account.id) == col(PersonSite.person_id))
        .where(bulk.among(s, PersonSite.site_id, sites))
        .where(Account.role == PersonRole.SITE_MANAGER, col(Account.active).is_(True))
    )
    admins = (
        select(Site.id, Account.id)
        .join(Account, col(Account.operator_id) == col(Site.operator_id))
        .where(bulk.among(s, Site.id, sites))
        .where(Account.role == PersonRole.OPERATOR_ADMIN, col(Account.active).is_(True))
    )
    found: dict[str, list[str]] = defaultdict(list)
    for site, person in s.exec(managers.order_by(col(Account.id))):
        found[site].append(person)
    fallback: dict[str, list[str]] = defaultdict(list)
    for site, person in s.exec(admins.order_by(col(Account.id))):
        fallback[site].append(person)
    return {site: found.get(site) or fallback.get(site, []) for site in sites}


def message(alarm: Alarm, bank_name: str) -> tuple[str, str]:
    """The escalation's subject and body, in Chinese then English; nothing secret in them."""
    where = f"{bank_name or alarm.bank_id} {alarm.compartment}".strip()
    fields = {"kind": alarm.kind, "where": where, "raised": f"{alarm.raised_at:%Y-%m-%d %H:%M} UTC"}
    subject = " / ".join(TEXTS["alarms.escalation.subject"][lang] for lang in ("zh", "en"))
    body = "\n\n".join(TEXTS["alarms.escalation.body"][lang] for lang in ("zh", "en"))
    return subject.format(**fields), body.format(**fields)
