"""Which of the cloud's parcels a bank's event names: the one with the bank's own id for it.

A waybill alone does not name a parcel at a bank: two carriers may use the same number, and a
pickup of one must never move the other. Parcels deposited before the cloud kept the bank's id
(``Parcel.edge_id``) are found by their waybill, but only when exactly one parcel at the bank
still answers to it; a waybill two parcels share names neither.
"""

from __future__ import annotations

import logging
import uuid

from sqlmodel import Session, col, select

from cloud.models import Parcel, ParcelStatus

log = logging.getLogger(__name__)

GONE = (ParcelStatus.PICKED_UP, ParcelStatus.RETURNED)


def named_parcel(s: Session, bank_id: str, parcel_id: uuid.UUID, waybill: str) -> Parcel | None:
    """The parcel at ``bank_id`` the bank calls ``parcel_id``, or its one unnamed namesake."""
    at_bank = select(Parcel).where(Parcel.bank_id == bank_id)
    found = s.exec(at_bank.where(Parcel.edge_id == str(parcel_id))).first()
    if found is not None:
        return found
    namesakes = at_bank.where(Parcel.waybill == waybill, col(Parcel.status).not_in(GONE))
    candidates = list(s.exec(namesakes.limit(2)))
    if len(candidates) == 1 and candidates[0].edge_id is None:
        return candidates[0]
    if candidates:
        log.warning("bank %s: parcel %s names no parcel here unambiguously", bank_id, parcel_id)
    return None
