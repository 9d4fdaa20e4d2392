"""What a recipient asks for from their page, applied at the bank (decision 0018): one more
stretch of storage for their pickup group, a parcel refused without coming to the locker, and a
standing refusal of locker delivery that the kiosk holds against deposits.

A refusal is stored as the phone's verifier (``locker_contract.phones.phone_verifier``, scrypt
under the bank's salt from the cloud) keyed under the bank key: the store holds no number.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Field, Session, SQLModel, select

from controller import codes, shared_codes
from controller.errors import Conflict, NotFound
from controller.flows.pickups import make_return
from controller.lifecycles import ParcelEvent, ParcelState
from controller.store import Parcel
from locker_contract.commands import GroupExtend, GroupShare, GroupUnshare, ParcelRefuse
from locker_contract.commands import RecipientRefusal as RecipientRefusalSet
from locker_contract.phones import phone_verifier

DECLINED = "the recipient has declined delivery to parcel lockers: deliver by hand"


class GroupExtension(SQLModel, table=True):
    group_id: str = Field(foreign_key="pickupgroup.id", primary_key=True)
    hours: float


class RecipientRefusal(SQLModel, table=True):
    record: str = Field(primary_key=True)  # the phone's verifier keyed under the bank key
    salt: str


def extend(s: Session, group_id: str, hours: float) -> None:
    """The group's parcels are kept ``hours`` longer (once: a repeat keeps the first)."""
    if s.get(GroupExtension, group_id) is None:
        s.add(GroupExtension(group_id=group_id, hours=hours))


def extension(s: Session, group_id: str | None) -> timedelta:
    """How much longer than the storage period the group's parcels are kept."""
    row = s.get(GroupExtension, group_id) if group_id else None
    return timedelta(hours=row.hours) if row is not None else timedelta()


def refuse(s: Session, *, group_id: str, carrier: str, waybill: str, reason: str) -> Parcel:
    """The recipient refused the parcel from afar: it becomes a return for its courier."""
    query = select(Parcel).where(
        Parcel.group_id == group_id,
        Parcel.carrier == carrier,
        Parcel.waybill == waybill,
        Parcel.state == ParcelState.IN_LOCKER,
    )
    parcel = s.exec(query).first()
    if parcel is None:
        raise NotFound("no such parcel waiting in this pickup group")
    if parcel.opened_for is not None:
        raise Conflict("its door is open: the parcel is being taken out")
    make_return(s, parcel, f"refused by the recipient: {reason}", ParcelEvent.REFUSED)
    return parcel


def set_refusal(s: Session, key: bytes, *, salt: str, verifier: str, refused: bool) -> None:
    record = codes.pin_record(key, verifier)
    row = s.get(RecipientRefusal, record)
    if refused and row is None:
        s.add(RecipientRefusal(record=record, salt=salt))
    elif not refused and row is not None:
        s.delete(row)


def check_deposit(s: Session, key: bytes, phone: str) -> None:
    """``Conflict`` if the recipient at ``phone`` said no to locker delivery."""
    for salt in s.exec(select(RecipientRefusal.salt).distinct()).all():
        record = codes.pin_record(key, phone_verifier(phone, salt))
        if s.get(RecipientRefusal, record) is not None:
            raise Conflict(DECLINED)


RecipientCommand = GroupExtend | GroupShare | GroupUnshare | ParcelRefuse | RecipientRefusalSet


def apply(s: Session, key: bytes, command: RecipientCommand) -> None:
    """A recipient's command from the cloud, in the command runner's transaction."""
    match command:
        case GroupExtend():
            extend(s, command.group_id, command.hours)
        case GroupShare():
            shared_codes.grant(
                s,
                key,
                share_id=command.share_id,
                group_id=command.group_id,
                salt=command.salt,
                verifier=command.verifier,
            )
        case GroupUnshare():
            shared_codes.revoke(s, command.share_id)
        case ParcelRefuse():
            refuse(
                s,
                group_id=command.group_id,
                carrier=command.carrier_id,
                waybill=command.waybill,
                reason=command.reason,
            )
        case RecipientRefusalSet():
            set_refusal(
                s, key, salt=command.salt, verifier=command.verifier, refused=command.refused
            )
