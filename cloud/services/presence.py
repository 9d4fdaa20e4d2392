"""What the cloud knows of each bank's link: online or not, its clock, its retained state.

A bank is online from its retained ``online`` status or any heartbeat, and offline from its Last
Will (``offline``) or when its heartbeats stop for ``heartbeat_timeout_s``. Going offline raises a
``bank.offline`` alarm and coming back clears it; a clock off by more than the allowed skew
raises ``clock.skew`` until a heartbeat shows it right again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.core.db import transaction
from cloud.models import Alarm, Bank, utcnow
from locker_contract.messages import BankState, BankStatus, Heartbeat

log = logging.getLogger(__name__)

OFFLINE, SKEW = "bank.offline", "clock.skew"


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


def _clear(s: Session, bank_id: str, kind: str) -> None:
    for alarm in _open_alarms(s, bank_id, kind):
        alarm.cleared_at = utcnow()
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
        _clear(s, bank.id, OFFLINE)
    else:
        _raise(s, bank.id, OFFLINE)
    log.info("bank %s is %s", bank.id, "online" if online else "offline")


def record_status(engine: Engine, bank_id: str, status: BankStatus) -> None:
    with transaction(engine) as s:
        bank = _bank(s, bank_id)
        if bank is not None:
            _set_online(s, bank, status.state == "online", utcnow())
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
            _clear(s, bank_id, SKEW)
        _set_online(s, bank, True, received_at)
        s.add(bank)


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
