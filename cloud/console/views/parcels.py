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

from sqlalchemy import ColumnElement, Engine, Select, Subquery, case, func
from sqlalchemy import select as select_many
from sqlmodel import Session, col, select

from cloud.console.views.fleet import IN_LOCKER
from cloud.console.views.scope import Viewer, banks_seen, clamp
from cloud.core.db import transaction
from cloud.models import Bank, Compartment, Parcel, ParcelEvent, ParcelStatus, Site
from cloud.services.errors import Invalid
from cloud.services.personal_data import mask_phone

SEARCH_MIN = 4  # digits a search needs: fewer would list a whole bank


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


def _deposits() -> Subquery:
    """Each parcel's last deposit."""
    query = select(ParcelEvent.parcel_id, func.max(ParcelEvent.at).label("at"))
    query = query.where(col(ParcelEvent.status) == ParcelStatus.IN_LOCKER)
    return query.group_by(col(ParcelEvent.parcel_id)).subquery()


def _in_bucket(at: ColumnElement[datetime], bucket: Bucket, now: datetime) -> ColumnElement[bool]:
    _, lower, upper = next(row for row in BUCKETS if row[0] is bucket)
    condition = at <= now - lower if bucket is not Bucket.UNDER_1 else at.is_not(None)
    return condition if upper is None else condition & (at > now - upper)


def buckets(
    engine: Engine, viewer: Viewer, now: datetime, *, site_id: str | None = None
) -> dict[Bucket, int]:
    """How many parcels behind doors are in each bucket, in one statement."""
    deposits = _deposits()
    counts = [
        func.sum(case((_in_bucket(deposits.c.at, b, now), 1), else_=0)) for b, _, _ in BUCKETS
    ]
    with transaction(engine) as s:
        query = _scoped(s, viewer, select_many(*counts), site_id)
        query = query.join(deposits, deposits.c.parcel_id == col(Parcel.id))
        row = s.execute(query.where(col(Parcel.status).in_(IN_LOCKER))).one()
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
    deposits = _deposits()
    with transaction(engine) as s:
        query = _scoped(s, viewer, _rows(deposits), site_id)
        query = query.where(col(Parcel.status).in_(IN_LOCKER))
        if bucket is not None:
            query = query.where(_in_bucket(deposits.c.at, bucket, now))
        total = s.execute(select_many(func.count()).select_from(query.subquery())).scalar_one()
        query = query.order_by(deposits.c.at, col(Parcel.id)).limit(limit).offset(offset)
        rows = tuple(_row(r, now) for r in s.execute(query))
    return ParcelPage(rows, int(total), limit, offset)


def search(
    engine: Engine, viewer: Viewer, digits: str, now: datetime, *, limit: int = 50
) -> tuple[ParcelRow, ...]:
    """Parcels whose waybill or recipient's phone ends with ``digits``, newest first."""
    digits = digits.strip()
    if len(digits) < SEARCH_MIN or not digits.isalnum() or not digits.isascii():
        raise Invalid(f"search with at least {SEARCH_MIN} letters or digits")
    deposits = _deposits()
    ends = col(Parcel.waybill).endswith(digits, autoescape=True)
    if digits.isdigit():
        ends = ends | col(Parcel.recipient_phone).endswith(digits, autoescape=True)
    with transaction(engine) as s:
        query = _scoped(s, viewer, _rows(deposits), None).where(ends)
        query = query.order_by(col(Parcel.created_at).desc(), col(Parcel.id)).limit(clamp(limit))
        return tuple(_row(r, now) for r in s.execute(query))


def _rows(deposits: Subquery) -> Select[Any]:
    return (
        select_many(Parcel, col(Bank.name), col(Site.name), col(Compartment.label), deposits.c.at)
        .join(Bank, col(Bank.id) == col(Parcel.bank_id))
        .join(Site, col(Site.id) == col(Bank.site_id))
        .outerjoin(Compartment, col(Compartment.id) == col(Parcel.compartment_id))
        .outerjoin(deposits, deposits.c.parcel_id == col(Parcel.id))
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
