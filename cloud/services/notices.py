"""Recipients' messages as ingest records them, and the one place a pickup code is opened.

Ingest stores each deposit's notice in the transaction of the event (the notifier's outbox:
``cloud.messaging``), with the code sealed by the bank for the notifier's public key
(``locker_contract.sealing``); only the notifier holds the private key, in a file named by
``notify_private_key_file``, and opens the code just before sending. The code is never written
back: the plain message exists only in flight (decision 0011).

One message per pickup group per deposit visit (decision 0016): the edge seals a code only for
the first parcel of a recipient's group; a parcel that joins the group while its notice still
waits is added to that notice (one message tells of both), and one that joins after the notice
went gets a message of its own that says the code they hold opens it too.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from nacl.public import PrivateKey
from sqlmodel import Session, col, select

from cloud.messaging.states import MessageKind, MessageState
from cloud.messaging.tables import NotificationParcel
from cloud.models import Bank, Notification
from cloud.services.errors import Conflict
from locker_contract import sealing
from locker_contract.events import Envelope, ParcelDeposited

CODE_PLACEHOLDER = "{code}"
CODE_PREFIX = "Pickup code: "
DEFAULT_LANGUAGE = "zh"
TOLD = "[in the recipient's notification]"  # what a stored deposit event keeps of its code
JOINABLE = (MessageKind.DEPOSIT, MessageKind.ADDED)


def record_deposit(s: Session, envelope: Envelope, event: ParcelDeposited) -> str | None:
    """The deposit's part of its pickup group's message; what the stored event keeps of the
    code instead. Nothing when the bank has no notifier key (its courier handed the code on)."""
    group = str(event.group_id)
    if event.sealed_code is None:
        joined = _waiting(s, envelope.bank_id, group) or _told(s, envelope.bank_id, group)
        if joined is None:
            return None  # a bank without the notifier's key: nobody here can tell the code
        if joined.state is MessageState.QUEUED:
            _add_parcel(s, joined, event, envelope.time)
        else:
            _new_notice(s, envelope, event, MessageKind.ADDED, joined)
        return None
    _new_notice(s, envelope, event, MessageKind.DEPOSIT, None)
    return TOLD


def record_expiry(s: Session, envelope: Envelope, deposit: ParcelDeposited) -> Notification:
    """The recipient is told that ``deposit``'s parcel went back to its carrier at its deadline
    (``envelope``: the bank's ``parcel.refused`` that says so), in the language of the group's
    first message; no code."""
    told = _told(s, envelope.bank_id, str(deposit.group_id))
    deposit = deposit.model_copy(update={"sealed_code": None})
    return _new_notice(s, envelope, deposit, MessageKind.EXPIRED, told)


def _waiting(s: Session, bank_id: str, group: str) -> Notification | None:
    """The group's message not yet claimed by a dispatcher, its row locked (a dispatcher's
    claim, ``FOR UPDATE SKIP LOCKED``, passes it by meanwhile)."""
    query = select(Notification).where(
        Notification.bank_id == bank_id,
        Notification.group_id == group,
        Notification.state == MessageState.QUEUED,
        col(Notification.kind).in_(JOINABLE),
    )
    return s.exec(query.with_for_update()).first()


def _told(s: Session, bank_id: str, group: str) -> Notification | None:
    query = select(Notification).where(
        Notification.bank_id == bank_id,
        Notification.group_id == group,
        Notification.kind == MessageKind.DEPOSIT,
    )
    return s.exec(query).first()


def _add_parcel(s: Session, notice: Notification, event: ParcelDeposited, at: datetime) -> None:
    """One more parcel for a message still waiting; its window to gather the visit restarts."""
    if s.get(NotificationParcel, (notice.id, event.carrier, event.waybill)) is None:
        s.add(_parcel_row(notice.id, event))
    notice.due_at = max(notice.due_at or at, at)
    s.add(notice)


def _new_notice(
    s: Session,
    envelope: Envelope,
    event: ParcelDeposited,
    kind: MessageKind,
    told: Notification | None,
) -> Notification:
    bank = s.get_one(Bank, envelope.bank_id)
    notice = Notification(
        event_id=str(envelope.event_id),
        kind=kind,
        bank_id=bank.id,
        group_id=str(event.group_id),
        carrier_id=event.carrier,
        waybill=event.waybill,
        recipient_phone=event.recipient_phone,
        text=summary(bank, event),
        sealed_code=event.sealed_code,
        language=told.language if told else DEFAULT_LANGUAGE,
        email=told.email if told else None,
        deposited_at=told.deposited_at if told else envelope.time,
        due_at=envelope.time,
    )
    s.add(notice)
    s.flush()
    s.add(_parcel_row(notice.id, event))
    return notice


def _parcel_row(notification_id: str, event: ParcelDeposited) -> NotificationParcel:
    return NotificationParcel(
        notification_id=notification_id,
        carrier_id=event.carrier,
        waybill=event.waybill,
        compartment=event.compartment,
    )


def summary(bank: Bank, event: ParcelDeposited) -> str:
    """The notice's plain summary (``text``), its code a placeholder: for operators' tools and
    ``open_notification``; recipients get the message rendered from its template."""
    return (
        f"Your parcel {event.waybill} is in the locker at {bank.name or bank.id}, "
        f"compartment {event.compartment}. {CODE_PREFIX}{CODE_PLACEHOLDER}"
    )


def open_code(notification: Notification, private_key: PrivateKey) -> str:
    """The pickup code, opened from the notice's sealed box: for the message in flight only."""
    if notification.sealed_code is None:
        raise Conflict("this notice's code was purged: its parcel has left the locker")
    try:
        return sealing.open_code(private_key, notification.sealed_code)
    except sealing.SealingError as exc:
        raise Conflict(f"notice {notification.id}: {exc}") from None


def open_notification(notification: Notification, private_key: PrivateKey) -> str:
    """The notice's summary with the pickup code opened into it."""
    code = open_code(notification, private_key)
    head, found, tail = notification.text.rpartition(CODE_PLACEHOLDER)
    if not found:
        raise Conflict(f"notice {notification.id} has no place for the code")
    return head + code + tail


def notify_private_key(path: Path | None) -> PrivateKey:
    """The notifier's private key from its file (the settings' ``notify_private_key_file``)."""
    if path is None:
        raise Conflict("set LOCKER_CLOUD_NOTIFY_PRIVATE_KEY_FILE to open pickup codes")
    try:
        return sealing.read_private_key(path)
    except sealing.SealingError as exc:
        raise Conflict(str(exc)) from None
