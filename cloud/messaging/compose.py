"""A claimed message made ready to send: its parcels, bank, carriers and deadline gathered, the
code opened from its sealed box, the text rendered in the recipient's language. Read in one
transaction; the opened code lives only in the returned ``Outgoing``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from nacl.public import PrivateKey
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.messaging import hooks
from cloud.messaging.channels import Outgoing
from cloud.messaging.render import Facts, render
from cloud.messaging.schedule import QuietHours, reminder_due, site_zone
from cloud.messaging.states import MessageKind
from cloud.messaging.tables import NotificationParcel
from cloud.models import Bank, Carrier, Notification, Parcel, ParcelStatus, Site
from cloud.services.notices import JOINABLE, open_code

K = MessageKind
LEFT = (ParcelStatus.PICKED_UP, ParcelStatus.RETURNED, ParcelStatus.RETURN_PENDING)
CODED = (K.DEPOSIT,)  # the messages that carry a code
QUIET = (K.REMINDER, K.EXPIRED)  # the messages never sent in the site's quiet hours


@dataclass(frozen=True)
class Policy:
    """The notifier's rules from its settings."""

    settings: Settings
    storage: timedelta  # the deadline after the deposit, where no storage policy says
    remind_before: timedelta
    quiet: QuietHours

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            settings,
            timedelta(hours=settings.notify_storage_hours),
            timedelta(hours=settings.notify_remind_before_hours),
            QuietHours(settings.notify_quiet_start, settings.notify_quiet_end),
        )


@dataclass(frozen=True)
class Later:
    """Not now: the site's quiet hours last until ``at``."""

    at: datetime


@dataclass(frozen=True)
class Ready:
    outgoing: Outgoing
    email: bool  # by e-mail (the recipient gave an address), else to the phone
    then: Notification | None  # the group's reminder, queued once this one is sent


def group_parcels(s: Session, bank_id: str, group_id: str | None) -> list[NotificationParcel]:
    """The parcels the group's deposit messages told of (none for a message of no group: one
    written before groups were known)."""
    if group_id is None:
        return []
    query = (
        select(NotificationParcel)
        .join(Notification, col(Notification.id) == NotificationParcel.notification_id)
        .where(
            Notification.bank_id == bank_id,
            Notification.group_id == group_id,
            col(Notification.kind).in_(JOINABLE),
        )
    )
    return list(s.exec(query))


def _parcels(s: Session, notice: Notification) -> list[NotificationParcel]:
    """The parcels the message tells of, in their compartments' order."""
    if notice.kind is K.REMINDER:
        found = group_parcels(s, notice.bank_id, notice.group_id)
    else:
        query = select(NotificationParcel).where(NotificationParcel.notification_id == notice.id)
        found = list(s.exec(query))
    return sorted(found, key=lambda p: (p.compartment, p.carrier_id, p.waybill))


def _still_there(
    s: Session, bank_id: str, parcels: Sequence[NotificationParcel]
) -> list[NotificationParcel]:
    """The parcels not known to have left the locker."""
    left = select(Parcel.carrier_id, Parcel.waybill).where(
        Parcel.bank_id == bank_id, col(Parcel.status).in_(LEFT)
    )
    gone = {(c, w) for c, w in s.exec(left)}
    return [p for p in parcels if (p.carrier_id, p.waybill) not in gone]


def prepare(
    engine: Engine, notice_id: str, key: PrivateKey, policy: Policy, now: datetime
) -> Ready | Later | str:
    """The message ready to send, when it may go, or why there is nothing to send any more."""
    with transaction(engine) as s:
        notice = s.get_one(Notification, notice_id)
        if notice.kind in QUIET:
            zone = site_zone(s.get_one(Site, s.get_one(Bank, notice.bank_id).site_id).timezone)
            allowed = policy.quiet.next_allowed(now, zone)
            if allowed > now:
                return Later(allowed)
        parcels = _parcels(s, notice)
        if notice.kind is not K.EXPIRED:
            parcels = _still_there(s, notice.bank_id, parcels)
        if not parcels:
            return "its parcels left the locker"
        if notice.kind in CODED and notice.sealed_code is None:
            return "its code was purged"
        facts = _facts(s, notice, parcels, key=key, policy=policy, now=now)
        if notice.kind is K.REMINDER and now >= facts.deadline:
            return "its deadline passed"
        subject, body = render(facts)
        to = notice.email or notice.recipient_phone
        then = _reminder(notice, facts, policy) if notice.kind is K.DEPOSIT else None
        return Ready(Outgoing(notice.id, to, subject, body), notice.email is not None, then)


def _facts(
    s: Session,
    notice: Notification,
    parcels: list[NotificationParcel],
    *,
    key: PrivateKey,
    policy: Policy,
    now: datetime,
) -> Facts:
    bank = s.get_one(Bank, notice.bank_id)
    site = s.get_one(Site, bank.site_id)
    carriers = dict.fromkeys(p.carrier_id for p in parcels)
    names = [(s.get(Carrier, c) or Carrier(id=c, name=c)).name for c in carriers]
    terms = hooks.terms(s, notice, parcels, now, policy.storage)
    code = open_code(notice, key) if notice.kind in CODED else ""
    return Facts(
        kind=notice.kind,
        language=notice.language,
        bank=bank.name or bank.id,
        address=site.address,
        labels=tuple(sorted({p.compartment for p in parcels if p.compartment})),
        carriers=tuple(names),
        waybills=tuple(p.waybill for p in parcels),
        deadline=terms.deadline,
        zone=site_zone(site.timezone),
        code=code,
        link=hooks.link_for(policy.settings, notice, terms.deadline, code),
        fee_rule=terms.fee_rule,
    )


def _reminder(notice: Notification, facts: Facts, policy: Policy) -> Notification | None:
    """The group's one reminder, due before its deadline and out of quiet hours."""
    if notice.group_id is None:
        return None
    deposited = notice.deposited_at or notice.created_at
    due = reminder_due(deposited, facts.deadline, policy.remind_before, policy.quiet, facts.zone)
    if due is None:
        return None
    return Notification(
        event_id=f"reminder:{notice.bank_id}:{notice.group_id}",
        kind=K.REMINDER,
        bank_id=notice.bank_id,
        group_id=notice.group_id,
        carrier_id=notice.carrier_id,
        waybill=notice.waybill,
        recipient_phone=notice.recipient_phone,
        text="",
        language=notice.language,
        email=notice.email,
        deposited_at=deposited,
        due_at=due,
    )
