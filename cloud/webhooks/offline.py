"""A bank offline for a while while holding parcels: each carrier with parcels there gets one
``exception.bank_offline`` event per outage (found by the sender's sweep, de-duplicated by the
outage's start, so that several senders find it once)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from cloud.core.db import transaction
from cloud.models import Bank, Parcel
from cloud.webhooks.events import Kind
from cloud.webhooks.outbox import HELD, record
from cloud.webhooks.tables import WebhookEvent


def sweep(engine: Engine, now: datetime, after_s: float) -> int:
    """Events recorded for outages that reached ``after_s`` at ``now``."""
    since = now - timedelta(seconds=after_s)
    with transaction(engine) as s:
        query = (
            select(Bank.id, Bank.status_since, Parcel.carrier_id, func.count())
            .join(Parcel, col(Parcel.bank_id) == col(Bank.id))
            .where(
                col(Bank.online).is_(False),
                col(Bank.status_since).is_not(None),
                col(Bank.status_since) <= since,
                col(Parcel.status).in_(HELD),
            )
            .group_by(col(Bank.id), col(Bank.status_since), col(Parcel.carrier_id))
        )
        found = list(s.exec(query))
    made = 0
    for bank_id, down_since, carrier_id, holding in found:
        assert down_since is not None
        dedupe = f"offline:{bank_id}:{down_since.isoformat()}:{carrier_id}"
        made += _once(
            engine,
            bank_id=bank_id,
            carrier_id=carrier_id,
            down_since=down_since,
            holding=holding,
            dedupe=dedupe,
            now=now,
        )
    return made


def _once(
    engine: Engine,
    *,
    bank_id: str,
    carrier_id: str,
    down_since: datetime,
    holding: int,
    dedupe: str,
    now: datetime,
) -> int:
    try:
        with transaction(engine) as s:
            if s.exec(select(WebhookEvent.seq).where(WebhookEvent.dedupe == dedupe)).first():
                return 0
            data: dict[str, object] = {
                "bank_id": bank_id,
                "offline_since": down_since.isoformat(),
                "parcels_held": holding,
            }
            record(
                s,
                Kind.BANK_OFFLINE,
                carrier_id,
                f"bank:{bank_id}",
                at=down_since,
                now=now,
                data=data,
                dedupe=dedupe,
            )
            return 1
    except IntegrityError:  # another sender recorded it first
        return 0
