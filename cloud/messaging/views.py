"""Messages' states as the console and carriers see them: a bank's messages for its operator
and manager, a carrier's for its own parcels only (never another carrier's waybills in a group
they share). Addresses are masked; no text, no code."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.messaging.dispatcher import masked
from cloud.messaging.states import MessageKind, MessageState
from cloud.messaging.tables import NotificationParcel
from cloud.models import Notification, Role
from cloud.services.auth import Principal
from cloud.services.fleet import own_bank

LIMIT = 200  # the newest messages a listing shows


class MessageParcel(BaseModel):
    carrier_id: str
    waybill: str
    compartment: str


class MessagePublic(BaseModel):
    id: str
    kind: MessageKind
    state: MessageState
    bank_id: str
    to: str  # masked
    parcels: list[MessageParcel]
    attempts: int
    created_at: datetime
    due_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    last_error: str


def _public(s: Session, notice: Notification, carrier: str | None) -> MessagePublic:
    query = select(NotificationParcel).where(NotificationParcel.notification_id == notice.id)
    if carrier is not None:
        query = query.where(NotificationParcel.carrier_id == carrier)
    parcels = [MessageParcel.model_validate(p, from_attributes=True) for p in s.exec(query)]
    return MessagePublic.model_validate(
        notice.model_dump()
        | {"to": masked(notice.email or notice.recipient_phone), "parcels": parcels}
    )


def _newest(
    s: Session, notices: Iterable[Notification], carrier: str | None
) -> list[MessagePublic]:
    return [_public(s, n, carrier) for n in notices]


def of_bank(engine: Engine, who: Principal, bank_id: str) -> list[MessagePublic]:
    """The bank's newest messages (its operator, its site's manager, an admin)."""
    who.require(Role.ADMIN, Role.OPERATOR, Role.MANAGER)
    with transaction(engine) as s:
        own_bank(s, who, bank_id)
        query = select(Notification).where(Notification.bank_id == bank_id)
        found = s.exec(query.order_by(col(Notification.created_at).desc()).limit(LIMIT))
        return _newest(s, found, None)


def of_carrier(engine: Engine, who: Principal, waybill: str | None = None) -> list[MessagePublic]:
    """The newest messages that tell of the carrier's parcels (of one waybill, if given)."""
    carrier = who.carrier
    mine = select(NotificationParcel.notification_id).where(
        NotificationParcel.carrier_id == carrier
    )
    if waybill is not None:
        mine = mine.where(NotificationParcel.waybill == waybill)
    with transaction(engine) as s:
        query = select(Notification).where(col(Notification.id).in_(mine))
        found = s.exec(query.order_by(col(Notification.created_at).desc()).limit(LIMIT))
        return _newest(s, found, carrier)
