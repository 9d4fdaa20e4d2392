"""Storage at the bank, offline: the site's policy, the outages that stop parcels' storage
clocks, the fee a parcel owes when it is picked up, and the parcels past their deadline.

The arithmetic is ``locker_contract.storage``'s, shared with the cloud (decision 0017):

- the policy comes from the cloud (``storage.policy``) and is kept in the store; until one
  arrives, ``[policy] storage_days`` is the storage period, free. Each parcel keeps the policy
  it was deposited under (``StorageTerms``): the terms its recipient was told;
- outages counted: the bank in maintenance (all its parcels), and a door that failed to open
  for a pickup (that compartment's parcel) until the door is next seen open. Each begins and
  ends in the store and in an event (``storage.outage``) the cloud counts from. Being offline
  from the cloud is not one: pickups go on offline, with the code the recipient holds;
- a fee is settled once the parcel's door opened for its pickup (``flows.fees``), through the
  payment provider; when the provider fails, the fee is recorded as owed and nothing waits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from controller.config import Policy
from controller.lifecycles import ParcelState
from controller.store import (
    Parcel,
    StorageOutage,
    StorageTerms,
    emit,
    get_setting,
    put_setting,
    transaction,
)
from locker_contract import storage as rules
from locker_contract.events import StorageOutageChanged
from locker_contract.storage import StoragePolicy

log = logging.getLogger(__name__)

POLICY_KEY = "storage_policy"  # the site's policy, as the cloud pushed it (a ``Setting``)
FAILED = frozenset({"jammed", "not_sent"})  # the door certainly did not open for the recipient
ALL = ""  # an outage of the whole bank has no compartment


class Cause(StrEnum):
    MAINTENANCE = "maintenance"
    DOOR_FAILED = "door_failed"


class FeeState(StrEnum):
    FREE = "free"
    PAID = "paid"
    OWED = "owed"


def utc(at: datetime) -> datetime:
    """A stored time read back (SQLite keeps no zone) as the UTC it was written in."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# --- the policy ------------------------------------------------------------------------------


def default_policy(policy: Policy) -> StoragePolicy:
    """Before the cloud sends one: ``storage_days``, free throughout."""
    hours = min(policy.storage_days * 24, rules.MAX_HOURS)
    return StoragePolicy(free_hours=hours, keep_hours=hours)


def current_policy(s: Session, fallback: StoragePolicy) -> StoragePolicy:
    raw = get_setting(s, POLICY_KEY)
    return StoragePolicy.model_validate_json(raw) if raw else fallback


def set_policy(s: Session, policy: StoragePolicy) -> None:
    """The cloud's ``storage.policy``: for the parcels deposited from now on."""
    put_setting(s, POLICY_KEY, policy.model_dump_json())


def keep_terms(s: Session, parcel_id: str, fallback: StoragePolicy) -> StoragePolicy:
    """Record the policy a parcel is deposited under, in its recording's transaction."""
    policy = current_policy(s, fallback)
    s.add(StorageTerms(parcel_id=parcel_id, policy=policy.model_dump_json()))
    return policy


def terms_of(s: Session, parcel_id: str, fallback: StoragePolicy) -> StoragePolicy:
    row = s.get(StorageTerms, parcel_id)
    return StoragePolicy.model_validate_json(row.policy) if row is not None else fallback


# --- outages ---------------------------------------------------------------------------------


def _open_outages(s: Session, cause: Cause, compartment: str) -> list[StorageOutage]:
    query = select(StorageOutage).where(
        StorageOutage.cause == cause,
        StorageOutage.compartment == compartment,
        col(StorageOutage.ended_at).is_(None),
    )
    return list(s.exec(query))


def _told(s: Session, row: StorageOutage) -> None:
    event = StorageOutageChanged(
        outage_id=uuid.UUID(row.id),
        compartment=row.compartment or None,
        cause=Cause(row.cause).value,
        started_at=utc(row.started_at),
        ended_at=utc(row.ended_at) if row.ended_at is not None else None,
    )
    emit(s, event)


def begin(s: Session, cause: Cause, compartment: str, now: datetime) -> None:
    """An outage begins, unless the same one is already going on."""
    if _open_outages(s, cause, compartment):
        return
    row = StorageOutage(cause=cause.value, compartment=compartment, started_at=now)
    s.add(row)
    s.flush()
    _told(s, row)


def end(s: Session, cause: Cause, compartment: str, now: datetime) -> None:
    for row in _open_outages(s, cause, compartment):
        row.ended_at = max(now, utc(row.started_at))
        s.add(row)
        _told(s, row)


def maintenance_changed(s: Session, *, on: bool, now: datetime) -> None:
    """The bank went into maintenance, or came out of it."""
    (begin if on else end)(s, Cause.MAINTENANCE, ALL, now)


def door_opened(s: Session, label: str, now: datetime) -> None:
    """A door seen open again ends the outage its failure began."""
    end(s, Cause.DOOR_FAILED, label, now)


def doors_failed(engine: Engine, outcomes: Iterable[tuple[str, str]], now: datetime) -> None:
    """Each door that did not open for a pickup (``(label, outcome)``) stops its parcel's
    storage clock."""
    failed = [label for label, outcome in outcomes if outcome in FAILED]
    if not failed:
        return
    with transaction(engine) as s:
        for label in failed:
            begin(s, Cause.DOOR_FAILED, label, now)


def outages_of(s: Session, compartment: str) -> list[rules.Outage]:
    """The outages that stop the clock of a parcel in ``compartment``."""
    query = select(StorageOutage).where(col(StorageOutage.compartment).in_((ALL, compartment)))
    return [
        rules.Outage(utc(o.started_at), utc(o.ended_at) if o.ended_at is not None else None)
        for o in s.exec(query)
    ]


# --- deadlines -------------------------------------------------------------------------------

Extension = Callable[[Session, str | None], timedelta]  # a pickup group's extra storage


def past_deadline(
    s: Session, fallback: StoragePolicy, now: datetime, extension: Extension
) -> list[Parcel]:
    """The parcels in the lockers whose storage clock reached their deadline (each under its
    own terms, plus its group's extension), and old outages forgotten. A parcel whose door
    stands open for its recipient is being taken: it expires only if the door shuts on it."""
    waiting = list(s.exec(select(Parcel).where(Parcel.state == ParcelState.IN_LOCKER)))
    due = []
    for parcel in waiting:
        if parcel.opened_for is not None:
            continue
        policy = terms_of(s, parcel.id, fallback)
        extra = extension(s, parcel.group_id).total_seconds() / 3600
        if extra > 0:
            policy = policy.model_copy(update={"keep_hours": policy.keep_hours + extra})
        outages = outages_of(s, parcel.compartment)
        if rules.expired(utc(parcel.deposited_at), policy, outages, now):
            due.append(parcel)
    _forget_outages(s, [utc(p.deposited_at) for p in waiting if p not in due], now)
    return due


def _forget_outages(s: Session, deposits: list[datetime], now: datetime) -> None:
    """Outages that ended before the oldest parcel still waiting count for nobody now."""
    before = min(deposits, default=now)
    s.exec(
        delete(StorageOutage).where(
            col(StorageOutage.ended_at).is_not(None), col(StorageOutage.ended_at) < before
        )
    )


# --- fees ------------------------------------------------------------------------------------


def owed(s: Session, parcel: Parcel, fallback: StoragePolicy, now: datetime) -> tuple[int, str]:
    """What ``parcel`` owes for storage at ``now`` (minor units), and in which currency."""
    policy = terms_of(s, parcel.id, fallback)
    outages = outages_of(s, parcel.compartment)
    return rules.fee_owed(utc(parcel.deposited_at), policy, outages, now), policy.currency
