"""Reading traces back: a parcel's from deposit to pickup, a zone's over a span; each scoped to
who asks (a carrier: its own parcels only; a console person: the sites it sees), else "not
found", never another's data.

A trace is computed when read, from the samples kept (``cloud.coldchain.trace``): samples sent
after the pickup (a bank offline, a batch not yet sent) complete it later. Whether the chain
held is the pickup's record (``ParcelChain.held``: no excursion of the zone met the stay).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.coldchain.ingest import excursions_met
from cloud.coldchain.tables import ColdExcursion, ColdSample, ParcelChain
from cloud.coldchain.trace import Reading, Span, Summary, summarise, within
from cloud.core.db import transaction
from cloud.models import Bank, Compartment, Parcel
from cloud.services.auth import Principal
from cloud.services.errors import Invalid, NotFound
from locker_contract.cold import TemperatureClass

ZONE_SPAN_MAX = timedelta(days=31)  # a zone's chart or export at most this long at once
PARCELS_SHOWN = 200  # a zone's page lists at most this many parcels of its span


@dataclass(frozen=True)
class Sample:
    at: datetime
    celsius: float | None
    humidity: float | None
    failure: str | None


@dataclass(frozen=True)
class Trace:
    """A zone's samples over a span, what they say, and the excursions that met it."""

    bank_id: str
    zone: str
    klass: TemperatureClass
    span: Span
    samples: list[Sample]
    summary: Summary
    excursions: list[ColdExcursion]


@dataclass(frozen=True)
class ParcelTrace:
    parcel_id: str
    waybill: str
    carrier_id: str
    site_id: str
    chain: ParcelChain
    trace: Trace

    @property
    def over(self) -> bool:
        """Whether the parcel left its zone (picked up or taken back)."""
        return self.chain.picked_up_at is not None


def samples(s: Session, bank_id: str, zone: str, span: Span) -> list[Sample]:
    """The zone's samples over ``span`` and the one standing when it began, oldest first."""
    wide = within(span)
    query = select(ColdSample).where(
        ColdSample.bank_id == bank_id,
        ColdSample.zone == zone,
        col(ColdSample.at) >= wide.start,
        col(ColdSample.at) <= wide.end,
    )
    rows = s.exec(query.order_by(col(ColdSample.at)))
    return [Sample(r.at, r.celsius, r.humidity, r.failure) for r in rows]


def trace(s: Session, bank_id: str, zone: str, klass: TemperatureClass, span: Span) -> Trace:
    found = samples(s, bank_id, zone, span)
    summary = summarise([Reading(x.at, x.celsius) for x in found], span, klass)
    met = excursions_met(s, (bank_id, zone), span.start, span.end)
    return Trace(bank_id, zone, klass, span, found, summary, met)


def _parcel_trace(s: Session, parcel: Parcel, now: datetime) -> ParcelTrace:
    chain = s.get(ParcelChain, parcel.id)
    bank = s.get(Bank, parcel.bank_id)
    if chain is None or bank is None:
        raise NotFound("no temperature trace for this parcel: it is not chilled or frozen")
    end = chain.picked_up_at or max(now, chain.deposited_at)
    klass = TemperatureClass(chain.temperature_class)
    found = trace(s, chain.bank_id, chain.zone, klass, Span(chain.deposited_at, end))
    return ParcelTrace(parcel.id, parcel.waybill, parcel.carrier_id, bank.site_id, chain, found)


def for_carrier(engine: Engine, who: Principal, waybill: str, now: datetime) -> ParcelTrace:
    """The trace of one of the carrier's own parcels; another's is "not found"."""
    with transaction(engine) as s:
        query = select(Parcel).where(Parcel.carrier_id == who.carrier, Parcel.waybill == waybill)
        parcel = s.exec(query).first()
        if parcel is None:
            raise NotFound("no such parcel")
        return _parcel_trace(s, parcel, now)


def for_sites(engine: Engine, sites: frozenset[str], parcel_id: str, now: datetime) -> ParcelTrace:
    """A parcel's trace for someone who sees ``sites``; a parcel elsewhere is "not found"."""
    with transaction(engine) as s:
        parcel = s.get(Parcel, parcel_id)
        bank = None if parcel is None else s.get(Bank, parcel.bank_id)
        if parcel is None or bank is None or bank.site_id not in sites:
            raise NotFound("no such parcel")
        return _parcel_trace(s, parcel, now)


def zone_for_sites(
    engine: Engine, sites: frozenset[str], where: tuple[str, str], span: Span
) -> Trace:
    """Zone ``where`` (bank, zone) over ``span`` for someone who sees ``sites``."""
    if span.end <= span.start or span.end - span.start > ZONE_SPAN_MAX:
        raise Invalid(f"a span of up to {ZONE_SPAN_MAX.days} days, its end after its start")
    bank_id, zone = where
    with transaction(engine) as s:
        bank = s.get(Bank, bank_id)
        query = select(Compartment.temperature_class).where(
            Compartment.bank_id == bank_id, Compartment.zone == zone
        )
        klass = s.exec(query).first()
        if bank is None or bank.site_id not in sites or klass is None:
            raise NotFound("no such zone")
        return trace(s, bank_id, zone, TemperatureClass(klass), span)


def zones(engine: Engine, sites: frozenset[str]) -> list[tuple[str, str, str]]:
    """Every zone (bank, zone, class) of the sites, in order."""
    with transaction(engine) as s:
        query = (
            select(Compartment.bank_id, Compartment.zone, Compartment.temperature_class)
            .join(Bank, col(Bank.id) == col(Compartment.bank_id))
            .where(col(Bank.site_id).in_(sorted(sites)), col(Compartment.zone).is_not(None))
            .distinct()
            .order_by(col(Compartment.bank_id), col(Compartment.zone))
        )
        return [(b, str(z), c) for b, z, c in s.exec(query)]


def parcels_in_zone(
    engine: Engine, sites: frozenset[str], where: tuple[str, str], span: Span
) -> list[tuple[str, str]]:
    """The cold parcels (id, waybill) whose stay in zone ``where`` met ``span``, newest first;
    none for a zone of a site not seen."""
    bank_id, zone = where
    with transaction(engine) as s:
        bank = s.get(Bank, bank_id)
        if bank is None or bank.site_id not in sites:
            return []
        query = (
            select(Parcel.id, Parcel.waybill)
            .join(ParcelChain, col(ParcelChain.parcel_id) == col(Parcel.id))
            .where(
                ParcelChain.bank_id == bank_id,
                ParcelChain.zone == zone,
                col(ParcelChain.deposited_at) < span.end,
                col(ParcelChain.picked_up_at).is_(None)
                | (col(ParcelChain.picked_up_at) > span.start),
            )
            .order_by(col(ParcelChain.deposited_at).desc())
            .limit(PARCELS_SHOWN)
        )
        return [(i, w) for i, w in s.exec(query)]
