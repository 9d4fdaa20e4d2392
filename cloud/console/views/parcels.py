"""The parcels page: parcels behind doors by how long they have waited, and a search.

A parcel's dwell counts from its last deposit (its latest ``in_locker`` event) to ``now``, the
caller's clock. ``BUCKETS`` is the table of dwell buckets: under 1 day, 1 to 3, 3 to 7, 7 and
more; a bucket holds its lower edge and not its upper one (exactly one day is "1-3 days").
``buckets`` counts the parcels in each in one statement; ``waiting`` lists them, oldest first,
one bucket or all, by page; ``search`` finds parcels (any status) whose waybill or recipient's
phone ends with the digits given. A phone is only ever shown masked (``mask_phone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Engine, ScalarSelect, Select, Subquery, case, func, text
from sqlalchemy import select as select_many
from sqlmodel import Session, col, select

from cloud.console.views.fleet import IN_LOCKER
from cloud.console.views.scope import Viewer, banks_seen, clamp
from cloud.core.db import transaction
from cloud.models import Bank, Compartment, Parcel, ParcelEvent, ParcelStatus, Site
from cloud.services.errors import Invalid
from cloud.services.personal_data import mask_phone

BEHIND_DOORS = f"status IN ({', '.join(repr(s.value) for s in IN_LOCKER)})"  # as SQL text
SEARCH_MIN = 4  # digits a search needs: fewer would list a whole bank
# a phone is searched by its last digits up to this many (尾号): a longer suffix would be an
# oracle that tells a whole number, one digit at a time, behind its mask
PHONE_SEARCH_MAX = 4


class Bucket(StrEnum):
    UNDER_1 = "under_1d"
    FROM_1_TO_3 = "1_to_3d"
    FROM_3_TO_7 = "3_to_7d"
    OVER_7 = "over_7d"


BUCKETS: tuple[tuple[Bucket, timedelta, timedelta | None], ...] = (  # [lower, upper)
    (Bucket.UNDER_1, timedelta(0), timedelta(days=1)),
    (Bucket.FROM_1_TO_3, timedelta(days=1), timedelta(days=3)),
    (Bucket.FROM_3_TO_7, timedelta(days=3), timedelta(days=7)),
    (Bucket.OVER_7, timedelta(days=7), None),
)


@dataclass(frozen=True)
class ParcelRow:
    parcel_id: str
    waybill: str
    carrier_id: str
    bank_id: str
    bank_name: str
    site_name: str
    compartment: str | None
    status: str
    phone: str  # masked: never more than its last two digits
    deposited_at: datetime | None
    dwell: timedelta | None  # at the caller's ``now``; None if never deposited

    @property
    def bucket(self) -> Bucket | None:
        return None if self.dwell is None else bucket_of(self.dwell)


@dataclass(frozen=True)
class ParcelPage:
    parcels: tuple[ParcelRow, ...]
    total: int
    limit: int
    offset: int


def bucket_of(dwell: timedelta) -> Bucket:
    for bucket, lower, upper in BUCKETS:
        if dwell >= lower and (upper is None or dwell < upper):
            return bucket
    return Bucket.UNDER_1  # a deposit after ``now`` (a clock behind): it has not waited


def _last_deposit() -> ScalarSelect[datetime]:
    """The outer query's parcel's last deposit: one look in its events by the parcel's index."""
    query = select_many(func.max(col(ParcelEvent.at))).where(
        col(ParcelEvent.parcel_id) == col(Parcel.id),
        col(ParcelEvent.status) == ParcelStatus.IN_LOCKER,
    )
    return query.scalar_subquery()


def _behind_doors(s: Session, viewer: Viewer, site_id: str | None) -> Subquery:
    """The viewer's parcels behind doors (of one site, if given), with their last deposit."""
    columns: Select[str, datetime] = select_many(
        col(Parcel.id).label("parcel_id"), _last_deposit().label("at")
    )
    query: Select[str, datetime] = _scoped(s, viewer, columns, site_id)
    # the predicate of the partial index on parcels in lockers, as written there (cloud.models)
    return query.where(text(BEHIND_DOORS)).subquery()


def _in_bucket(at: ColumnElement[datetime], bucket: Bucket, now: datetime) -> ColumnElement[bool]:
    _, lower, upper = next(row for row in BUCKETS if row[0] is bucket)
    condition = at <= now - lower if bucket is not Bucket.UNDER_1 else at.is_not(None)
    return condition if upper is None else condition & (at > now - upper)


def buckets(
    engine: Engine, viewer: Viewer, now: datetime, *, site_id: str | None = None
) -> dict[Bucket, int]:
    """How many parcels behind doors are in each bucket, in one statement."""
    with transaction(engine) as s:
        inner = _behind_doors(s, viewer, site_id)
        counts = [
            func.sum(case((_in_bucket(inner.c.at, b, now), 1), else_=0)) for b, _, _ in BUCKETS
        ]
        row = s.execute(select_many(*counts).select_from(inner)).one()
    return {b: int(n or 0) for (b, _, _), n in zip(BUCKETS, row, strict=True)}


def _scoped(s: Session, viewer: Viewer, query: Any, site_id: str | None) -> Any:
    query = query.select_from(Parcel).where(col(Parcel.bank_id).in_(banks_seen(s, viewer)))
    if site_id is not None:
        query = query.where(
            col(Parcel.bank_id).in_(select(Bank.id).where(col(Bank.site_id) == site_id))
        )
    return query


def waiting(
    engine: Engine,
    viewer: Viewer,
    now: datetime,
    *,
    bucket: Bucket | None = None,
    site_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ParcelPage:
    """Parcels behind doors, longest waiting first; one bucket's, or all."""
    limit, offset = clamp(limit), max(offset, 0)
    with transaction(engine) as s:
        inner = _behind_doors(s, viewer, site_id)
        query = _rows(inner.c.at).join(inner, inner.c.parcel_id == col(Parcel.id))
        if bucket is not None:
            query = query.where(_in_bucket(inner.c.at, bucket, now))
        total = s.execute(select_many(func.count()).select_from(query.subquery())).scalar_one()
        query = query.order_by(inner.c.at, col(Parcel.id)).limit(limit).offset(offset)
        rows = tuple(_row(r, now) for r in s.execute(query))
    return ParcelPage(rows, int(total), limit, offset)


def search(
    engine: Engine, viewer: Viewer, digits: str, now: datetime, *, limit: int = 50
) -> tuple[ParcelRow, ...]:
    """Parcels whose waybill ends with ``digits``, or whose recipient's phone ends with them
    (``PHONE_SEARCH_MAX`` digits at most), newest first."""
    digits = digits.strip()
    if len(digits) < SEARCH_MIN or not digits.isalnum() or not digits.isascii():
        raise Invalid(f"search with at least {SEARCH_MIN} letters or digits")
    ends = col(Parcel.waybill).endswith(digits, autoescape=True)
    if digits.isdigit() and len(digits) <= PHONE_SEARCH_MAX:
        ends = ends | col(Parcel.recipient_phone).endswith(digits, autoescape=True)
    with transaction(engine) as s:
        query = _scoped(s, viewer, _rows(_last_deposit()), None).where(ends)
        query = query.order_by(col(Parcel.created_at).desc(), col(Parcel.id)).limit(clamp(limit))
        return tuple(_row(r, now) for r in s.execute(query))


def _rows(deposited_at: ColumnElement[datetime]) -> Select[Parcel, str, str, str, datetime]:
    return (
        select_many(Parcel, col(Bank.name), col(Site.name), col(Compartment.label), deposited_at)
        .select_from(Parcel)
        .join(Bank, col(Bank.id) == col(Parcel.bank_id))
        .join(Site, col(Site.id) == col(Bank.site_id))
        .outerjoin(Compartment, col(Compartment.id) == col(Parcel.compartment_id))
    )


def _row(found: Any, now: datetime) -> ParcelRow:
    parcel, bank_name, site_name, label, deposited_at = found
    return ParcelRow(
        parcel_id=parcel.id,
        waybill=parcel.waybill,
        carrier_id=parcel.carrier_id,
        bank_id=parcel.bank_id,
        bank_name=bank_name,
        site_name=site_name,
        compartment=label,
        status=str(parcel.status),
        phone=mask_phone(parcel.recipient_phone),
        deposited_at=deposited_at,
        dwell=None if deposited_at is None else now - deposited_at,
    )
