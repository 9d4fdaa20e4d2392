"""What a message borrows from the other parts of issue 14: the recipient's page link
(``cloud.recipients.links``) and the parcels' terms from the storage policy
(``cloud.services.storage_policy``: the deadline and fee rule as the bank counts them, outages
included). Where the cloud knows no terms for a parcel yet, the deadline is the notifier's
``notify_storage_hours`` after the deposit and the message states no fee rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from cloud.core.config import Settings
from cloud.messaging.tables import NotificationParcel
from cloud.models import Notification, Parcel
from cloud.recipients.links import recipient_link
from cloud.services.storage_policy import parcel_storage

LINK_GRACE = timedelta(days=3)  # a link outlives the deadline: the page then shows the return


@dataclass(frozen=True)
class Terms:
    deadline: datetime
    fee_rule: str  # "" where no policy is known


def link_for(settings: Settings, notice: Notification, deadline: datetime, code: str) -> str:
    """The signed link to the recipient's page for the message's pickup group (the code, when
    the message carries one, in its fragment: never sent to the server)."""
    if notice.group_id is None:
        return ""
    return recipient_link(settings, notice.group_id, deadline + LINK_GRACE, code=code or None)


def terms(
    s: Session,
    notice: Notification,
    parcels: Sequence[NotificationParcel],
    now: datetime,
    storage: timedelta,
) -> Terms:
    """The group's terms: the earliest deadline of its parcels, and the rule of that parcel."""
    found = []
    for told in parcels:
        query = select(Parcel).where(
            Parcel.bank_id == notice.bank_id,
            Parcel.carrier_id == told.carrier_id,
            Parcel.waybill == told.waybill,
        )
        parcel = s.exec(query.order_by(col(Parcel.created_at).desc())).first()
        counted = parcel_storage(s, parcel, now) if parcel is not None else None
        if counted is not None:
            found.append(counted)
    if not found:
        deposited = notice.deposited_at or notice.created_at
        return Terms(deposited + storage, "")
    first = min(found, key=lambda t: t.deadline)
    return Terms(first.deadline, first.fee_rule(notice.language))
