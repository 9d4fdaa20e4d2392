"""What ingest does with a bank's cold-chain events, in its batch's transaction.

- ``store_samples``: the samples of a batch's new ``zone.samples`` events, set-based (one
  executemany of ``INSERT ... ON CONFLICT DO NOTHING``: a batch sent again adds nothing), called
  where ingest stores the events themselves.
- ``apply``: per event, in the bank's order (``cloud.services.effects``): an excursion is kept
  and raises a ``temperature_excursion`` alarm at its zone, cleared when it ends; a sensor that
  fails raises ``temperature_sensor``; a deposit into a chilled or frozen compartment opens the
  parcel's cold record (``ParcelChain``), and its pickup (or return) closes it with whether the
  chain held: no excursion of its zone overlapped its stay, and it went into its own class.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

from sqlmodel import Session, col, select

from cloud.coldchain.tables import ColdExcursion, ColdSample, ParcelChain
from cloud.models import Compartment, InboundEvent, Parcel
from cloud.services import alarms, bulk
from locker_contract.cold import TemperatureClass
from locker_contract.events import (
    Envelope,
    Event,
    FailedReading,
    ParcelDeposited,
    ParcelPickedUp,
    ParcelReturned,
    Reading,
    ZoneExcursionEnded,
    ZoneExcursionStarted,
    ZoneSamples,
    ZoneSensorHealth,
)

log = logging.getLogger(__name__)

EXCURSION = "temperature_excursion"  # an environment alarm, at its zone
SENSOR = "temperature_sensor"  # a watched zone's sensor failing, at its zone
ALARM_KINDS = (EXCURSION, SENSOR)


def store_samples(s: Session, envelopes: Sequence[Envelope]) -> int:
    """Keep the samples of the ``zone.samples`` events among ``envelopes``; how many rows were
    offered (a sample already kept is skipped by its key)."""
    rows: dict[tuple[str, str, datetime], dict[str, object]] = {}
    for envelope in envelopes:
        event = envelope.event
        if not isinstance(event, ZoneSamples):
            continue
        for sample in event.samples:
            key = (envelope.bank_id, event.zone, sample.at)
            rows[key] = {"bank_id": envelope.bank_id, "zone": event.zone, **_values(sample)}
    if rows:
        s.execute(bulk.insert_ignoring(s, ColdSample), list(rows.values()))
    return len(rows)


def _values(sample: Reading | FailedReading) -> dict[str, object]:
    if isinstance(sample, FailedReading):
        return {"at": sample.at, "celsius": None, "humidity": None, "failure": sample.failure}
    return {
        "at": sample.at,
        "celsius": sample.celsius,
        "humidity": sample.humidity,
        "failure": None,
    }


def apply(s: Session, row: InboundEvent, event: Event, now: datetime) -> None:
    """What a cold-chain event (or a parcel's, for its cold record) means; others: nothing."""
    bank = row.bank_id
    match event:
        case ZoneExcursionStarted():
            _started(s, bank, event)
        case ZoneExcursionEnded():
            _ended(s, bank, event)
        case ZoneSensorHealth(zone=zone, ok=False, since=since):
            alarms.raise_open(s, [bank], SENSOR, zone, since)
        case ZoneSensorHealth(zone=zone, ok=True, since=since):
            alarms.clear_open(s, [bank], SENSOR, since, zone)
        case ParcelDeposited():
            _deposited(s, bank, event, event.deposited_at or row.happened_at or now)
        case ParcelPickedUp(parcel_id=edge_id) | ParcelReturned(parcel_id=edge_id):
            close(s, bank, str(edge_id), row.happened_at or now)
        case _:
            pass


def _started(s: Session, bank: str, event: ZoneExcursionStarted) -> None:
    row = {
        "id": str(event.excursion_id),
        "bank_id": bank,
        "zone": event.zone,
        "temperature_class": str(event.temperature_class),
        "out_since": event.out_since,
        "detected_at": event.detected_at,
    }
    s.execute(bulk.insert_ignoring(s, ColdExcursion), [row])
    alarms.raise_open(s, [bank], EXCURSION, event.zone, event.detected_at)


def _ended(s: Session, bank: str, event: ZoneExcursionEnded) -> None:
    found = s.get(ColdExcursion, str(event.excursion_id))
    if found is None:  # its start was set aside, or came from an older bank: keep its span
        found = ColdExcursion(
            id=str(event.excursion_id),
            bank_id=bank,
            zone=event.zone,
            temperature_class=str(event.temperature_class),
            out_since=event.out_since,
            detected_at=event.out_since,
        )
    found.back_at = event.back_at
    found.min_celsius, found.max_celsius = event.min_celsius, event.max_celsius
    s.add(found)
    s.flush()
    alarms.clear_open(s, [bank], EXCURSION, event.back_at, event.zone)


def _deposited(s: Session, bank: str, event: ParcelDeposited, at: datetime) -> None:
    parcel = s.exec(
        select(Parcel).where(Parcel.bank_id == bank, Parcel.edge_id == str(event.parcel_id))
    ).first()
    if parcel is None or parcel.compartment_id is None:
        return
    compartment = s.get(Compartment, parcel.compartment_id)
    if compartment is None:
        return
    if parcel.temperature_class == TemperatureClass.AMBIENT:  # a walk-up takes its room's
        parcel.temperature_class = compartment.temperature_class
        s.add(parcel)
    if TemperatureClass.AMBIENT == parcel.temperature_class == compartment.temperature_class:
        return
    if parcel.temperature_class != compartment.temperature_class:
        wanted, got = parcel.temperature_class, compartment.temperature_class
        log.warning("bank %s: a %s parcel went into a %s compartment", bank, wanted, got)
    chain = s.get(ParcelChain, parcel.id) or ParcelChain(
        parcel_id=parcel.id, bank_id=bank, zone="", temperature_class="", deposited_at=at
    )
    chain.zone = compartment.zone or ""
    chain.temperature_class = compartment.temperature_class
    chain.deposited_at, chain.picked_up_at, chain.held, chain.excursions = at, None, None, 0
    s.add(chain)
    s.flush()


def close(s: Session, bank: str, edge_id: str, at: datetime) -> ParcelChain | None:
    """The parcel left its zone at ``at``: whether its chain held, recorded."""
    query = (
        select(ParcelChain, Parcel)
        .join(Parcel, col(Parcel.id) == col(ParcelChain.parcel_id))
        .where(Parcel.bank_id == bank, Parcel.edge_id == edge_id)
    )
    found = s.exec(query).first()
    if found is None or found[0].picked_up_at is not None:
        return None
    chain, parcel = found
    chain.picked_up_at = at
    chain.excursions = len(excursions_during(s, chain, at))
    chain.held = chain.excursions == 0 and parcel.temperature_class == chain.temperature_class
    s.add(chain)
    s.flush()
    return chain


class ChainFields(TypedDict, total=False):
    cold_chain: dict[str, object]


def chain_fields(s: Session, bank: str, edge_id: str) -> ChainFields:
    """What a carrier's pickup event says of the parcel's cold chain (nothing for an ambient
    parcel): ``{"cold_chain": {"temperature_class", "zone", "held", "excursions"}}``."""
    query = (
        select(ParcelChain)
        .join(Parcel, col(Parcel.id) == col(ParcelChain.parcel_id))
        .where(Parcel.bank_id == bank, Parcel.edge_id == edge_id)
    )
    chain = s.exec(query).first()
    if chain is None:
        return {}
    told = {"temperature_class": chain.temperature_class, "zone": chain.zone}
    return {"cold_chain": told | {"held": chain.held, "excursions": chain.excursions}}


def excursions_during(s: Session, chain: ParcelChain, end: datetime) -> list[ColdExcursion]:
    """The excursions of the parcel's zone that met its stay, up to ``end``."""
    return excursions_met(s, (chain.bank_id, chain.zone), chain.deposited_at, end)


def excursions_met(
    s: Session, where: tuple[str, str], start: datetime, end: datetime
) -> list[ColdExcursion]:
    """The excursions of zone ``where`` (bank, zone) that met [start, end), oldest first."""
    bank_id, zone = where
    query = select(ColdExcursion).where(
        ColdExcursion.bank_id == bank_id,
        ColdExcursion.zone == zone,
        col(ColdExcursion.out_since) < end,
        col(ColdExcursion.back_at).is_(None) | (col(ColdExcursion.back_at) > start),
    )
    return list(s.exec(query.order_by(col(ColdExcursion.out_since))))
