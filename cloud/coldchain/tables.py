"""The cold chain's tables.

``ColdSample`` holds every sample of every zone, the year EN 12830 asks for: its key is (bank,
zone, time), so a batch sent twice adds nothing (``INSERT ... ON CONFLICT DO NOTHING``) and the
key serves the reads (a zone's samples over a span). The time is part of the key, and no foreign
key points into or out of it, so that PostgreSQL can range-partition it by month as it grows
without a change of shape (decision 0027); ``ix_coldsample_at`` serves the retention purge.

``ColdExcursion`` is an excursion as its bank reported it (start, and end once back in range),
keyed by the bank's excursion id. ``ParcelChain`` is a chilled or frozen parcel's cold record:
its zone and class from the deposit, and at pickup whether the chain held.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from cloud.models import CloudModel


class ColdSample(CloudModel, table=True):
    bank_id: str = Field(primary_key=True)
    zone: str = Field(primary_key=True)
    at: datetime = Field(primary_key=True)  # at the bank
    celsius: float | None = None  # None: a failed reading (``failure`` says why)
    humidity: float | None = None
    failure: str | None = None

    __table_args__ = (Index("ix_coldsample_at", "at"),)


class ColdExcursion(CloudModel, table=True):
    id: str = Field(primary_key=True)  # the bank's excursion id
    bank_id: str = Field(foreign_key="bank.id")
    zone: str
    temperature_class: str
    out_since: datetime
    detected_at: datetime
    back_at: datetime | None = None  # None: still out of range
    min_celsius: float | None = None  # known once it ended
    max_celsius: float | None = None

    __table_args__ = (Index("ix_coldexcursion_zone", "bank_id", "zone", "out_since"),)


class ParcelChain(CloudModel, table=True):
    parcel_id: str = Field(foreign_key="parcel.id", primary_key=True)
    bank_id: str = Field(foreign_key="bank.id")
    zone: str
    temperature_class: str
    deposited_at: datetime  # at the bank
    picked_up_at: datetime | None = None  # or taken back as a return: when it left the zone
    held: bool | None = None  # at the end: no excursion of its zone overlapped its stay
    excursions: int = 0
