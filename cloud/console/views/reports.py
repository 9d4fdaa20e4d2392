"""A site's daily and monthly report: deposits, pickups, refusals, returns, mean dwell, door
faults and uptime, over the site's own day or month (its ``timezone``).

- Counts are a site's parcel events in the period, by kind (``records.PARCELS``).
- Mean dwell: over the parcels that left (picked up or returned) in the period, from their last
  deposit before leaving; None when none left.
- Door faults: alarms of ``DOOR_FAULTS`` raised in the period, by kind.
- Uptime: the share of the period (up to ``now``) the site's banks were online, from the
  presence history the cloud keeps: each ``bank.offline`` alarm is one offline interval, raised
  when the bank went offline and cleared when it came back (``cloud.services.presence``). A bank
  is counted up before its first offline, and the whole period for every bank the site has now.
  None for a period not begun or a site without banks.
Four statements per report, whatever the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import ColumnElement, Engine, func
from sqlalchemy import select as select_many
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from cloud.console.views.records import PARCELS, Kind
from cloud.console.views.scope import Viewer, seen_site, utc
from cloud.core.db import transaction
from cloud.models import Alarm, Bank, Parcel, ParcelEvent, ParcelStatus, Site
from cloud.services import bulk
from cloud.services.errors import Invalid
from cloud.services.presence import OFFLINE

DOOR_FAULTS = ("door.jammed", "door.forced_open", "door.left_open")
LEFT = (ParcelStatus.PICKED_UP, ParcelStatus.RETURNED)  # a dwell ends with these


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware
    label: str  # 2026-12-01 or 2026-12


@dataclass(frozen=True)
class SiteReport:
    site_id: str
    site_name: str
    period: Period
    deposits: int
    pickups: int
    refusals: int
    returns: int
    mean_dwell: timedelta | None
    door_faults: int
    faults: dict[str, int] = field(default_factory=dict)  # by alarm kind
    uptime: float | None = None  # 0 to 1


def _zone(site: Site) -> tzinfo:
    try:
        return ZoneInfo(site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _local(day: date, zone: tzinfo) -> datetime:
    return utc(datetime(day.year, day.month, day.day, tzinfo=zone))


def _after(day: date, days: int = 1) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        raise Invalid("a day out of range") from None


def daily(engine: Engine, viewer: Viewer, site_id: str, day: date, *, now: datetime) -> SiteReport:
    """The site's report for its local ``day``."""
    with transaction(engine) as s:
        site = seen_site(s, viewer, site_id)
        zone = _zone(site)
        start, end = _local(day, zone), _local(_after(day), zone)
        return _report(s, site, Period(start, end, day.isoformat()), now)


def monthly(
    engine: Engine, viewer: Viewer, site_id: str, month: date, *, now: datetime
) -> SiteReport:
    """The site's report for its local calendar month (the one ``month`` is a day of)."""
    year, number = month.year, month.month
    first = date(year, number, 1)
    after = _after(date(year, number, 28), 4).replace(day=1)
    with transaction(engine) as s:
        site = seen_site(s, viewer, site_id)
        zone = _zone(site)
        period = Period(_local(first, zone), _local(after, zone), f"{year:04d}-{number:02d}")
        return _report(s, site, period, now)


def _report(s: Session, site: Site, period: Period, now: datetime) -> SiteReport:
    banks = list(s.exec(select(Bank.id).where(col(Bank.site_id) == site.id)))
    counts = _counts(s, banks, period)
    faults = _faults(s, banks, period)
    return SiteReport(
        site_id=site.id,
        site_name=site.name,
        period=period,
        deposits=counts.get(PARCELS.kinds[Kind.DEPOSIT], 0),
        pickups=counts.get(PARCELS.kinds[Kind.PICKUP], 0),
        refusals=counts.get(PARCELS.kinds[Kind.REFUSAL], 0),
        returns=counts.get(PARCELS.kinds[Kind.RETURN], 0),
        mean_dwell=_mean_dwell(s, banks, period),
        door_faults=sum(faults.values()),
        faults=faults,
        uptime=_uptime(s, banks, period, now),
    )


def _counts(s: Session, banks: list[str], period: Period) -> dict[str, int]:
    if not banks:
        return {}
    query = (
        select(ParcelEvent.status, func.count())
        .join(Parcel, col(Parcel.id) == col(ParcelEvent.parcel_id))
        .where(bulk.among(s, Parcel.bank_id, banks), *_within(col(ParcelEvent.at), period))
        .group_by(col(ParcelEvent.status))
    )
    return {str(status): int(n) for status, n in s.exec(query)}


def _within(at: Any, period: Period) -> tuple[ColumnElement[bool], ...]:
    return at >= period.start, at < period.end


def _epoch(s: Session, at: Any) -> ColumnElement[Any]:
    """Seconds since 1970 of ``at``, in the session's dialect."""
    if bulk.postgres(s):
        return func.extract("epoch", at)
    return (func.julianday(at) - 2440587.5) * 86400.0


def _mean_dwell(s: Session, banks: list[str], period: Period) -> timedelta | None:
    if not banks:
        return None
    left, deposit = aliased(ParcelEvent), aliased(ParcelEvent)
    deposited = (
        select_many(func.max(deposit.at))
        .where(
            col(deposit.parcel_id) == col(left.parcel_id),
            col(deposit.status) == ParcelStatus.IN_LOCKER,
            col(deposit.at) <= col(left.at),
        )
        .scalar_subquery()
    )
    query = (
        select_many(func.avg(_epoch(s, col(left.at)) - _epoch(s, deposited)))
        .join(Parcel, col(Parcel.id) == left.parcel_id)
        .where(
            bulk.among(s, Parcel.bank_id, banks),
            col(left.status).in_(LEFT),
            *_within(col(left.at), period),
        )
    )
    mean = s.execute(query).scalar_one()
    return None if mean is None else timedelta(seconds=round(float(mean), 3))


def _faults(s: Session, banks: list[str], period: Period) -> dict[str, int]:
    if not banks:
        return {}
    query = (
        select(Alarm.kind, func.count())
        .where(
            bulk.among(s, Alarm.bank_id, banks),
            col(Alarm.kind).in_(DOOR_FAULTS),
            *_within(col(Alarm.raised_at), period),
        )
        .group_by(col(Alarm.kind))
    )
    return {kind: int(n) for kind, n in s.exec(query)}


def _uptime(s: Session, banks: list[str], period: Period, now: datetime) -> float | None:
    end = min(period.end, now)
    if not banks or end <= period.start:
        return None
    query = select(Alarm.raised_at, Alarm.cleared_at).where(
        bulk.among(s, Alarm.bank_id, banks),
        col(Alarm.kind) == OFFLINE,
        col(Alarm.raised_at) < end,
        col(Alarm.cleared_at).is_(None) | (col(Alarm.cleared_at) > period.start),
    )
    offline = timedelta(0)
    for raised, cleared in s.exec(query):
        offline += min(cleared or end, end) - max(raised, period.start)
    whole = (end - period.start) * len(banks)
    return round(1 - offline / whole, 6)
