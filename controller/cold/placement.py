"""Which temperature class a parcel needs at the bank, remembered beside the rows that ask.

A parcel announced chilled (or frozen) goes only into a compartment of its class, whatever the
courier chose; a walk-up deposit gets the class the courier asked for at the kiosk; anything
else is ambient. The rule that a class is served by its own compartments only is
``locker_contract.cold.serves``, shared with the cloud's allocation. A zone the bank knows to be
in an excursion (``controller.cold.watch``) takes no new parcel until it is back in range: a
fridge whose compressor stopped is no place for fresh food, whatever its class says.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, delete, select

from controller.cold.tables import AnnouncedClass, DepositClass, ZoneWatch
from controller.cold.zones import ZoneSpec
from locker_contract.cold import TemperatureClass

AMBIENT = TemperatureClass.AMBIENT


def announce(s: Session, carrier: str, waybill: str, klass: TemperatureClass | None) -> None:
    """Remember the class ``carrier`` announced ``waybill`` with (None or ambient: forget)."""
    s.exec(
        delete(AnnouncedClass).where(
            col(AnnouncedClass.carrier) == carrier, col(AnnouncedClass.waybill) == waybill
        )
    )
    if klass not in (None, AMBIENT):
        s.add(AnnouncedClass(carrier=carrier, waybill=waybill, temperature_class=klass))


def forget_announced(s: Session, carrier: str, waybill: str | None = None) -> None:
    """The announcement was deposited (``waybill``), or all the carrier's were withdrawn."""
    where = [col(AnnouncedClass.carrier) == carrier]
    if waybill is not None:
        where.append(col(AnnouncedClass.waybill) == waybill)
    s.exec(delete(AnnouncedClass).where(*where))


def wanted(
    s: Session, carrier: str, waybill: str, asked: TemperatureClass | None
) -> TemperatureClass:
    """The class a deposit of ``waybill`` needs: the announced one, else what the courier
    asked for, else ambient."""
    announced = s.get(AnnouncedClass, (carrier, waybill))
    if announced is not None:
        return TemperatureClass(announced.temperature_class)
    return asked or AMBIENT


def keep_for_deposit(s: Session, deposit_id: str, klass: TemperatureClass) -> None:
    if klass is not AMBIENT:
        s.add(DepositClass(deposit_id=deposit_id, temperature_class=klass))


def deposit_class(s: Session, deposit_id: str) -> TemperatureClass:
    kept = s.get(DepositClass, deposit_id)
    return AMBIENT if kept is None else TemperatureClass(kept.temperature_class)


def forget_deposit(s: Session, deposit_id: str) -> None:
    s.exec(delete(DepositClass).where(col(DepositClass.deposit_id) == deposit_id))


def in_excursion(s: Session, zones: Iterable[ZoneSpec]) -> set[str]:
    """The labels of the compartments whose zone is in an excursion now."""
    query = select(ZoneWatch.zone).where(col(ZoneWatch.excursion_id).is_not(None))
    warm = set(s.exec(query))
    return {label for zone in zones if zone.name in warm for label in zone.compartments}
