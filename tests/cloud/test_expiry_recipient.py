"""The recipient told that a parcel went back at its deadline is that parcel's: two carriers'
parcels of one waybill at a bank (waybills are unique per carrier only) are told apart by the
bank's parcel id, not taken for the newer one."""

from __future__ import annotations

import uuid

from sqlmodel import Session, select

from cloud.messaging.states import MessageKind
from cloud.models import Notification
from cloud.services.ingest import ingest_event
from locker_contract.events import Event, ParcelDeposited, ParcelRefused
from locker_contract.storage import EXPIRY_REASON
from tests.cloud.conftest import Cloud, fleet
from tests.cloud.test_storage_policy import DEPOSIT, envelope

MINE, THEIRS = "13800138000", "13900139000"


def test_the_expired_message_goes_to_the_expired_parcels_recipient(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf", "jd"))
    engine = cloud.engine
    deposits = [
        ParcelDeposited(
            parcel_id=uuid.uuid4(), waybill="W100", carrier=carrier, courier_id=f"{carrier}-1",
            compartment=label, recipient_phone=phone, group_id=uuid.uuid4(), sealed_code=None,
            consent="recipient_app", flagged_for_review=False, deposited_at=DEPOSIT,
        )
        for carrier, label, phone in (("sf", "A01", MINE), ("jd", "A02", THEIRS))
    ]  # fmt: skip
    refused = ParcelRefused(parcel_id=deposits[0].parcel_id, waybill="W100", reason=EXPIRY_REASON)
    events: list[Event] = [*deposits, refused]
    for seq, event in enumerate(events, start=1):
        ingest_event(engine, envelope(seq, event), now=DEPOSIT)
    with Session(engine) as s:
        told = s.exec(select(Notification).where(Notification.kind == MessageKind.EXPIRED))
        [expired] = told.all()
        assert (expired.carrier_id, expired.recipient_phone) == ("sf", MINE)
