"""Events from banks enter the cloud here, and only here: ``ingest_batch`` (``ingest_event`` is a
batch of one).

A batch of events, of any banks, is one transaction. Each event is stored once (its event id is
the key: a redelivery is skipped by ``INSERT ... ON CONFLICT DO NOTHING``, no lookup first) and
each bank's events are applied strictly in ``seq`` order: an event that arrives after a gap is
parked and applied when the gap fills. The banks' cursors are locked in bank order (several
workers never deadlock on them) and written back in one statement. Applying an event
(``cloud.services.effects``) updates parcels and their history, compartments, alarms and
reservations, one event at a time, in order.

One event never stops a bank (decision 0009): storing runs as one bulk insert in a savepoint;
if it fails (a value the database refuses), the batch is stored again event by event, each in a
savepoint, and what still fails is set aside (``cloud.services.aside``). Applying runs the same
way: all of the batch in one savepoint, and if any event fails, again with a savepoint per
event, so that the failing one alone is rolled back, kept raw and counted as done; the others
are applied. Losing the database itself sets nothing aside: the whole batch is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, literal, update
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.coldchain import ingest as coldchain  # zones' samples kept (issue 17)
from cloud.console.health import record as door_health  # doors' days, counted set-wise
from cloud.core.db import transaction
from cloud.models import Bank, BankCursor, InboundEvent
from cloud.services import alarms, aside, bulk, effects, notices
from cloud.services.aside import Aside, Identity, Refusal, lost_database, why
from cloud.services.errors import CloudError, Conflict, NotFound
from locker_contract.events import Envelope, ParcelDeposited

log = logging.getLogger(__name__)

SEALED_MARK = "[in the recipient's notification]"  # what a stored deposit keeps of its code


@dataclass(frozen=True)
class Unreadable:
    """An event of ``bank_id`` the contract refuses: set aside if its id and seq can be read."""

    bank_id: str
    payload: bytes
    reason: str


Arrival = Envelope | Unreadable


@dataclass(frozen=True)
class Ingested:
    duplicate: bool
    applied_seq: int  # everything up to here is done: what the bank may drop from its outbox
    parked: int  # events waiting for a gap to fill
    refused: tuple[Refusal, ...] = ()  # events this batch set aside (quarantined)


@dataclass
class Batch:
    """What one batch did: per bank that sent anything accepted, how far it is done."""

    banks: dict[str, Ingested] = field(default_factory=dict)
    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, CloudError]] = field(default_factory=list)  # neither kept nor done


@dataclass
class _Work:
    now: datetime
    cursors: dict[str, int]  # bank -> applied seq, moved as events apply
    before: dict[str, int]
    accepted: set[str] = field(default_factory=set)  # banks owed an ack
    duplicated: set[str] = field(default_factory=set)  # banks that sent a redelivery
    stored: set[str] = field(default_factory=set)  # banks that sent something new
    refused: dict[str, list[Refusal]] = field(default_factory=dict)
    parked: dict[str, int] = field(default_factory=dict)
    ready: set[str] = field(default_factory=set)  # ids stored as applied: next in their stream
    batch: Batch = field(default_factory=Batch)

    def refuse(self, bank_id: str, refusal: Refusal) -> None:
        self.refused.setdefault(bank_id, []).append(refusal)

    def reject(self, bank_id: str, error: CloudError) -> None:
        self.batch.rejected.append((bank_id, error))


def ingest_batch(engine: Engine, arrivals: Sequence[Arrival], now: datetime | None = None) -> Batch:
    """Store and apply ``arrivals`` (in arrival order per bank) in one transaction, at ``now``
    (what the events' receipt, the cursors and the alarms they clear are stamped with)."""
    now = now or utcnow()
    with transaction(engine) as s:
        return _ingest(s, arrivals, now)


def ingest_event(engine: Engine, envelope: Envelope, now: datetime | None = None) -> Ingested:
    """Store ``envelope`` once and apply every event of its bank that is now in order."""
    return _one(ingest_batch(engine, [envelope], now), envelope.bank_id)


def ingest_unreadable(
    engine: Engine, bank_id: str, payload: bytes, reason: str, now: datetime | None = None
) -> Ingested | None:
    """An event of ``bank_id`` the contract refuses: set aside if its id and seq can be read, so
    that the stream goes on past it; None (nothing done) if not even they can."""
    if aside.read_identity(bank_id, payload) is None:
        return None
    return _one(ingest_batch(engine, [Unreadable(bank_id, payload, reason)], now), bank_id)


def _one(batch: Batch, bank_id: str) -> Ingested:
    if bank_id in batch.banks:
        return batch.banks[bank_id]
    raise batch.rejected[0][1]


def _ingest(s: Session, arrivals: Sequence[Arrival], now: datetime) -> Batch:
    cursors = _lock_cursors(s, {a.bank_id for a in arrivals})
    work = _Work(now, cursors, dict(cursors))
    fresh, unreadable, known = _sort(arrivals, work)
    work.ready = _next_in_line(fresh, work.cursors)
    inserted = _store_all(s, fresh, work)
    work.ready &= inserted
    _tell_apart(s, [e for e in fresh if str(e.event_id) not in inserted] + known, work)
    for item in unreadable:
        _store_unreadable(s, item, work)
    _apply_all(s, work)
    _write_cursors(s, work)
    for bank in sorted(work.accepted):
        refused = tuple(sorted(work.refused.get(bank, []), key=lambda r: r.seq))
        duplicate = bank in work.duplicated and bank not in work.stored
        ingested = Ingested(duplicate, work.cursors[bank], work.parked.get(bank, 0), refused)
        work.batch.banks[bank] = ingested
    return work.batch


def _lock_cursors(s: Session, bank_ids: set[str]) -> dict[str, int]:
    """The banks' cursors, their rows locked in bank order (SQLite: ``BEGIN IMMEDIATE``); a
    bank's first event makes its cursor. An unknown bank has none."""
    banks = sorted(bank_ids)
    query = (
        select(BankCursor.bank_id, BankCursor.applied_seq)
        .where(bulk.among(s, BankCursor.bank_id, banks))
        .order_by(col(BankCursor.bank_id))
        .with_for_update()
    )
    found = {bank: seq for bank, seq in s.exec(query)}
    missing = [bank for bank in banks if bank not in found]
    if missing:
        known = select(Bank.id, literal(0)).where(bulk.among(s, Bank.id, missing))
        insert = bulk.insert_ignoring(s, BankCursor)
        s.execute(insert.from_select(["bank_id", "applied_seq"], known))
        more = query.where(bulk.among(s, BankCursor.bank_id, missing))
        found |= {bank: seq for bank, seq in s.exec(more)}
    return found


Unstorable = tuple[str, Identity, str, str]  # bank, what can be read, raw text, why


def _sort(
    arrivals: Sequence[Arrival], work: _Work
) -> tuple[list[Envelope], list[Unstorable], list[Envelope]]:
    """Events new to the stream, events the contract refused, and events at or below their
    bank's cursor (a redelivery, or a seq reused: told apart by id); unknown banks rejected."""
    fresh: list[Envelope] = []
    unreadable: list[Unstorable] = []
    known: list[Envelope] = []
    seen: set[str] = set()
    for arrival in arrivals:
        bank = arrival.bank_id
        if bank not in work.cursors:
            work.reject(bank, NotFound(f"no bank {bank}"))
            continue
        if isinstance(arrival, Unreadable):
            ident = aside.read_identity(bank, arrival.payload)
            if ident is None:
                work.reject(bank, Conflict(arrival.reason))
            else:
                unreadable.append((bank, ident, aside.raw_text(arrival.payload), arrival.reason))
            continue
        event_id = str(arrival.event_id)
        if event_id in seen or arrival.seq <= work.cursors[bank]:
            known.append(arrival)
        else:
            fresh.append(arrival)
        seen.add(event_id)
    return fresh, unreadable, known


def body(envelope: Envelope) -> dict[str, object]:
    """What the cloud keeps of an event: its fields; of a deposit's sealed code, a mark only."""
    kept = envelope.event.model_dump(mode="json")
    if isinstance(envelope.event, ParcelDeposited):
        kept["sealed_code"] = None if envelope.event.sealed_code is None else SEALED_MARK
    return kept


def stored_body(s: Session, envelope: Envelope) -> dict[str, object]:
    """``body``, the pickup code handed on to the recipient's notification."""
    if isinstance(envelope.event, ParcelDeposited):
        _notify(s, envelope, envelope.event)
    return body(envelope)


def _notify(s: Session, envelope: Envelope, event: ParcelDeposited) -> None:
    """Hand the sealed pickup code to the recipient's message (``cloud.services.notices``)."""
    notices.record_deposit(s, envelope, event)


def _next_in_line(fresh: Sequence[Envelope], cursors: dict[str, int]) -> set[str]:
    """The ids of the events that follow their bank's cursor without a gap among ``fresh``:
    those applied in this batch unless one fails, and so stored as applied at once (a second
    write of each row, to mark it, cost a quarter of a batch, issue 13). ``_mark_applied``
    puts right what turns out otherwise."""
    reached = dict(cursors)
    ready: set[str] = set()
    for envelope in sorted(fresh, key=lambda e: (e.bank_id, e.seq)):
        if envelope.seq == reached[envelope.bank_id] + 1:
            reached[envelope.bank_id] = envelope.seq
            ready.add(str(envelope.event_id))
    return ready


def _row(envelope: Envelope, now: datetime, applied: bool) -> dict[str, object]:
    return {
        "event_id": str(envelope.event_id),
        "bank_id": envelope.bank_id,
        "seq": envelope.seq,
        "type": envelope.event.type,
        "body": body(envelope),
        "received_at": now,
        "happened_at": envelope.time,  # what carriers' webhooks report (cloud.webhooks.outbox)
        "applied": applied,
    }


def _insert(s: Session, envelopes: Sequence[Envelope], now: datetime, ready: set[str]) -> set[str]:
    """Insert what no constraint holds yet (id or bank and seq); the ids inserted. Each new
    deposit's notification goes with it."""
    if not envelopes:
        return set()
    rows = [_row(envelope, now, str(envelope.event_id) in ready) for envelope in envelopes]
    inserted = bulk.insert_new(s, InboundEvent, rows, "event_id")
    coldchain.store_samples(s, [e for e in envelopes if str(e.event_id) in inserted])  # issue 17
    for envelope in envelopes:
        if str(envelope.event_id) in inserted and isinstance(envelope.event, ParcelDeposited):
            _notify(s, envelope, envelope.event)
    s.flush()
    return inserted


def _store_all(s: Session, fresh: Sequence[Envelope], work: _Work) -> set[str]:
    """One bulk insert in a savepoint; if the database refuses it, event by event, each in a
    savepoint, setting aside what it still refuses."""
    try:
        with s.begin_nested():
            inserted = _insert(s, fresh, work.now, work.ready)
    except Exception as exc:
        if lost_database(exc):
            raise
        inserted = set()
        for envelope in fresh:
            inserted |= _store_one(s, envelope, work)
    work.stored |= {e.bank_id for e in fresh if str(e.event_id) in inserted}
    work.accepted |= work.stored
    work.batch.stored += len(inserted)
    return inserted


def _store_one(s: Session, envelope: Envelope, work: _Work) -> set[str]:
    try:
        with s.begin_nested():
            return _insert(s, [envelope], work.now, work.ready)
    except Exception as exc:
        if lost_database(exc):
            raise
        raw = envelope.model_dump_json()
        held = aside.hold_unstored(s, envelope.bank_id, aside.identity(envelope), raw, why(exc))
        work.refuse(envelope.bank_id, held)
        return {str(envelope.event_id)}


def _tell_apart(s: Session, others: Sequence[Envelope], work: _Work) -> None:
    """Events not inserted: a redelivery (its id is stored: a duplicate, acknowledged again)
    or another event under a seq already taken (refused)."""
    if not others:
        return
    ids = sorted({str(e.event_id) for e in others})
    query = select(InboundEvent.event_id).where(bulk.among(s, InboundEvent.event_id, ids))
    stored = set(s.exec(query))
    for envelope in others:
        if str(envelope.event_id) in stored:
            work.batch.duplicates += 1
            work.accepted.add(envelope.bank_id)
            work.duplicated.add(envelope.bank_id)
        else:
            taken = f"bank {envelope.bank_id} already sent seq {envelope.seq} with another id"
            work.reject(envelope.bank_id, Conflict(taken))


def _store_unreadable(s: Session, item: Unstorable, work: _Work) -> None:
    bank, ident, raw, reason = item
    taken = select(InboundEvent.event_id).where(
        InboundEvent.bank_id == bank, InboundEvent.seq == ident.seq
    )
    already = s.exec(taken).first()
    if already == ident.event_id:
        work.batch.duplicates += 1
        work.accepted.add(bank)
        work.duplicated.add(bank)
    elif already is not None or ident.seq <= work.cursors[bank]:
        work.reject(bank, Conflict(f"bank {bank} already sent seq {ident.seq} with another id"))
    else:
        work.refuse(bank, aside.hold_unstored(s, bank, ident, raw, reason))
        work.accepted.add(bank)
        work.stored.add(bank)


# --- applying in order ------------------------------------------------------------------------


def _waiting(s: Session, work: _Work) -> dict[str, list[InboundEvent]]:
    """Each bank's stored events past its cursor, in seq order (one query for the batch)."""
    banks = sorted(work.accepted)
    query = (
        select(InboundEvent)
        .join(BankCursor, col(BankCursor.bank_id) == col(InboundEvent.bank_id))
        .where(bulk.among(s, InboundEvent.bank_id, banks))
        .where(col(InboundEvent.seq) > col(BankCursor.applied_seq))
        .order_by(col(InboundEvent.bank_id), col(InboundEvent.seq))
    )
    waiting: dict[str, list[InboundEvent]] = {}
    for event in s.exec(query):
        waiting.setdefault(event.bank_id, []).append(event)
    return waiting


def _in_order(events: list[InboundEvent], cursor: int) -> list[InboundEvent]:
    """The events that follow ``cursor`` without a gap."""
    run: list[InboundEvent] = []
    for event in events:
        if event.seq != cursor + len(run) + 1:
            break
        run.append(event)
    return run


def _apply_all(s: Session, work: _Work) -> None:
    """Apply every bank's events that are now in order: the whole batch in one savepoint, or
    if anything in it fails, again one savepoint per event."""
    if not work.accepted:
        return
    waiting = _waiting(s, work)
    runs = {bank: _in_order(events, work.cursors[bank]) for bank, events in waiting.items()}
    for bank, events in waiting.items():
        work.parked[bank] = len(events) - len(runs[bank])
    ids = {event.event_id for run in runs.values() for event in run}
    held = aside.load_aside(s, sorted(work.accepted), ids)
    alarms.note_open(s, [bank for bank, run in runs.items() if run])
    try:
        with s.begin_nested():
            refused = _apply_runs(s, runs, held.copy(), work, guarded=False)
    except Exception as exc:
        if lost_database(exc):
            raise
        refused = _apply_runs(s, runs, held.copy(), work, guarded=True)
    door_health.record_safely(s, [event for run in runs.values() for event in run])  # C1
    for bank, run in runs.items():
        if run:
            work.cursors[bank] = run[-1].seq
    for bank, refusal in refused:
        work.refuse(bank, refusal)


def _apply_runs(
    s: Session, runs: dict[str, list[InboundEvent]], held: Aside, work: _Work, *, guarded: bool
) -> list[tuple[str, Refusal]]:
    refused: list[tuple[str, Refusal]] = []
    applied: set[str] = set()
    now = work.now
    for event in (event for run in runs.values() for event in run):
        if event.event_id in held.on_receipt:
            continue  # set aside when it arrived
        reason = held.behind(event)
        if reason is None and guarded:
            reason = apply_one(s, event, now)
        elif reason is None:
            effects.apply(s, event, effects.parsed(event), now)
        if reason is None:
            applied.add(event.event_id)
            continue
        refused.append((event.bank_id, aside.hold_stored(s, event, reason)))
        parcel = event.body.get("parcel_id")
        held.hold(event.bank_id, parcel if isinstance(parcel, str) else None, event.seq)
    tried = {event.event_id for run in runs.values() for event in run}
    _mark_applied(s, applied - work.ready, True)
    _mark_applied(s, (work.ready & tried) - applied, False)  # stored as applied, set aside
    return refused


def _mark_applied(s: Session, event_ids: Collection[str], applied: bool) -> None:
    if event_ids:
        query = update(InboundEvent).where(bulk.among(s, InboundEvent.event_id, event_ids))
        s.execute(query.values(applied=applied).execution_options(synchronize_session=False))


def apply_one(s: Session, event: InboundEvent, now: datetime) -> str | None:
    """Apply one stored event in a savepoint: None if it was, else why not (and nothing of it
    was applied)."""
    try:
        with s.begin_nested():
            effects.apply(s, event, effects.parsed(event), now)
            event.applied = True
            s.add(event)
    except Exception as exc:
        if lost_database(exc):
            raise
        return why(exc)
    return None


def _write_cursors(s: Session, work: _Work) -> None:
    """The cursors that moved, in one statement."""
    moved = [
        {"bank_id": bank, "applied_seq": seq}
        for bank, seq in work.cursors.items()
        if seq != work.before[bank]
    ]
    bulk.update_rows(s, BankCursor, "bank_id", moved, {"advanced_at": work.now})
