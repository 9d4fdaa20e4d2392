"""The cold chain's retention: samples (and ended excursions) older than the setting
``cold_retention_days`` (366 by default, never under 365: EN 12830's year) are deleted by
``locker cloud purge``, the daily sweep that also erases personal data. Parcels' cold records
(``ParcelChain``: whether each chain held) are kept with their parcels."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, delete
from sqlmodel import col

from cloud.coldchain.tables import ColdExcursion, ColdSample
from cloud.core.db import transaction

log = logging.getLogger(__name__)


def purge_samples(engine: Engine, before: datetime) -> int:
    """Delete samples taken, and excursions ended, before ``before``; the samples deleted."""
    with transaction(engine) as s:
        done = s.execute(delete(ColdSample).where(col(ColdSample.at) < before))
        s.execute(delete(ColdExcursion).where(col(ColdExcursion.back_at) < before))
    deleted = int(getattr(done, "rowcount", 0) or 0)
    log.info("deleted %d temperature sample(s) taken before %s", deleted, before.isoformat())
    return deleted
