"""Banks with room near a full one: what a refusal offers instead, looked up after the refused
transaction ended, never under a bank's lock.

The search widens in steps: the sites within a box around the full bank's site (an indexable
range on latitude and longitude), nearest first by great-circle distance, then their free
fitting compartments counted in one grouped query for a page of candidates at a time. A bank is
named once it is no farther than the box's radius, so the answer is the true nearest whatever
the step it was found in; the last step has no box."""

from __future__ import annotations

import math
from typing import NamedTuple

from sqlalchemy import ColumnElement, ScalarSelect, and_, func
from sqlmodel import Session, col, select

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
    here = s.exec(select(Site.lat, Site.lon).join(Bank).where(Bank.id == bank_id)).first()
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
    query = select(Bank.id, Site.lat, Site.lon).join(Site).where(Bank.id != bank_id)
    if not math.isinf(radius):
        query = query.where(_box(here, radius))
    distances = sorted((km(here[0], here[1], lat, lon), bank) for bank, lat, lon in s.exec(query))
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


def _box(here: tuple[float, float], radius: float) -> ColumnElement[bool]:
    """Sites within ``radius`` km north, south, east and west: a superset of the circle."""
    lat, lon = here
    dlat = radius / KM_PER_DEGREE
    dlon = radius / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    return and_(
        col(Site.lat).between(lat - dlat, lat + dlat), col(Site.lon).between(lon - dlon, lon + dlon)
    )


def held_ids(banks: list[str]) -> tuple[ScalarSelect[str], ScalarSelect[str | None]]:
    """The compartments of ``banks`` held by an active reservation, and those a parcel is in."""
    reserved = select(Reservation.compartment_id).where(
        col(Reservation.bank_id).in_(banks), Reservation.state == ReservationState.ACTIVE
    )
    occupied = select(Parcel.compartment_id).where(
        col(Parcel.bank_id).in_(banks), col(Parcel.status).in_(HOLDING_PARCEL)
    )
    return reserved.scalar_subquery(), occupied.scalar_subquery()


def free_fitting(
    s: Session, banks: list[str], size: Size, klass: str = TemperatureClass.AMBIENT
) -> dict[str, int]:
    """Free compartments of ``size`` or larger, of class ``klass``, at each of ``banks`` (0
    where none), one query."""
    if not banks:
        return {}
    reserved, occupied = held_ids(banks)
    query = (
        select(Compartment.bank_id, func.count())
        .where(
            col(Compartment.bank_id).in_(banks),
            col(Compartment.in_service).is_(True),
            col(Compartment.size_rank) >= size.rank,
            col(Compartment.temperature_class) == str(klass),
            col(Compartment.id).not_in(reserved),
            col(Compartment.id).not_in(occupied),
        )
        .group_by(col(Compartment.bank_id))
    )
    counts = dict(s.exec(query).all())
    return {bank: int(counts.get(bank, 0)) for bank in banks}


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return EARTH_KM * 2 * math.asin(math.sqrt(a))
