"""Sharing the bank between carriers offline: reservations held for a carrier, and each carrier's
guaranteed share and ceiling, as the cloud pushed them.

A walk-up deposit may use a compartment reserved for its own carrier, or an unreserved one when
the carrier is under its ceiling and enough unreserved compartments stay free to honour the
other carriers' unmet guarantees. Without a pushed policy a carrier has no ceiling.
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


def admissible(s: Session, carrier: str, free: Sequence[Compartment]) -> list[Compartment]:
    """Of the ``free`` compartments, those ``carrier``'s walk-up deposit may take."""
    held = holders(s)
    own = [c for c in free if carrier in held.get(c.label, set())]
    unheld = [c for c in free if c.label not in held]
    policies = {p.carrier: p for p in s.exec(select(CarrierPolicy))}
    if not policies:
        return own + unheld
    used = usage(s)
    mine = policies.get(carrier)
    if mine is not None and used[carrier] >= mine.ceiling:
        return own
    owed = sum(
        max(0, p.guaranteed - used[p.carrier]) for p in policies.values() if p.carrier != carrier
    )
    return own + unheld if len(unheld) > owed else own


def consume(s: Session, label: str, carrier: str) -> None:
    """``carrier``'s parcel went into ``label``: its reservation there is fulfilled."""
    s.exec(delete(Hold).where(col(Hold.compartment) == label, col(Hold.carrier) == carrier))
