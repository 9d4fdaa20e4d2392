"""The storage policy of each site, as its operator set it (``locker_contract.storage``)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from cloud.models import CloudModel, utcnow


class SiteStoragePolicy(CloudModel, table=True):
    """Free hours, a fee per started period after them up to a cap, and the deadline at which
    a parcel goes back to its carrier; amounts in minor units (fen) of ``currency``."""

    site_id: str = Field(foreign_key="site.id", primary_key=True)
    free_hours: float
    keep_hours: float
    fee_minor: int
    period_hours: float
    cap_minor: int
    currency: str
    updated_at: datetime = Field(default_factory=utcnow)
