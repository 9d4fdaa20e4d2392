"""What the cloud knows of each bank's link: online or not, its clock, its retained state.

A bank is online from its retained ``online`` status or any heartbeat, and offline from its Last
Will (``offline``) or when its heartbeats stop for ``heartbeat_timeout_s``. Going offline raises a
``bank.offline`` alarm and coming back clears it; a clock off by more than the allowed skew
raises ``clock.skew`` until a heartbeat shows it right again.

A bank whose heartbeats report events (``last_seq``) the cloud's cursor has not reached, with
the cursor not moving for ``stream_stall_alarm_s``, raises ``stream.stalled`` (``sweep_stalled``);
it clears once the cursor moves or catches up. Ingest never waits on one event (decision 0009),
so this says that events are not arriving, or that ingest itself is down or failing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.models import Alarm, Bank, BankCursor
from locker_contract.messages import BankState, BankStatus, Heartbeat

log = logging.getLogger(__name__)

OFFLINE, SKEW, STALLED = "bank.offline", "clock.skew", "stream.stalled"


def _bank(s: Session, bank_id: str) -> Bank | None:
    bank = s.get(Bank, bank_id)
    if bank is None:
        log.warning("a message from unknown bank %s was ignored", bank_id)
    return bank


def _raise(s: Session, bank_id: str, kind: str) -> None:
    if _open_alarms(s, bank_id, kind):
        return
    log.warning("bank %s: %s", bank_id, kind)
    s.add(Alarm(bank_id=bank_id, kind=kind))


def _clear(s: Session, bank_id: str, kind: str, at: datetime) -> None:
    for alarm in _open_alarms(s, bank_id, kind):
        alarm.clear(at)
        s.add(alarm)


def _open_alarms(s: Session, bank_id: str, kind: str) -> list[Alarm]:
    query = select(Alarm).where(
        Alarm.bank_id == bank_id, Alarm.kind == kind, col(Alarm.cleared_at).is_(None)
    )
    return list(s.exec(query))


def _set_online(s: Session, bank: Bank, online: bool, at: datetime) -> None:
    if bank.online == online and bank.status_since is not None:
        return
    bank.online, bank.status_since = online, at
    if online:
        _clear(s, bank.id, OFFLINE, at)
    else:
        _raise(s, bank.id, OFFLINE)
    log.info("bank %s is %s", bank.id, "online" if online else "offline")


def record_status(
    engine: Engine, bank_id: str, status: BankStatus, now: datetime | None = None
) -> None:
    with transaction(engine) as s:
        bank = _bank(s, bank_id)
        if bank is not None:
            _set_online(s, bank, status.state == "online", now or utcnow())
            s.add(bank)


def record_heartbeat(
    engine: Engine, bank_id: str, beat: Heartbeat, received_at: datetime, skew_alarm_s: float
) -> None:
    with transaction(engine) as s:
        bank = _bank(s, bank_id)
        if bank is None:
            return
        bank.last_heartbeat_at = received_at
        bank.clock_skew_s = round((beat.edge_time - received_at).total_seconds(), 3)
        if abs(bank.clock_skew_s) > skew_alarm_s:
            _raise(s, bank_id, SKEW)
        else:
            _clear(s, bank_id, SKEW, received_at)
        _set_online(s, bank, True, received_at)
        _track_stream(s, bank, beat.last_seq, received_at)
        s.add(bank)


def _track_stream(s: Session, bank: Bank, last_seq: int, at: datetime) -> None:
    """Since when the bank is ahead of the cloud's cursor, if it is."""
    cursor = s.get(BankCursor, bank.id)
    bank.edge_last_seq = last_seq
    if last_seq <= (cursor.applied_seq if cursor else 0):
        bank.edge_ahead_since = None
        _clear(s, bank.id, STALLED, at)
    elif bank.edge_ahead_since is None:
        bank.edge_ahead_since = at


def record_state(engine: Engine, bank_id: str, state: BankState) -> None:
    with transaction(engine) as s:
        bank = _bank(s, bank_id)
        if bank is not None:
            bank.state = state.model_dump(mode="json")
            s.add(bank)


def sweep_silent(engine: Engine, timeout_s: float, now: datetime | None = None) -> list[str]:
    """Mark offline every online bank whose heartbeats stopped; the ids marked."""
    now = now or utcnow()
    limit = now - timedelta(seconds=timeout_s)
    with transaction(engine) as s:
        query = select(Bank).where(col(Bank.online).is_(True), col(Bank.last_heartbeat_at) < limit)
        silent = list(s.exec(query))
        for bank in silent:
            _set_online(s, bank, False, now)
            s.add(bank)
        return [bank.id for bank in silent]


def sweep_stalled(engine: Engine, stall_after_s: float, now: datetime | None = None) -> list[str]:
    """Raise ``stream.stalled`` for each bank ahead of its cursor while the cursor has not moved
    for ``stall_after_s``, and clear it where it moved; the ids stalled."""
    now = now or utcnow()
    limit = now - timedelta(seconds=stall_after_s)
    stalled = []
    with transaction(engine) as s:
        query = select(Bank, BankCursor).join(BankCursor, col(BankCursor.bank_id) == col(Bank.id))
        for bank, cursor in s.exec(query.where(col(Bank.edge_ahead_since).is_not(None))):
            behind = (bank.edge_last_seq or 0) > cursor.applied_seq
            since = max(_aware(bank.edge_ahead_since), _aware(cursor.advanced_at))
            if behind and since < limit:
                _raise(s, bank.id, STALLED)
                stalled.append(bank.id)
            else:
                _clear(s, bank.id, STALLED, now)
    return stalled


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)
