"""The records page: who did what, when and where, as the 2019 locker measures ask, and its CSV.

A record is one of ``Kind``: a deposit, pickup, refusal or return (a parcel's status history,
``ParcelEvent``), a remote open, a maintenance or service change asked from the cloud (the audit
log's ``command:*`` entries: who asked), or a maintenance or service change the bank reports
(its events: done at the bank, ``who`` is ``bank``). ``BRANCHES`` is the table of those three
sources. ``who`` is the courier for a deposit, ``recipient`` for a pickup, the asking account
for a command; no phone is ever part of a record.

``records(engine, viewer, filters, after=cursor, limit=)`` is keyset-paginated, newest first:
each source is read in order up to ``limit`` rows past the cursor and the three are merged in
SQL, so a page costs the same at the end of a year as at its start. ``export_csv`` streams every
matching record as CSV text, a chunk of rows per statement and transaction (constant memory);
a cell a spreadsheet would run as a formula (``= + - @``, tab, CR) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Engine,
    RowMapping,
    String,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    text,
    union_all,
)
from sqlalchemy import select as select_many
from sqlmodel import Session, SQLModel, col

from cloud.console.views.indexes import REPORTED_TYPES
from cloud.console.views.scope import MAX_LIMIT, Viewer, banks_seen, clamp, json_text, utc
from cloud.core.db import transaction
from cloud.models import AuditEntry, Compartment, InboundEvent, Parcel, ParcelEvent, ParcelStatus
from cloud.services.errors import Invalid

CHUNK = MAX_LIMIT  # rows per statement of the CSV export (a page at most)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would evaluate such a cell
SHOWN_DETAIL = ("on", "in_service", "reason")  # of a command's audit entry or a bank's event


class Kind(StrEnum):
    DEPOSIT = "deposit"
    PICKUP = "pickup"
    REFUSAL = "refusal"
    RETURN = "return"
    REMOTE_OPEN = "remote_open"
    MAINTENANCE = "maintenance"
    SERVICE = "service"


@dataclass(frozen=True, eq=False)  # each is itself: hashed by identity
class Branch:
    """One source of records: its table, the column that tells the kind, and each kind's value
    there."""

    table: type[SQLModel]
    column: str
    kinds: Mapping[Kind, str]


PARCELS = Branch(
    ParcelEvent,
    "status",
    {
        Kind.DEPOSIT: ParcelStatus.IN_LOCKER,
        Kind.PICKUP: ParcelStatus.PICKED_UP,
        Kind.REFUSAL: ParcelStatus.RETURN_PENDING,
        Kind.RETURN: ParcelStatus.RETURNED,
    },
)
ASKED = Branch(
    AuditEntry,
    "action",
    {
        Kind.REMOTE_OPEN: "command:door.open",
        Kind.MAINTENANCE: "command:bank.maintenance",
        Kind.SERVICE: "command:compartment.service",
    },
)
REPORTED = Branch(
    InboundEvent,
    "type",
    {Kind.MAINTENANCE: "bank.maintenance", Kind.SERVICE: "compartment.service"},
)
BRANCHES = (PARCELS, ASKED, REPORTED)


@dataclass(frozen=True)
class Record:
    key: str  # unique; with ``at``, the keyset's position
    at: datetime
    kind: Kind
    bank_id: str
    compartment: str | None
    carrier_id: str | None
    who: str
    waybill: str | None
    detail: str  # on/off, in/out of service, the reason given

    @property
    def cursor(self) -> str:
        return f"{self.at.isoformat()}|{self.key}"


@dataclass(frozen=True)
class RecordFilter:
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    bank_id: str | None = None
    carrier_id: str | None = None
    kinds: frozenset[Kind] = frozenset()  # empty: every kind


@dataclass(frozen=True)
class RecordPage:
    records: tuple[Record, ...]
    next: str | None  # the cursor of the next page, None on the last


def records(
    engine: Engine,
    viewer: Viewer,
    filters: RecordFilter = RecordFilter(),
    *,
    after: str | None = None,
    limit: int = 50,
) -> RecordPage:
    limit, position = clamp(limit), _position(after)
    filters = replace(
        filters,
        since=None if filters.since is None else utc(filters.since),
        until=None if filters.until is None else utc(filters.until),
    )
    with transaction(engine) as s:
        found = _read(s, viewer, filters, position, limit + 1)
    more = len(found) > limit
    page = tuple(found[:limit])
    return RecordPage(page, page[-1].cursor if more and page else None)


def _position(cursor: str | None) -> tuple[datetime, str] | None:
    if cursor is None:
        return None
    at, sep, key = cursor.partition("|")
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        raise Invalid("not a records cursor") from None
    if not sep or not key:
        raise Invalid("not a records cursor")
    return utc(when), key


def _read(
    s: Session,
    viewer: Viewer,
    filters: RecordFilter,
    position: tuple[datetime, str] | None,
    limit: int,
) -> list[Record]:
    parts = []
    for branch in BRANCHES:
        kinds = [k for k in branch.kinds if not filters.kinds or k in filters.kinds]
        if not kinds or (filters.carrier_id is not None and branch is not PARCELS):
            continue
        query = _QUERIES[branch](s, viewer, kinds)
        columns = query.selected_columns
        query = query.where(*_conditions(columns, filters, position))
        query = query.order_by(columns.at.desc(), columns.key.desc()).limit(limit)
        parts.append(select_many(query.subquery()))
    if not parts:
        return []
    merged = union_all(*parts).subquery()
    query = select_many(merged).order_by(merged.c.at.desc(), merged.c.key.desc()).limit(limit)
    return [_record(row._mapping) for row in s.execute(query)]


def _conditions(
    columns: Any, filters: RecordFilter, position: tuple[datetime, str] | None
) -> list[ColumnElement[bool]]:
    found = []
    if filters.since is not None:
        found.append(columns.at >= filters.since)
    if filters.until is not None:
        found.append(columns.at < filters.until)
    if filters.bank_id is not None:
        found.append(columns.bank_id == filters.bank_id)
    if filters.carrier_id is not None:
        found.append(columns.carrier_id == filters.carrier_id)
    if position is not None:
        at, key = position
        # ``at <= at`` first, on its own: what an index on the time can range over
        found += [columns.at <= at, or_(columns.at < at, columns.key < key)]
    return found


def _kind(column: Any, branch: Branch, kinds: list[Kind]) -> ColumnElement[str]:
    return case(*((column == branch.kinds[k], literal(k.value)) for k in kinds))


def _parcels(s: Session, viewer: Viewer, kinds: list[Kind]) -> Any:
    status, values = col(ParcelEvent.status), [PARCELS.kinds[k] for k in kinds]
    who = case(
        (status == ParcelStatus.IN_LOCKER, func.coalesce(col(Parcel.courier_id), "")),
        (status == ParcelStatus.PICKED_UP, literal("recipient")),
        else_=literal(""),
    )
    return (
        select_many(
            (literal("p:") + cast(col(ParcelEvent.id), String)).label("key"),
            col(ParcelEvent.at).label("at"),
            _kind(status, PARCELS, kinds).label("kind"),
            col(Parcel.bank_id).label("bank_id"),
            col(Compartment.label).label("compartment"),
            col(Parcel.carrier_id).label("carrier_id"),
            who.label("who"),
            col(Parcel.waybill).label("waybill"),
            cast(null(), JSON).label("extra"),
        )
        .join(Parcel, col(Parcel.id) == col(ParcelEvent.parcel_id))
        .outerjoin(Compartment, col(Compartment.id) == col(Parcel.compartment_id))
        .where(status.in_(values), col(Parcel.bank_id).in_(banks_seen(s, viewer)))
    )


def _asked(s: Session, viewer: Viewer, kinds: list[Kind]) -> Any:
    action, values = col(AuditEntry.action), [ASKED.kinds[k] for k in kinds]
    return select_many(
        (literal("a:") + cast(col(AuditEntry.id), String)).label("key"),
        col(AuditEntry.at).label("at"),
        _kind(action, ASKED, kinds).label("kind"),
        col(AuditEntry.target).label("bank_id"),
        json_text(AuditEntry, "detail", "compartment").label("compartment"),
        cast(null(), String).label("carrier_id"),
        col(AuditEntry.actor).label("who"),
        cast(null(), String).label("waybill"),
        col(AuditEntry.detail).label("extra"),
    ).where(action.in_(values), col(AuditEntry.target).in_(banks_seen(s, viewer)))


def _reported(s: Session, viewer: Viewer, kinds: list[Kind]) -> Any:
    kind, values = col(InboundEvent.type), [REPORTED.kinds[k] for k in kinds]
    return select_many(
        (literal("e:") + col(InboundEvent.event_id)).label("key"),
        func.coalesce(col(InboundEvent.happened_at), col(InboundEvent.received_at)).label("at"),
        _kind(kind, REPORTED, kinds).label("kind"),
        col(InboundEvent.bank_id).label("bank_id"),
        json_text(InboundEvent, "body", "compartment").label("compartment"),
        cast(null(), String).label("carrier_id"),
        literal("bank").label("who"),
        cast(null(), String).label("waybill"),
        col(InboundEvent.body).label("extra"),
    ).where(
        text(REPORTED_TYPES),  # as the partial index says it, so that the index is used
        kind.in_(values),
        col(InboundEvent.applied).is_(True),
        col(InboundEvent.bank_id).in_(banks_seen(s, viewer)),
    )


_QUERIES = {PARCELS: _parcels, ASKED: _asked, REPORTED: _reported}


def _record(row: RowMapping) -> Record:
    extra = row["extra"] if isinstance(row["extra"], dict) else {}
    detail = " ".join(f"{k}={extra[k]}" for k in SHOWN_DETAIL if k in extra)
    return Record(
        key=row["key"],
        at=row["at"],
        kind=Kind(row["kind"]),
        bank_id=row["bank_id"],
        compartment=row["compartment"],
        carrier_id=row["carrier_id"],
        who=row["who"] or "",
        waybill=row["waybill"],
        detail=detail,
    )


COLUMNS = ("at", "kind", "bank", "compartment", "carrier", "who", "waybill", "detail")


def export_csv(
    engine: Engine, viewer: Viewer, filters: RecordFilter = RecordFilter(), *, chunk: int = CHUNK
) -> Iterator[str]:
    """Every matching record as CSV text, newest first: the header, then one piece per chunk
    of rows, each chunk read in its own short transaction."""
    yield _line(COLUMNS)
    after: str | None = None
    while True:
        page = records(engine, viewer, filters, after=after, limit=chunk)
        if page.records:
            yield "".join(_line(_cells(r)) for r in page.records)
        if page.next is None:
            return
        after = page.next


def _cells(r: Record) -> tuple[str, ...]:
    return (
        r.at.isoformat(),
        r.kind.value,
        r.bank_id,
        r.compartment or "",
        r.carrier_id or "",
        r.who,
        r.waybill or "",
        r.detail,
    )


def _line(cells: tuple[str, ...]) -> str:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerow(map(safe_cell, cells))
    return out.getvalue()


def safe_cell(value: str) -> str:
    """``value`` as a spreadsheet shows it, never as a formula it would run."""
    return "'" + value if value.startswith(FORMULA_START) else value
