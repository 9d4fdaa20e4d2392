"""What a carrier reads of its parcels beyond the webhooks: each parcel's tracking history in
both vocabularies (ours and the national codes), and the returns waiting to be collected, where.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import col, select

from cloud.core.db import transaction
from cloud.models import Bank, Compartment, Parcel, ParcelStatus, Site
from cloud.services.auth import Principal
from cloud.services.errors import NotFound
from cloud.webhooks.events import Kind, vocabularies
from cloud.webhooks.tables import WebhookEvent


class Kuaidi100Codes(BaseModel):
    state: int | None
    code: int | None


class TrackingEntry(BaseModel):
    type: str
    occurred_at: datetime  # at the bank
    status: str | None  # ours
    kuaidi100: Kuaidi100Codes
    bank_id: str | None
    compartment: str | None
    reason: str | None
    # a chilled or frozen parcel's pickup: whether its cold chain held (issue 17)
    cold_chain_held: bool | None = None


class ReturnPublic(BaseModel):
    """A parcel to collect: which bank, where, which door."""

    waybill: str
    bank_id: str
    bank_name: str
    site: str
    address: str
    compartment: str | None


def labels_of(engine: Engine, compartment_ids: list[str | None]) -> dict[str, str]:
    """The labels of these compartments (one query), by id."""
    wanted = sorted({c for c in compartment_ids if c is not None})
    if not wanted:
        return {}
    with transaction(engine) as s:
        query = select(Compartment.id, Compartment.label).where(col(Compartment.id).in_(wanted))
        return dict(s.exec(query).all())


def history(engine: Engine, who: Principal, waybill: str) -> list[TrackingEntry]:
    carrier = who.carrier
    with transaction(engine) as s:
        query = select(WebhookEvent).where(
            WebhookEvent.carrier_id == carrier, WebhookEvent.waybill == waybill
        )
        events = list(s.exec(query.order_by(col(WebhookEvent.seq))))
        if not events:
            known = select(Parcel.id).where(Parcel.carrier_id == carrier, Parcel.waybill == waybill)
            if s.exec(known).first() is None:
                raise NotFound("no such parcel")
    return [_entry(e) for e in events]


def _entry(event: WebhookEvent) -> TrackingEntry:
    data = event.data
    codes = vocabularies(Kind(event.type))
    return TrackingEntry(
        type=event.type,
        occurred_at=event.occurred_at,
        status=_text(codes["status"]),
        kuaidi100=Kuaidi100Codes.model_validate(codes["kuaidi100"]),
        bank_id=_text(data.get("bank_id")),
        compartment=_text(data.get("compartment")),
        reason=_text(data.get("reason")),
        cold_chain_held=_held(data.get("cold_chain")),
    )


def _held(chain: object) -> bool | None:
    held = chain.get("held") if isinstance(chain, dict) else None
    return held if isinstance(held, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def returns(engine: Engine, who: Principal) -> list[ReturnPublic]:
    """The carrier's parcels waiting to be collected (refused or expired), by bank and door."""
    with transaction(engine) as s:
        query = (
            select(Parcel, Bank, Site, Compartment)
            .join(Bank, col(Bank.id) == col(Parcel.bank_id))
            .join(Site, col(Site.id) == col(Bank.site_id))
            .outerjoin(Compartment, col(Compartment.id) == col(Parcel.compartment_id))
            .where(
                Parcel.carrier_id == who.carrier,
                Parcel.status == ParcelStatus.RETURN_PENDING,
            )
            .order_by(col(Bank.id), col(Compartment.label))
        )
        return [
            ReturnPublic(
                waybill=parcel.waybill,
                bank_id=bank.id,
                bank_name=bank.name,
                site=site.name,
                address=site.address,
                compartment=None if compartment is None else compartment.label,
            )
            for parcel, bank, site, compartment in s.exec(query)
        ]
