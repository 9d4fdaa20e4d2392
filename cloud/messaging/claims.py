"""The dispatchers' side of the outbox: claiming due messages and recording what became of them.

Several dispatchers run at once. A claim picks due rows ``FOR UPDATE SKIP LOCKED`` (PostgreSQL:
two dispatchers never wait on, or take, the same row; SQLite leaves the clause out and its
``BEGIN IMMEDIATE`` serialises writers) and takes each with a conditional ``UPDATE ... WHERE``
it is still due, counting the rows it changed: the claim is atomic on either database. A claim
is a lease: a dispatcher that dies mid-send leaves the row ``sending`` until the lease ends, and
another takes it again (the message goes at least once; its key tells the repeat). The try
number is the claim's token: only the claim holding it may record the outcome, so a late
dispatcher whose lease ran out cannot overwrite what the next one did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, update
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.messaging.compose import group_parcels
from cloud.messaging.states import MESSAGE, MessageKind, MessageState
from cloud.messaging.tables import NotificationParcel
from cloud.models import Notification

S = MessageState
GATHERING = (MessageKind.DEPOSIT, MessageKind.ADDED)  # wait for the rest of the visit
ERROR_MAX = 200  # what last_error keeps of a reason


@dataclass(frozen=True)
class Claim:
    id: str
    attempt: int  # this claim's try: its token for recording the outcome


def _due(now: datetime, gather: timedelta) -> Any:
    """Due: queued and its time come (a deposit's after the visit's gathering window), or
    sending under a lease that ran out."""
    n = Notification
    gathering = col(n.kind).in_(GATHERING)
    return or_(
        and_(col(n.state) == S.QUEUED, gathering, col(n.due_at) <= now - gather),
        and_(col(n.state) == S.QUEUED, ~gathering, col(n.due_at) <= now),
        and_(col(n.state) == S.SENDING, col(n.lease_until) < now),
    )


def claim(
    engine: Engine, now: datetime, lease: timedelta, gather: timedelta, limit: int
) -> list[Claim]:
    """Up to ``limit`` due messages, oldest first, each now ``sending`` for this caller."""
    due = _due(now, gather)
    query = select(Notification.id, Notification.attempts).where(due)
    query = query.order_by(col(Notification.due_at)).limit(limit)
    claimed: list[Claim] = []
    with transaction(engine) as s:
        for row_id, attempts in s.exec(query.with_for_update(skip_locked=True)).all():
            taken = s.exec(
                update(Notification)
                .where(col(Notification.id) == row_id, col(Notification.attempts) == attempts, due)
                .values(state=S.SENDING, attempts=attempts + 1, lease_until=now + lease)
            )
            if taken.rowcount == 1:
                claimed.append(Claim(row_id, attempts + 1))
    return claimed


def _record(
    engine: Engine,
    claim: Claim,
    target: MessageState,
    then: Notification | None = None,
    **values: Any,
) -> bool:
    """Move the claimed message to ``target`` if this claim still holds it, and queue ``then``
    in the same transaction, once; whether it did."""
    MESSAGE.step(S.SENDING, target)  # the table says whether a send may end there
    with transaction(engine) as s:
        done = s.exec(
            update(Notification)
            .where(
                col(Notification.id) == claim.id,
                col(Notification.state) == S.SENDING,
                col(Notification.attempts) == claim.attempt,
            )
            .values(state=target, lease_until=None, **values)
        )
        if done.rowcount != 1:
            return False
        if then is not None:
            known = select(Notification.id).where(Notification.event_id == then.event_id)
            if s.exec(known).first() is None:
                _queue(s, then)
        return True


def _queue(s: Session, notice: Notification) -> None:
    """A follow-up of the group (its reminder), telling of the group's parcels."""
    s.add(notice)
    s.flush()
    for told in group_parcels(s, notice.bank_id, notice.group_id):
        s.add(NotificationParcel(**(told.model_dump() | {"notification_id": notice.id})))


def sent(engine: Engine, claim: Claim, ref: str, now: datetime, then: Notification | None) -> bool:
    """Sent: its sealed code purged (the code lived only in flight), and ``then`` (the group's
    reminder) queued once, however often the message went."""
    return _record(engine, claim, S.SENT, then, sent_at=now, provider_ref=ref, sealed_code=None)


def retry(engine: Engine, claim: Claim, at: datetime, reason: str) -> bool:
    return _record(engine, claim, S.QUEUED, due_at=at, last_error=reason[:ERROR_MAX])


def later(engine: Engine, claim: Claim, at: datetime) -> bool:
    """Back to the queue until ``at`` (quiet hours): not a try, so not counted as one."""
    return _record(engine, claim, S.QUEUED, due_at=at, attempts=claim.attempt - 1)


def failed(engine: Engine, claim: Claim, reason: str) -> bool:
    """Given up: nothing will send it, so its code goes too."""
    return _record(engine, claim, S.FAILED, sealed_code=None, last_error=reason[:ERROR_MAX])


def cancelled(engine: Engine, claim: Claim, reason: str) -> bool:
    return _record(engine, claim, S.CANCELLED, sealed_code=None, last_error=reason[:ERROR_MAX])
