"""Sharing the bank between carriers offline: reservations held for a carrier, and each carrier's
guaranteed share and ceiling, as the cloud pushed them.

A walk-up deposit may use a compartment reserved for its own carrier, or an unreserved one when
the sharing rule both ends apply admits the carrier (``locker_contract.sharing``, where the rule
and its reasons are written). Without a pushed policy a carrier has no ceiling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlmodel import Session, col, delete, select

from controller.store import (
    ACTIVE_DEPOSIT_STATES,
    ACTIVE_PARCEL_STATES,
    CarrierPolicy,
    Compartment,
    Deposit,
    Hold,
    Parcel,
)
from locker_contract.sharing import BankCounts, Share, Verdict, admit


def holders(s: Session) -> dict[str, set[str]]:
    """The carriers each reserved compartment is held for."""
    found: dict[str, set[str]] = {}
    for hold in s.exec(select(Hold)):
        found.setdefault(hold.compartment, set()).add(hold.carrier)
    return found


def usage(s: Session) -> Counter[str]:
    """Compartments each carrier holds now: its parcels, deposits in progress and reservations."""
    used: Counter[str] = Counter()
    parcels = select(Parcel.carrier, Parcel.compartment).where(
        col(Parcel.state).in_(ACTIVE_PARCEL_STATES)
    )
    deposits = select(Deposit.carrier, Deposit.compartment).where(
        col(Deposit.state).in_(ACTIVE_DEPOSIT_STATES)
    )
    taken: set[str] = set()
    for carrier, label in [*s.exec(parcels), *s.exec(deposits)]:
        if label is not None and label not in taken:
            taken.add(label)
            used[carrier] += 1
    for hold in s.exec(select(Hold)):
        if hold.compartment not in taken:
            used[hold.carrier] += 1
    return used


def counts(s: Session, free: Sequence[Compartment]) -> BankCounts:
    """The bank as the sharing rule counts it; ``free`` as ``flows.bank.free_compartments`` lists it
    (those reserved for the asking carrier included: they are not free for the pool)."""
    held = holders(s)
    shares = {p.carrier: Share(p.guaranteed, p.ceiling) for p in s.exec(select(CarrierPolicy))}
    unheld = sum(c.label not in held for c in free)
    return BankCounts(free=unheld, held=usage(s), shares=shares)


def admissible(s: Session, carrier: str, free: Sequence[Compartment]) -> list[Compartment]:
    """Of the ``free`` compartments, those ``carrier``'s walk-up deposit may take: the ones
    reserved for it always (using a reservation holds nothing more), the unreserved ones when
    the sharing rule admits it (``locker_contract.sharing``)."""
    held = holders(s)
    own = [c for c in free if carrier in held.get(c.label, set())]
    unheld = [c for c in free if c.label not in held]
    if admit(counts(s, free), carrier) is Verdict.ADMITTED:
        return own + unheld
    return own


def consume(s: Session, label: str, carrier: str) -> None:
    """``carrier``'s parcel went into ``label``: its reservation there is fulfilled."""
    s.exec(delete(Hold).where(col(Hold.compartment) == label, col(Hold.carrier) == carrier))
