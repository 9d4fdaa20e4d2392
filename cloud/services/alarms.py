"""Alarms raised and cleared by ingest, whoever raises them and however many workers do at once.

One alarm is open per bank, kind and place (``compartment``: a label, a board, ``seq N``): a
unique partial index says so (migration 0005), and ``raise_open`` writes ``INSERT ... ON CONFLICT
DO NOTHING``, so that a second raise, by this worker or another, is no error and no second alarm.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from cloud.clock import utcnow
from cloud.models import Alarm, new_id
from cloud.services import bulk

KNOWN = "alarms.open"  # the session's note of the alarms that may be open (``note_open``)


def note_open(s: Session, bank_ids: Collection[str]) -> None:
    """Note, for the rest of the transaction, which alarms of ``bank_ids`` may be open: those
    open now and those raised from here on. ``clear_open`` then skips an UPDATE that could
    change nothing (most events clear an alarm that was never raised). Never fewer than are
    open, so skipping is safe: a savepoint rolled back only leaves an extra note. Only for
    alarms no other transaction raises meanwhile: ingest clears the kinds events raise, under
    the banks' cursors; presence the kinds of the link, under the banks' rows."""
    query = select(Alarm.bank_id, Alarm.kind, Alarm.compartment).where(
        bulk.among(s, Alarm.bank_id, bank_ids), col(Alarm.cleared_at).is_(None)
    )
    known: set[tuple[str, str, str | None]] = set()
    for bank, kind, where in s.exec(query):
        known |= {(bank, kind, where), (bank, kind, None)}
    s.info[KNOWN] = known


def may_be_open(s: Session, bank_ids: Collection[str], kind: str, where: str | None) -> bool:
    known: set[tuple[str, str, str | None]] | None = s.info.get(KNOWN)
    return known is None or any((bank, kind, where) in known for bank in bank_ids)


def raise_open(
    s: Session, bank_ids: Collection[str], kind: str, where: str = "", at: datetime | None = None
) -> None:
    """Open a ``kind`` alarm at ``where`` for each of ``bank_ids`` that has none open."""
    if not bank_ids:
        return
    at = at or utcnow()
    rows = [
        {"id": new_id(), "bank_id": bank, "kind": kind, "compartment": where, "raised_at": at}
        for bank in bank_ids
    ]
    s.execute(bulk.insert_ignoring(s, Alarm), rows)
    known: set[tuple[str, str, str | None]] | None = s.info.get(KNOWN)
    if known is not None:
        known |= {(bank, kind, place) for bank in bank_ids for place in (where, None)}


def clear_open(
    s: Session, bank_ids: Collection[str], kind: str, at: datetime, where: str | None = None
) -> int:
    """Clear the open ``kind`` alarms of ``bank_ids`` (at ``where`` only, if given); how many."""
    if not bank_ids or not may_be_open(s, bank_ids, kind, where):
        return 0
    query = update(Alarm).where(
        bulk.among(s, Alarm.bank_id, bank_ids),
        col(Alarm.kind) == kind,
        col(Alarm.cleared_at).is_(None),
    )
    if where is not None:
        query = query.where(col(Alarm.compartment) == where)
    result = s.execute(query.values(cleared_at=at).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
