"""Banks with room near a full one: what a refusal offers instead, looked up after the refused
transaction ended, never under a bank's lock.

The search widens in steps: the sites within a box around the full bank's site (an indexable
range on latitude and longitude), nearest first by great-circle distance, then their free
fitting compartments counted in one grouped query for a page of candidates at a time. A bank is
named once it is no farther than the box's radius, so the answer is the true nearest whatever
the step it was found in; the last step has no box."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import BindParameter, ColumnElement, String, any_, bindparam, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from cloud.models import Bank, Compartment, Parcel, Reservation, ReservationState, Site, Size
from cloud.services.allocation_queries import HOLDING_PARCEL
from locker_contract.cold import TemperatureClass

NEAREST = 3  # banks named in a refusal
PAGE = 16  # candidates whose room is counted in one query
RADII_KM = (5.0, 50.0, 500.0, math.inf)  # the widening steps
EARTH_KM = 6371.0
KM_PER_DEGREE = 111.0

Nearby = dict[str, object]


def nearest_with_room(
    s: Session, bank_id: str, size: Size, klass: str = TemperatureClass.AMBIENT
) -> list[Nearby]:
    """Up to ``NEAREST`` other banks with a free compartment of ``size`` or larger and of class
    ``klass``, nearest first: ``bank_id``, ``distance_km``, ``free``."""
    here = s.connection().execute(_HERE, {"bank": bank_id}).first()
    if here is None:
        return []
    lat, lon = here
    for radius in RADII_KM:
        found = _within(s, bank_id, (lat, lon), radius, Fitting(size, str(klass)))
        if len(found) >= NEAREST or math.isinf(radius):
            return found[:NEAREST]
    return []  # pragma: no cover - the last radius is unbounded


class Fitting(NamedTuple):
    """What a compartment must be to take the parcel: this size or larger, of this class."""

    size: Size
    klass: str = TemperatureClass.AMBIENT


def _within(
    s: Session, bank_id: str, here: tuple[float, float], radius: float, fits: Fitting
) -> list[Nearby]:
    """The banks with room no farther than ``radius`` km, nearest first (until ``NEAREST``)."""
    if math.isinf(radius):
        rows = s.connection().execute(_ANYWHERE, {"bank": bank_id})
    else:
        rows = s.connection().execute(_AROUND, {"bank": bank_id, **_box(here, radius)})
    distances = sorted((km(here[0], here[1], lat, lon), bank) for bank, lat, lon in rows)
    found: list[Nearby] = []
    for start in range(0, len(distances), PAGE):
        page = [(d, b) for d, b in distances[start : start + PAGE] if d <= radius]
        room = free_fitting(s, [b for _, b in page], fits.size, fits.klass)
        found += [
            {"bank_id": b, "distance_km": round(d, 2), "free": room[b]} for d, b in page if room[b]
        ]
        if len(found) >= NEAREST or len(page) < PAGE:
            break
    return found


def _box(here: tuple[float, float], radius: float) -> dict[str, float]:
    """Sites within ``radius`` km north, south, east and west: a superset of the circle."""
    lat, lon = here
    dlat = radius / KM_PER_DEGREE
    dlon = radius / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    return {"south": lat - dlat, "north": lat + dlat, "west": lon - dlon, "east": lon + dlon}


def free_fitting(
    s: Session, banks: list[str], size: Size, klass: str = TemperatureClass.AMBIENT
) -> dict[str, int]:
    """Free compartments of ``size`` or larger, of class ``klass``, at each of ``banks`` (0
    where none), one query."""
    if not banks:
        return {}
    query = _FREE_FITTING[s.get_bind().dialect.name == "postgresql"]
    params = {"banks": banks, "rank": size.rank, "klass": str(klass)}
    rows: Iterable[tuple[str, int]] = s.connection().execute(query, params)
    counts = dict(iter(rows))  # a result has keys(): dict() would take it for a mapping
    return {bank: int(counts.get(bank, 0)) for bank in banks}


# Built once, with bound parameters: a refusal runs them (decision 0032)
_BANK: BindParameter[str] = bindparam("bank", type_=String())
_HERE = select(Site.lat, Site.lon).join(Bank).where(Bank.id == _BANK)
_ANYWHERE = select(Bank.id, Site.lat, Site.lon).join(Site).where(Bank.id != _BANK)
_AROUND = _ANYWHERE.where(
    col(Site.lat).between(bindparam("south"), bindparam("north")),
    col(Site.lon).between(bindparam("west"), bindparam("east")),
)


def _free_fitting(postgres: bool) -> Select[str, int]:
    """The free fitting count for a list of banks: one array parameter on PostgreSQL (the same
    statement whatever the list's length), an ``IN`` list on SQLite, which has no arrays."""

    def among(column: InstrumentedAttribute[str] | str) -> ColumnElement[bool]:
        if postgres:
            return col(column) == any_(bindparam("banks", type_=ARRAY(String())))
        return col(column).in_(bindparam("banks", expanding=True))

    reserved = select(Reservation.compartment_id).where(
        among(Reservation.bank_id), Reservation.state == ReservationState.ACTIVE
    )
    occupied = select(Parcel.compartment_id).where(
        among(Parcel.bank_id), col(Parcel.status).in_(HOLDING_PARCEL)
    )
    return (
        select(Compartment.bank_id, func.count())
        .where(
            among(Compartment.bank_id),
            col(Compartment.in_service).is_(True),
            col(Compartment.size_rank) >= bindparam("rank"),
            col(Compartment.temperature_class) == bindparam("klass", type_=String()),
            col(Compartment.id).not_in(reserved.scalar_subquery()),
            col(Compartment.id).not_in(occupied.scalar_subquery()),
        )
        .group_by(col(Compartment.bank_id))
    )


_FREE_FITTING = {postgres: _free_fitting(postgres) for postgres in (False, True)}


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return EARTH_KM * 2 * math.asin(math.sqrt(a))
