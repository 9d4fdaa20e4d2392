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
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Update, bindparam, case, func, inspect, update
from sqlalchemy import select as rows_of
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.core.db import transaction
from cloud.models import Bank, BankCursor
from cloud.services import alarms, bulk
from cloud.services.aside import lost_database
from locker_contract.messages import BankState, BankStatus, Heartbeat

log = logging.getLogger(__name__)

OFFLINE, SKEW, STALLED = "bank.offline", "clock.skew", "stream.stalled"


@dataclass(frozen=True)
class Beat:
    """A bank's latest heartbeat, and when it arrived."""

    bank_id: str
    heartbeat: Heartbeat
    received_at: datetime


@dataclass
class Seen:
    """What a worker learnt of banks' links since its last write, the latest of each kind per
    bank (``cloud.link.coalesce`` gathers it): heartbeats, online or not (a status, or any
    message of the bank), retained states."""

    beats: list[Beat] = field(default_factory=list)
    online: dict[str, bool] = field(default_factory=dict)
    states: dict[str, BankState] = field(default_factory=dict)


def record(engine: Engine, seen: Seen, now: datetime, skew_alarm_s: float) -> None:
    """Write what was seen in one transaction, a few statements whatever the number of banks;
    banks the cloud does not know are left out."""
    with transaction(engine) as s:
        links = _changing(s, seen.online)
        banks = {b.bank_id for b in seen.beats} | set(links) | set(seen.states)
        _lock(s, banks)
        alarms.note_open(s, banks)  # clearing what is not open then costs nothing
        _heartbeats(s, seen.beats, now, skew_alarm_s)
        _links(s, links, now)
        if seen.states:
            rows = [
                {"bank": b, "state": st.model_dump(mode="json")} for b, st in seen.states.items()
            ]
            query = update(Bank).where(col(Bank.id) == bindparam("bank"))
            s.connection().execute(query.values(state=bindparam("state")), rows)


def record_each(engine: Engine, seen: Seen, now: datetime, skew_alarm_s: float) -> list[str]:
    """``record``, each bank in a transaction of its own: for when the whole was refused. What
    the database refuses of one bank (its data, a bug) is logged and costs the others nothing;
    losing the database raises. The banks refused."""
    refused: list[str] = []
    for bank_id, part in _apart(seen).items():
        try:
            record(engine, part, now, skew_alarm_s)
        except Exception as exc:
            if lost_database(exc):
                raise
            log.exception("bank %s: its heartbeat, status or state not recorded", bank_id)
            refused.append(bank_id)
    return refused


def _apart(seen: Seen) -> dict[str, Seen]:
    """What was seen, bank by bank."""
    parts: dict[str, Seen] = {}
    for beat in seen.beats:
        parts.setdefault(beat.bank_id, Seen()).beats.append(beat)
    for bank_id, online in seen.online.items():
        parts.setdefault(bank_id, Seen()).online[bank_id] = online
    for bank_id, state in seen.states.items():
        parts.setdefault(bank_id, Seen()).states[bank_id] = state
    return parts


def _changing(s: Session, online: dict[str, bool]) -> dict[str, bool]:
    """The banks of ``online`` whose link it changes: in a burst every bank with an event is
    seen, and nearly all are online already; those are neither locked nor written. A sweep that
    marks one offline after this read holds until the bank's next message, as it would had it
    committed just after this write."""
    if not online:
        return {}
    query = select(Bank.id, Bank.online, Bank.status_since).where(
        bulk.among(s, Bank.id, list(online))
    )
    return {
        bank: online[bank]
        for bank, up, since in s.exec(query)
        if up is not online[bank] or since is None
    }


def _lock(s: Session, bank_ids: set[str]) -> None:
    """The banks' rows locked in id order: two workers writing presence, or one writing and one
    sweeping, never wait on each other in a circle. ``NO KEY UPDATE``, as an UPDATE takes: it
    lets ingest's inserts (their foreign keys take ``KEY SHARE``) go on."""
    if bank_ids:
        query = select(Bank.id).where(bulk.among(s, Bank.id, bank_ids)).order_by(col(Bank.id))
        s.exec(query.with_for_update(key_share=True)).all()  # FOR NO KEY UPDATE


def _heartbeats(s: Session, beats: list[Beat], now: datetime, skew_alarm_s: float) -> None:
    """Each bank's last heartbeat, clock and stream (since when it is ahead of the cloud's
    cursor, if it is); its clock alarm raised or cleared, its stall alarm cleared once it is
    caught up."""
    if not beats:
        return
    skews = {b.bank_id: _skew(b) for b in beats}
    rows = [
        {
            "id": b.bank_id,
            "last_heartbeat_at": b.received_at,
            "clock_skew_s": skews[b.bank_id],
            "edge_last_seq": b.heartbeat.last_seq,
        }
        for b in beats
    ]
    _write_beats(s, rows)
    skewed = {bank for bank, skew in skews.items() if abs(skew) > skew_alarm_s}
    alarms.raise_open(s, _known(s, skewed), SKEW, at=now)
    alarms.clear_open(s, set(skews) - skewed, SKEW, now)
    if not alarms.may_be_open(s, skews, STALLED, None):
        return
    caught_up = select(Bank.id).where(
        col(Bank.id).in_(list(skews)), col(Bank.edge_ahead_since).is_(None)
    )
    alarms.clear_open(s, list(s.exec(caught_up)), STALLED, now)


def _write_beats(s: Session, rows: Sequence[bulk.Row]) -> None:
    """``rows`` of ``Bank`` columns written with ``_beating``: on PostgreSQL one statement for
    every bank (an ``executemany`` sends a statement per row), on SQLite one per bank."""
    if bulk.postgres(s):
        r = bulk.relation(Bank, list(rows[0]))
        query = _beating(r.c.__getitem__)
        s.connection().execute(query, {"rows": bulk.rows_json(rows)})
        return
    # typed binds (a time stored as the column type writes it), named apart from the columns
    typed = {name: bindparam(f"_{name}", type_=inspect(Bank).c[name].type) for name in rows[0]}
    query = _beating(typed.__getitem__)
    s.connection().execute(query, [{f"_{n}": v for n, v in row.items()} for row in rows])


def _beating(value: Callable[[str], ColumnElement[Any]]) -> Update:
    """A heartbeat written, each ``Bank`` column from ``value(name)``: when it came, the bank's
    clock and stream, and since when it has been ahead of the cloud's cursor (none once the
    cursor has reached ``edge_last_seq``)."""
    at, last = value("last_heartbeat_at"), value("edge_last_seq")
    applied = select(BankCursor.applied_seq).where(col(BankCursor.bank_id) == col(Bank.id))
    ahead = case(
        (last <= func.coalesce(applied.scalar_subquery(), 0), None),
        else_=func.coalesce(col(Bank.edge_ahead_since), at),
    )
    return (
        update(Bank)
        .where(col(Bank.id) == value("id"))
        .values(
            last_heartbeat_at=at,
            clock_skew_s=value("clock_skew_s"),
            edge_last_seq=last,
            edge_ahead_since=ahead,
        )
    )


def _skew(beat: Beat) -> float:
    return round((beat.heartbeat.edge_time - beat.received_at).total_seconds(), 3)


def _known(s: Session, bank_ids: Collection[str]) -> list[str]:
    if not bank_ids:
        return []
    return list(s.exec(select(Bank.id).where(col(Bank.id).in_(list(bank_ids)))))


def _links(s: Session, online: dict[str, bool], now: datetime) -> None:
    """Banks online or offline as last seen; an alarm for each that went offline, cleared for
    each that came back."""
    for state in (True, False):
        banks = [bank for bank, up in online.items() if up is state]
        if not banks:
            continue
        changed = (col(Bank.online).is_not(state)) | col(Bank.status_since).is_(None)
        query = update(Bank).where(bulk.among(s, Bank.id, banks), changed)
        query = query.values(online=state, status_since=now).returning(col(Bank.id))
        moved = list(s.execute(query.execution_options(synchronize_session=False)).scalars())
        for bank in moved:
            log.info("bank %s is %s", bank, "online" if state else "offline")
        if state:
            alarms.clear_open(s, moved, OFFLINE, now)
        else:
            alarms.raise_open(s, moved, OFFLINE, at=now)


def _set_online(s: Session, bank: Bank, online: bool, at: datetime) -> None:
    if bank.online == online and bank.status_since is not None:
        return
    bank.online, bank.status_since = online, at
    if online:
        alarms.clear_open(s, [bank.id], OFFLINE, at)
    else:
        alarms.raise_open(s, [bank.id], OFFLINE, at=at)
    log.info("bank %s is %s", bank.id, "online" if online else "offline")


def record_status(
    engine: Engine, bank_id: str, status: BankStatus, now: datetime | None = None
) -> None:
    now = now or utcnow()
    record(engine, Seen(online={bank_id: status.state == "online"}), now, 0.0)


def record_heartbeat(
    engine: Engine, bank_id: str, beat: Heartbeat, received_at: datetime, skew_alarm_s: float
) -> None:
    seen = Seen(beats=[Beat(bank_id, beat, received_at)], online={bank_id: True})
    record(engine, seen, received_at, skew_alarm_s)


def record_state(engine: Engine, bank_id: str, state: BankState) -> None:
    record(engine, Seen(states={bank_id: state}), utcnow(), 0.0)


def sweep_silent(engine: Engine, timeout_s: float, now: datetime | None = None) -> list[str]:
    """Mark offline every online bank whose heartbeats stopped; the ids marked."""
    now = now or utcnow()
    limit = now - timedelta(seconds=timeout_s)
    with transaction(engine) as s:
        query = select(Bank).where(col(Bank.online).is_(True), col(Bank.last_heartbeat_at) < limit)
        silent = list(s.exec(query.order_by(col(Bank.id)).with_for_update(key_share=True)))
        for bank in silent:
            _set_online(s, bank, False, now)
            s.add(bank)
        return [bank.id for bank in silent]


def sweep_stalled(engine: Engine, stall_after_s: float, now: datetime | None = None) -> list[str]:
    """Raise ``stream.stalled`` for each bank ahead of its cursor while the cursor has not moved
    for ``stall_after_s``, and clear it where it moved; the ids stalled. One read of the banks
    ahead and two statements, however many banks (a fleet in a burst is ahead everywhere)."""
    now = now or utcnow()
    limit = now - timedelta(seconds=stall_after_s)
    query = (
        rows_of(
            col(Bank.id),
            col(Bank.edge_last_seq),
            col(Bank.edge_ahead_since),
            col(BankCursor.applied_seq),
            col(BankCursor.advanced_at),
        )
        .join(BankCursor, col(BankCursor.bank_id) == col(Bank.id))
        .where(col(Bank.edge_ahead_since).is_not(None))
    )
    stalled: list[str] = []
    moving: list[str] = []
    with transaction(engine) as s:
        for bank_id, last_seq, ahead_since, applied_seq, advanced_at in s.execute(query):
            behind = (last_seq or 0) > applied_seq
            since = max(_aware(ahead_since), _aware(advanced_at))
            (stalled if behind and since < limit else moving).append(bank_id)
        alarms.clear_open(s, moving, STALLED, now)
        alarms.raise_open(s, stalled, STALLED, at=now)
    return stalled


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)
