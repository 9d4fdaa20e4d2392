"""Sharing one bank between carriers: the rule the cloud's reservations and the bank's walk-up
deposits both apply, written once over counts so that both ends decide alike.

A carrier's *share* at a bank is a number of compartments it is *guaranteed* (it can always
hold that many) and a *ceiling* it never exceeds; what the guarantees leave is a shared pool.
A carrier without a share has no ceiling and draws on the pool only. The counts: compartments
*free* (in service, empty, reserved for nobody) and compartments each carrier *holds* (its
parcels inside, its reservations, its deposits in progress).

**When the promises cannot all be kept.** Compartments taken out of service can leave fewer
than the guarantees add up to: with 4 compartments, carriers A and B each guaranteed 2 and 2
out of service, one promise must break. The rule admits a carrier within its guarantee while
any compartment is free (first come, first served), and keeps the pool, which is empty then,
closed to everyone else. The other reading, which the bank applied until issue 12, refused A
because B is still owed 2, and B because A is: it kept no promise at all and left the two
working compartments empty while both carriers were owed them. A guarantee is a floor under
what its carrier can get, never a reason to turn that carrier away from a free compartment.
Scaling the guarantees down in proportion was considered and not taken: it needs a rounding
rule, moves every carrier's share whenever a door breaks, and an operator who wants that split
can lower the guarantees. When the promises can be kept, the two readings agree: a carrier
within its guarantee always finds room beyond what the others are owed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Share:
    """A carrier's policy at one bank: compartments it can always hold, and at most."""

    guaranteed: int
    ceiling: int


class Verdict(StrEnum):
    """Whether a carrier may take one more compartment, or why not."""

    ADMITTED = "admitted"
    AT_CEILING = "at_ceiling"  # the carrier holds as many as its ceiling allows
    FULL = "full"  # no compartment is free
    OWED = "owed"  # what is free is owed to other carriers' guarantees


@dataclass(frozen=True)
class BankCounts:
    """One bank as the rule sees it, whichever end counted it."""

    free: int  # in service, empty and reserved for nobody
    held: Mapping[str, int]  # compartments each carrier holds now
    shares: Mapping[str, Share]  # the carriers that have a share here

    def holds(self, carrier: str) -> int:
        return self.held.get(carrier, 0)

    def owed_to_others(self, carrier: str) -> int:
        """Compartments the other carriers' guarantees still claim."""
        return sum(
            max(0, share.guaranteed - self.holds(other))
            for other, share in self.shares.items()
            if other != carrier
        )


def admit(bank: BankCounts, carrier: str) -> Verdict:
    """May ``carrier`` take one more compartment of ``bank``? (See the module's docstring.)"""
    share = bank.shares.get(carrier)
    held = bank.holds(carrier)
    if share is not None and held >= share.ceiling:
        return Verdict.AT_CEILING
    if bank.free <= 0:
        return Verdict.FULL
    if share is not None and held < share.guaranteed:
        return Verdict.ADMITTED
    if bank.free <= bank.owed_to_others(carrier):
        return Verdict.OWED
    return Verdict.ADMITTED
