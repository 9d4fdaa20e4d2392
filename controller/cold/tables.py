"""The cold chain's rows in the bank's store (created with the rest by ``store.open_store``).

Samples are kept until the batch that carries them has left the outbox (the cloud has it) and
for ``ColdPolicy.retention_days`` after they were taken, whichever is later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class ZoneSampleRow(SQLModel, table=True):
    """One reading of a zone's sensor: a temperature, or the failure that took its place.
    ``batch_seq`` is the outbox ``seq`` of the ``zone.samples`` event that carries it, None
    until batched."""

    __tablename__ = "zone_sample"

    id: int | None = Field(default=None, primary_key=True)
    zone: str
    at: datetime
    celsius: float | None = None
    humidity: float | None = None
    failure: str | None = None
    batch_seq: int | None = None

    __table_args__ = (Index("zone_sample_by_zone", "zone", "batch_seq", "at"),)


class ZoneWatch(SQLModel, table=True):
    """What the bank knows of a zone between samples: since when it is out of range (and its
    extremes since), the excursion in course, and its sensor's consecutive failures."""

    __tablename__ = "zone_watch"

    zone: str = Field(primary_key=True)
    out_since: datetime | None = None
    out_min: float | None = None
    out_max: float | None = None
    excursion_id: str | None = None
    failures: int = 0
    sensor_failing: bool = False


class AnnouncedClass(SQLModel, table=True):
    """The temperature class the carrier announced a waybill with (``parcel.announce``), beside
    its ``Expected`` row. Ambient is never written: no row means ambient."""

    __tablename__ = "announced_class"

    carrier: str = Field(primary_key=True)
    waybill: str = Field(primary_key=True)
    temperature_class: str


class DepositClass(SQLModel, table=True):
    """The class a deposit in progress needs (announced, or asked for at the kiosk), so that a
    jammed door or a resize finds another compartment of it. Gone when the deposit ends."""

    __tablename__ = "deposit_class"

    deposit_id: str = Field(primary_key=True)
    temperature_class: str
