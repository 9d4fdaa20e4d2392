"""The pickup group a recipient's link opens, and what they may do with it from their page.

Each action is one transaction: its record here and its command to the bank
(``enqueue_command``), so the bank learns of every action the page confirmed, at least once,
and applies it once. The page confirms what the cloud recorded; the bank's own events (a
refused parcel's ``parcel.refused``) bring the parcel's status back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.models import Bank, Carrier, Compartment, Parcel, ParcelStatus, Site
from cloud.recipients import derive
from cloud.recipients.tables import GroupAction, RecipientShare
from cloud.services import storage_policy
from cloud.services.commands import enqueue_command
from cloud.services.errors import Conflict, NotFound
from locker_contract import commands as contract
from locker_contract.credentials import pin_verifier
from locker_contract.storage import MAX_HOURS


class UnknownGroup(NotFound):
    """A genuine link to a group the cloud has no parcel of (never ingested, or erased)."""


EXTEND_HOURS = 24.0  # the one extension a recipient may take, within the storage policy
# A recipient's commands live as long as a parcel may stay: a bank offline for days (pickups go
# on offline) still learns, when it comes back, that a second code was revoked
COMMAND_TTL_S = (MAX_HOURS + EXTEND_HOURS) * 3600
MAX_SHARES = 1  # active second codes per group: each is one more code to guess at the bank
REFUSAL_REASON = "refused on the recipient's page"


@dataclass(frozen=True)
class ParcelView:
    id: str
    carrier: str
    waybill: str
    compartment: str
    status: ParcelStatus
    refusing: bool  # refused on the page, the bank not yet heard from


@dataclass(frozen=True)
class ShareView:
    id: str
    code: str
    created_at: datetime


@dataclass(frozen=True)
class GroupView:
    group_id: str
    bank: Bank
    site: Site
    parcels: list[ParcelView]
    deposited_at: datetime
    extended: bool
    shares: list[ShareView]
    terms: storage_policy.ParcelStorage | None  # the earliest deadline of those still there

    @property
    def waiting(self) -> bool:
        return any(p.status == ParcelStatus.IN_LOCKER and not p.refusing for p in self.parcels)


def group_parcels(s: Session, group_id: str, *, lock: bool = False) -> list[Parcel]:
    """The group's parcels, ``NotFound`` if none (a link to a group the cloud never saw);
    ``lock``: their rows locked until the transaction ends."""
    query = select(Parcel).where(col(Parcel.group_id) == group_id).order_by(col(Parcel.waybill))
    parcels = list(s.exec(query.with_for_update() if lock else query))
    if not parcels:
        raise UnknownGroup("nothing is waiting for this link")
    return parcels


def view(s: Session, settings: Settings, group_id: str, now: datetime) -> GroupView:
    parcels = group_parcels(s, group_id)
    bank = s.get_one(Bank, parcels[0].bank_id)
    actions = list(s.exec(select(GroupAction).where(GroupAction.group_id == group_id)))
    refused = {a.target for a in actions if a.kind == "refuse"}
    extended = any(a.kind == "extend" for a in actions)
    return GroupView(
        group_id=group_id,
        bank=bank,
        site=s.get_one(Site, bank.site_id),
        parcels=[_parcel(s, p, p.id in refused) for p in parcels],
        deposited_at=min(p.created_at for p in parcels),
        extended=extended,
        terms=_terms(s, parcels, now, EXTEND_HOURS if extended else 0.0),
        shares=[
            ShareView(r.id, derive.share_code(settings.secret_key, r.id), r.created_at)
            for r in _shares(s, group_id)
        ],
    )


def _terms(
    s: Session, parcels: list[Parcel], now: datetime, extra_hours: float
) -> storage_policy.ParcelStorage | None:
    """The storage terms of the group's parcel that must go first, as its bank counts them."""
    waiting = [p for p in parcels if p.status == ParcelStatus.IN_LOCKER]
    terms = [storage_policy.parcel_storage(s, p, now, extra_hours) for p in waiting]
    known = [t for t in terms if t is not None]
    return min(known, key=lambda t: t.deadline) if known else None


def _parcel(s: Session, parcel: Parcel, refusing: bool) -> ParcelView:
    carrier = s.get(Carrier, parcel.carrier_id)
    compartment = s.get(Compartment, parcel.compartment_id) if parcel.compartment_id else None
    return ParcelView(
        id=parcel.id,
        carrier=carrier.name if carrier else parcel.carrier_id,
        waybill=parcel.waybill,
        compartment=compartment.label if compartment else "",
        status=parcel.status,
        refusing=refusing and parcel.status == ParcelStatus.IN_LOCKER,
    )


def _shares(s: Session, group_id: str) -> Sequence[RecipientShare]:
    query = select(RecipientShare).where(
        RecipientShare.group_id == group_id, col(RecipientShare.revoked_at).is_(None)
    )
    return s.exec(query.order_by(col(RecipientShare.created_at))).all()


def _waiting(s: Session, group_id: str) -> list[Parcel]:
    """The group's parcels still in the locker; ``Conflict`` if none is left. Their rows are
    locked: two submits at once (a double tap) are decided one after the other, the second
    seeing what the first did."""
    parcels = [
        p for p in group_parcels(s, group_id, lock=True) if p.status == ParcelStatus.IN_LOCKER
    ]
    if not parcels:
        raise Conflict("no parcel of this link is waiting in the locker any more")
    return parcels


def _act(
    s: Session, bank_id: str, group_id: str, *, kind: str, target: str, command: str, at: datetime
) -> None:
    """Record the action once, at the caller's ``at``; ``Conflict`` if it was taken before."""
    query = select(GroupAction).where(
        GroupAction.group_id == group_id, GroupAction.kind == kind, GroupAction.target == target
    )
    if s.exec(query).first() is not None:
        raise Conflict(f"already done: {kind}")
    action = GroupAction(
        group_id=group_id, bank_id=bank_id, kind=kind, target=target, command_id=command, at=at
    )
    s.add(action)


def extend(engine: Engine, group_id: str, now: datetime) -> None:
    """Keep the group's parcels ``EXTEND_HOURS`` longer, once."""
    with transaction(engine) as s:
        bank_id = _waiting(s, group_id)[0].bank_id
        command = contract.GroupExtend(group_id=group_id, hours=EXTEND_HOURS)
        row = enqueue_command(s, bank_id, command, ttl_s=COMMAND_TTL_S, now=now)
        _act(s, bank_id, group_id, kind="extend", target="", command=row.id, at=now)


def refuse(engine: Engine, group_id: str, parcel_id: str, now: datetime) -> None:
    """The parcel goes back to its carrier; the bank makes it a return."""
    with transaction(engine) as s:
        parcel = next((p for p in _waiting(s, group_id) if p.id == parcel_id), None)
        if parcel is None:
            raise NotFound("no such parcel waiting for this link")
        command = contract.ParcelRefuse(
            group_id=group_id,
            carrier_id=parcel.carrier_id,
            waybill=parcel.waybill,
            reason=REFUSAL_REASON,
        )
        row = enqueue_command(s, parcel.bank_id, command, ttl_s=COMMAND_TTL_S, now=now)
        _act(s, parcel.bank_id, group_id, kind="refuse", target=parcel.id, command=row.id, at=now)


def share(engine: Engine, settings: Settings, group_id: str, now: datetime) -> str:
    """A second code for the group (its id); ``Conflict`` if one is active already."""
    with transaction(engine) as s:
        bank_id = _waiting(s, group_id)[0].bank_id
        if len(_shares(s, group_id)) >= MAX_SHARES:
            raise Conflict("a second code is active already: revoke it first")
        row = RecipientShare(group_id=group_id, bank_id=bank_id, created_at=now)
        s.add(row)
        s.flush()
        salt = derive.share_salt(settings.secret_key, bank_id)
        code = derive.share_code(settings.secret_key, row.id)
        command = contract.GroupShare(
            group_id=group_id, share_id=row.id, salt=salt, verifier=pin_verifier(code, salt)
        )
        enqueue_command(s, bank_id, command, ttl_s=COMMAND_TTL_S, now=now)
        return row.id


def unshare(engine: Engine, group_id: str, share_id: str, now: datetime) -> None:
    with transaction(engine) as s:
        row = s.get(RecipientShare, share_id) if _an_id(share_id) else None
        if row is None or row.group_id != group_id or row.revoked_at is not None:
            raise NotFound("no such second code for this link")
        row.revoked_at = now
        s.add(row)
        enqueue_command(
            s, row.bank_id, contract.GroupUnshare(share_id=row.id), ttl_s=COMMAND_TTL_S, now=now
        )


def _an_id(value: str) -> bool:
    """Whether ``value`` can be one of our ids (uuid4 text): anything else, a NUL or megabytes
    included, never reaches the database."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False
