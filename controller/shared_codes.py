"""Second codes: a recipient shares their pickup group with someone who picks up for them.

The cloud derives the code, shows it to the recipient on their page and sends the bank only its
verifier (``locker_contract.credentials.pin_verifier`` under the bank's share salt); the bank
keys it once more under its bank key (``codes.pin_record``), as it does for couriers, so its
store alone tests no guess. A shared code opens the group's doors as the recipient's own does,
counted by the same throttle, until the recipient revokes it or the group ends (decision 0018).
"""

from __future__ import annotations

import logging

from sqlmodel import Field, Session, SQLModel, col, select

from controller import codes
from controller.errors import NotFound
from controller.store import PickupGroup

log = logging.getLogger(__name__)


class SharedCode(SQLModel, table=True):
    share_id: str = Field(primary_key=True)
    group_id: str = Field(foreign_key="pickupgroup.id", index=True)
    salt: str
    record: str = Field(index=True)  # the code's verifier keyed under the bank key


def grant(
    s: Session, key: bytes, *, share_id: str, group_id: str, salt: str, verifier: str
) -> None:
    """Let the code whose verifier is ``verifier`` open ``group_id`` too (a repeat is a no-op)."""
    group = s.get(PickupGroup, group_id)
    if group is None or not group.active:
        raise NotFound("no pickup group waiting here with that id")
    row = SharedCode(
        share_id=share_id, group_id=group_id, salt=salt, record=codes.pin_record(key, verifier)
    )
    s.merge(row)


def revoke(s: Session, share_id: str) -> None:
    """The shared code opens nothing from now on (unknown or already revoked: nothing to do)."""
    row = s.get(SharedCode, share_id)
    if row is not None:
        s.delete(row)


def _shared(s: Session, key: bytes, code: str) -> tuple[PickupGroup, SharedCode] | None:
    """The active pickup group ``code`` was shared for, and its share. One scrypt per salt in
    use (the bank's one share salt), whatever the number of shares; none while nothing is
    shared."""
    digits = codes.normalize_code(code)
    salts = s.exec(select(SharedCode.salt).distinct()).all()
    for salt in salts:
        record = codes.pin_hash(key, digits, salt)
        row = s.exec(select(SharedCode).where(col(SharedCode.record) == record)).first()
        if row is None:
            continue
        group = s.get(PickupGroup, row.group_id)
        if group is not None and group.active:
            return group, row
    return None


def group_for(s: Session, key: bytes, code: str) -> PickupGroup | None:
    """The active pickup group ``code`` was shared for, if it is a shared code."""
    found = _shared(s, key, code)
    if found is None:
        return None
    group, row = found
    log.info("pickup group %s opened with its shared code %s", group.id, row.share_id)
    return group


def in_use(s: Session, key: bytes, code: str) -> bool:
    """Whether ``code`` is an active shared code: a new group's code must not be one (its
    holder would open that group's parcels, the group's own code being tried first)."""
    return _shared(s, key, code) is not None
