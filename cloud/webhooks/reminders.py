"""A reminder sent to a recipient: each carrier with a parcel in the reminder's pickup group
gets ``parcel.reminder_sent``, at the time it was sent. Found by the sender's sweep in the
notifier's table (``cloud.messaging``: a reminder is its own row, sent once), de-duplicated by
message and parcel, so that several senders record it once."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from cloud.core.db import transaction
from cloud.messaging.states import MessageKind
from cloud.messaging.tables import NotificationParcel
from cloud.models import Notification, Parcel
from cloud.webhooks.events import Kind
from cloud.webhooks.outbox import parcel_event
from cloud.webhooks.tables import WebhookEvent


def sweep(engine: Engine, now: datetime, window_s: float) -> int:
    """Events recorded for reminders sent in the last ``window_s`` and not yet told."""
    since = now - timedelta(seconds=window_s)
    with transaction(engine) as s:
        query = (
            select(Notification.id, Notification.bank_id, Notification.sent_at, NotificationParcel)
            .join(NotificationParcel, col(NotificationParcel.notification_id) == Notification.id)
            .where(
                Notification.kind == MessageKind.REMINDER,
                col(Notification.sent_at).is_not(None),
                col(Notification.sent_at) >= since,
            )
        )
        found = list(s.exec(query))
        told = set(
            s.exec(
                select(WebhookEvent.dedupe).where(
                    col(WebhookEvent.dedupe).startswith("reminder:"),
                    col(WebhookEvent.recorded_at) >= since,  # told after it was sent
                )
            )
        )
    made = 0
    for message_id, bank_id, sent_at, parcel in found:
        dedupe = f"reminder:{message_id}:{parcel.carrier_id}:{parcel.waybill}"
        if dedupe not in told and sent_at is not None:
            made += _once(
                engine, bank_id=bank_id, told=parcel, sent_at=sent_at, dedupe=dedupe, now=now
            )
    return made


def _once(
    engine: Engine,
    *,
    bank_id: str,
    told: NotificationParcel,
    sent_at: datetime,
    dedupe: str,
    now: datetime,
) -> int:
    try:
        with transaction(engine) as s:
            query = select(Parcel).where(
                Parcel.bank_id == bank_id,
                Parcel.carrier_id == told.carrier_id,
                Parcel.waybill == told.waybill,
            )
            parcel = s.exec(query.order_by(col(Parcel.created_at).desc())).first()
            if parcel is None:
                return 0
            event = parcel_event(s, Kind.REMINDER_SENT, parcel, at=sent_at, now=now)
            event.dedupe = dedupe
            s.add(event)
            return 1
    except IntegrityError:  # another sender recorded it first
        return 0
