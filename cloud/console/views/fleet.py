"""The fleet page: every bank the viewer sees, with its link and its load.

``fleet(engine, viewer, filters, limit=, offset=)`` answers a ``FleetPage``: the matching banks
(site, online or offline and since when, last heartbeat, clock skew, open alarms) with their
occupancy by size (in the locker, total, reserved, out of service) and by carrier, ordered by
site name and bank id. Filters: a site, online or offline, only banks with open alarms, and a
text found in the bank's id or name or its site's name. Four statements per page, whatever the
number of banks: the page, its count, and grouped counts of compartments, parcels and holds.
``loads(s, bank_ids)`` is the grouped part, for the bank page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Subquery, case, func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from cloud.console.views.scope import Viewer, clamp, sites_seen
from cloud.core.db import transaction
from cloud.models import (
    Alarm,
    Bank,
    Compartment,
    Parcel,
    ParcelStatus,
    Reservation,
    ReservationState,
    Site,
)
from cloud.services import bulk

IN_LOCKER = (ParcelStatus.IN_LOCKER, ParcelStatus.RETURN_PENDING)  # a parcel behind a door
Rows = Select[Bank, str, Any]


@dataclass(frozen=True)
class SizeLoad:
    size: str
    total: int
    in_locker: int
    reserved: int
    out_of_service: int


@dataclass(frozen=True)
class CarrierLoad:
    carrier_id: str
    in_locker: int
    reserved: int


@dataclass(frozen=True)
class Load:
    """A bank's occupancy: by size (smallest first), by carrier (by id)."""

    sizes: tuple[SizeLoad, ...] = ()
    carriers: tuple[CarrierLoad, ...] = ()

    @property
    def total(self) -> int:
        return sum(size.total for size in self.sizes)

    @property
    def in_locker(self) -> int:
        return sum(size.in_locker for size in self.sizes)


@dataclass(frozen=True)
class BankRow:
    bank_id: str
    name: str
    site_id: str
    site_name: str
    online: bool
    status_since: datetime | None
    last_heartbeat_at: datetime | None
    clock_skew_s: float | None
    open_alarms: int
    load: Load


@dataclass(frozen=True)
class FleetFilter:
    site_id: str | None = None
    online: bool | None = None  # None: both
    with_alarms: bool = False
    text: str = ""


@dataclass(frozen=True)
class FleetPage:
    banks: tuple[BankRow, ...]
    total: int  # banks matching the filters, on every page
    limit: int
    offset: int


def fleet(
    engine: Engine,
    viewer: Viewer,
    filters: FleetFilter = FleetFilter(),
    *,
    limit: int = 50,
    offset: int = 0,
) -> FleetPage:
    limit, offset = clamp(limit), max(offset, 0)
    with transaction(engine) as s:
        alarms = _open_alarms()
        query = (
            select(Bank, Site.name, func.coalesce(alarms.c.n, 0))
            .join(Site, col(Site.id) == col(Bank.site_id))
            .outerjoin(alarms, alarms.c.bank_id == col(Bank.id))
            .where(sites_seen(s, viewer))
        )
        query = _filtered(query, filters, alarms.c.n)
        total = s.exec(select(func.count()).select_from(query.subquery())).one()
        page = s.exec(
            query.order_by(col(Site.name), col(Bank.id)).limit(limit).offset(offset)
        ).all()
        found = loads(s, [bank.id for bank, _, _ in page])
        rows = tuple(
            _row(bank, site_name, int(n), found.get(bank.id, Load())) for bank, site_name, n in page
        )
    return FleetPage(rows, int(total), limit, offset)


def _open_alarms() -> Subquery:
    query = select(Alarm.bank_id, func.count().label("n")).where(col(Alarm.cleared_at).is_(None))
    return query.group_by(col(Alarm.bank_id)).subquery()


def _filtered(query: Rows, filters: FleetFilter, alarms: ColumnElement[int]) -> Rows:
    if filters.site_id is not None:
        query = query.where(col(Bank.site_id) == filters.site_id)
    if filters.online is not None:
        query = query.where(col(Bank.online).is_(filters.online))
    if filters.with_alarms:
        query = query.where(alarms > 0)
    text = filters.text.strip().lower()
    if text:
        query = query.where(
            func.lower(col(Bank.id)).contains(text, autoescape=True)
            | func.lower(col(Bank.name)).contains(text, autoescape=True)
            | func.lower(col(Site.name)).contains(text, autoescape=True)
        )
    return query


def _row(bank: Bank, site_name: str, alarms: int, load: Load) -> BankRow:
    return BankRow(
        bank_id=bank.id,
        name=bank.name,
        site_id=bank.site_id,
        site_name=site_name,
        online=bank.online,
        status_since=bank.status_since,
        last_heartbeat_at=bank.last_heartbeat_at,
        clock_skew_s=bank.clock_skew_s,
        open_alarms=alarms,
        load=load,
    )


def loads(s: Session, bank_ids: Collection[str]) -> dict[str, Load]:
    """Each bank's occupancy, in three grouped statements; for banks the caller may see."""
    if not bank_ids:
        return {}
    sizes: dict[str, dict[str, list[int]]] = defaultdict(dict)  # total, in, reserved, out
    for bank, size, total, out in _compartments(s, bank_ids):
        sizes[bank][size] = [int(total), 0, 0, int(out)]
    carriers: dict[str, dict[str, list[int]]] = defaultdict(dict)  # in, reserved
    for index, rows in ((1, _parcels(s, bank_ids)), (2, _holds(s, bank_ids))):
        for bank, size, carrier, n in rows:
            if size in sizes[bank]:
                sizes[bank][size][index] += int(n)
            carriers[bank].setdefault(carrier, [0, 0])[index - 1] += int(n)
    return {bank: _load(sizes[bank], carriers[bank]) for bank in bank_ids}


def _load(sizes: dict[str, list[int]], carriers: dict[str, list[int]]) -> Load:
    return Load(
        sizes=tuple(SizeLoad(size, *counts) for size, counts in sizes.items()),
        carriers=tuple(CarrierLoad(c, *counts) for c, counts in sorted(carriers.items())),
    )


def _compartments(s: Session, bank_ids: Collection[str]) -> list[tuple[str, str, int, int]]:
    out = func.sum(case((col(Compartment.in_service).is_(False), 1), else_=0))
    query = (
        select(Compartment.bank_id, Compartment.size, func.count(), out)
        .where(bulk.among(s, Compartment.bank_id, bank_ids))
        .group_by(col(Compartment.bank_id), col(Compartment.size))
        .order_by(col(Compartment.bank_id), func.min(col(Compartment.size_rank)))
    )
    return [(b, z, int(n), int(o or 0)) for b, z, n, o in s.exec(query)]


def _parcels(s: Session, bank_ids: Collection[str]) -> list[tuple[str, str, str, int]]:
    query = (
        select(Parcel.bank_id, Compartment.size, Parcel.carrier_id, func.count())
        .join(Compartment, col(Compartment.id) == col(Parcel.compartment_id))
        .where(bulk.among(s, Parcel.bank_id, bank_ids), col(Parcel.status).in_(IN_LOCKER))
        .group_by(col(Parcel.bank_id), col(Compartment.size), col(Parcel.carrier_id))
    )
    return [(b, z, c, int(n)) for b, z, c, n in s.exec(query)]


def _holds(s: Session, bank_ids: Collection[str]) -> list[tuple[str, str, str, int]]:
    query = (
        select(Reservation.bank_id, Compartment.size, Reservation.carrier_id, func.count())
        .join(Compartment, col(Compartment.id) == col(Reservation.compartment_id))
        .where(
            bulk.among(s, Reservation.bank_id, bank_ids),
            col(Reservation.state) == ReservationState.ACTIVE,
        )
        .group_by(col(Reservation.bank_id), col(Compartment.size), col(Reservation.carrier_id))
    )
    return [(b, z, c, int(n)) for b, z, c, n in s.exec(query)]
