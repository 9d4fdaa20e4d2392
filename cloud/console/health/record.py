"""Door health from the door events ingest applies, counted set-wise in its batch transaction.

``record`` takes the batch's events in each bank's order, reads the watched state of the doors
they name in one SELECT, counts each door's day in memory, and writes the days and the watches
back in two upserts (``INSERT ... ON CONFLICT DO UPDATE``, adding to a day's counts; one
statement each, ``cloud.services.bulk``): no query per event. A bank's events are applied under
its cursor's lock, so no two transactions count one door at once. Times are the bank's own
(``happened_at``: the envelope's time), days their UTC date.

What is counted (``DoorDay``): unlocks asked; opens after an unlock and their latency (from the
``door.unlock_requested`` of the same intent to ``door.opened``); jams; unknown outcomes; doors
left open; openings without an unlock (``door.forced_open``), told apart as a **flap** when the
door had shut less than ``FLAP_WINDOW_S`` before (a door sensor bouncing open and shut, no
person behind it), else as a forced opening.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, select

from cloud.console.health.tables import DoorDay, DoorWatch
from cloud.models import InboundEvent
from cloud.services import bulk
from cloud.services.aside import lost_database
from cloud.services.auth import aware

log = logging.getLogger(__name__)

FLAP_WINDOW_S = 5.0  # an opening without an unlock this soon after the door shut is a flap
LATENCY_MAX_MS = 120_000  # an open later than this after its unlock is not timed (not a lock)
DOOR_EVENTS = frozenset(
    {
        "door.unlock_requested",
        "door.opened",
        "door.jammed",
        "door.forced_open",
        "door.closed",
        "door.left_open",
        "door.outcome_unknown",
    }
)

Door = tuple[str, str]  # bank, label


@dataclass
class Tally:
    """One door's day, as counted from this batch (added to what is stored)."""

    unlocks: int = 0
    opens: int = 0
    measured: int = 0
    latency_ms_sum: int = 0
    latency_ms_max: int = 0
    jams: int = 0
    unknown: int = 0
    forced: int = 0
    flaps: int = 0
    left_open: int = 0


COUNTS = tuple(f.name for f in fields(Tally))


@dataclass
class Watch:
    unlock_intent: str | None = None
    unlock_at: datetime | None = None
    closed_at: datetime | None = None


def record_safely(s: Session, events: Sequence[InboundEvent]) -> None:
    """``record`` in a savepoint: a failure of door health is logged and never stops ingest
    (losing the database still does)."""
    try:
        with s.begin_nested():
            record(s, events)
    except Exception as exc:
        if lost_database(exc):
            raise
        log.exception("door health of %d events not recorded", len(events))


def record(s: Session, events: Sequence[InboundEvent]) -> None:
    """Count the door events among ``events`` (in each bank's order) into their doors' days."""
    door_events = [e for e in events if e.type in DOOR_EVENTS and _label(e) is not None]
    if not door_events:
        return
    watches = _load(s, {(e.bank_id, str(_label(e))) for e in door_events})
    days: dict[tuple[str, str, date], Tally] = {}
    for event in door_events:
        door = (event.bank_id, str(_label(event)))
        at = aware(event.happened_at or event.received_at)
        tally = days.setdefault((*door, at.date()), Tally())
        count(event.type, event.body, at, watches.setdefault(door, Watch()), tally)
    _write_days(s, days)
    _write_watches(s, watches)


def count(kind: str, body: dict[str, Any], at: datetime, watch: Watch, tally: Tally) -> None:
    """What one door event adds to its day, and to what its door's next events are measured
    against."""
    intent = body.get("intent_id")
    if kind == "door.unlock_requested":
        tally.unlocks += 1
        watch.unlock_intent, watch.unlock_at = intent, at
    elif kind == "door.opened":
        _opened(intent, at, watch, tally)
    elif kind == "door.forced_open":
        shut = watch.closed_at
        flap = shut is not None and (at - aware(shut)).total_seconds() <= FLAP_WINDOW_S
        tally.flaps += flap
        tally.forced += not flap
    elif kind == "door.jammed":
        tally.jams += 1
        watch.unlock_intent = watch.unlock_at = None
    elif kind == "door.outcome_unknown":
        tally.unknown += 1
    elif kind == "door.left_open":
        tally.left_open += 1
    elif kind == "door.closed":
        watch.closed_at = at


def _opened(intent: object, at: datetime, watch: Watch, tally: Tally) -> None:
    tally.opens += 1
    asked = watch.unlock_at
    if intent is None or intent != watch.unlock_intent or asked is None:
        return
    latency_ms = round((at - aware(asked)).total_seconds() * 1000)
    watch.unlock_intent = watch.unlock_at = None
    if 0 <= latency_ms <= LATENCY_MAX_MS:
        tally.measured += 1
        tally.latency_ms_sum += latency_ms
        tally.latency_ms_max = max(tally.latency_ms_max, latency_ms)


def _label(event: InboundEvent) -> str | None:
    label = event.body.get("compartment")
    return label if isinstance(label, str) else None


def _load(s: Session, doors: set[Door]) -> dict[Door, Watch]:
    banks = sorted({bank for bank, _ in doors})
    labels = sorted({label for _, label in doors})
    query = select(DoorWatch).where(
        bulk.among(s, DoorWatch.bank_id, banks), bulk.among(s, DoorWatch.label, labels)
    )
    return {
        (w.bank_id, w.label): Watch(w.unlock_intent, w.unlock_at, w.closed_at)
        for w in s.exec(query)
        if (w.bank_id, w.label) in doors
    }


def _write_days(s: Session, days: dict[tuple[str, str, date], Tally]) -> None:
    rows = [
        {"bank_id": bank, "label": label, "day": day} | {n: getattr(t, n) for n in COUNTS}
        for (bank, label, day), t in days.items()
    ]
    insert, params = bulk.insert_rows(s, DoorDay, rows)
    table, new = insert.table.c, insert.excluded
    added = {n: table[n] + new[n] for n in COUNTS if n != "latency_ms_max"}
    longer = new.latency_ms_max > table.latency_ms_max
    added["latency_ms_max"] = case((longer, new.latency_ms_max), else_=table.latency_ms_max)
    keys = ["bank_id", "label", "day"]
    s.connection().execute(insert.on_conflict_do_update(index_elements=keys, set_=added), params)


def _write_watches(s: Session, watches: dict[Door, Watch]) -> None:
    rows = [
        {"bank_id": bank, "label": label} | vars(watch) for (bank, label), watch in watches.items()
    ]
    insert, params = bulk.insert_rows(s, DoorWatch, rows)
    kept = {name: insert.excluded[name] for name in ("unlock_intent", "unlock_at", "closed_at")}
    upsert = insert.on_conflict_do_update(index_elements=["bank_id", "label"], set_=kept)
    s.connection().execute(upsert, params)
