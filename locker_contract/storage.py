"""A site's storage policy and what it means for one parcel: ONE definition for edge and cloud.

A parcel's *storage clock* runs from its deposit, except while the operator's outages stop it
(the bank in maintenance, its door failing to open for it; decision 0017): nobody pays for the
operator's downtime, nor loses the parcel to it. On that clock:

- the first ``free_hours`` are free, always (China's 2019 locker measures, Art. 25; Xiamen asks
  for at least 18 h: ``check_local_minimum``);
- after them, ``fee_minor`` is owed per *started* ``period_hours``, never more than ``cap_minor``;
- at ``keep_hours`` the parcel's *deadline* comes: it becomes a return for its carrier.

Everything here is a pure function of the deposit time, the policy, the outages and a moment;
the edge and the cloud call the same ones, each with the outages it knows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from locker_contract.errors import ContractError
from locker_contract.text import FiniteFloat

MAX_HOURS = 90 * 24.0  # no storage period, fee period or free period longer than 90 days
MINOR_UNITS = 100  # of a currency's major unit (yuan: fen)
EXPIRY_REASON = "storage period ended"  # a ``parcel.refused`` the bank's deadline made

Hours = Annotated[FiniteFloat, Field(gt=0, le=MAX_HOURS)]


class PolicyRefused(ContractError):
    """A storage policy the rules do not allow (below the local minimum of free hours)."""


class StoragePolicy(BaseModel):
    """Free hours, then a fee per started period up to a cap; the parcel goes back at
    ``keep_hours``. Amounts are in minor units (fen) of ``currency``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    free_hours: Hours = 72.0
    keep_hours: Hours = 72.0
    fee_minor: Annotated[int, Field(ge=0, le=100_000)] = 0
    period_hours: Hours = 12.0
    cap_minor: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"

    @model_validator(mode="after")
    def _kept_at_least_the_free_period(self) -> StoragePolicy:
        if self.keep_hours < self.free_hours:
            raise ValueError("keep_hours must be at least free_hours")
        return self

    @property
    def charges(self) -> bool:
        return self.fee_minor > 0 and self.cap_minor > 0 and self.keep_hours > self.free_hours


def check_local_minimum(policy: StoragePolicy, minimum_hours: float) -> StoragePolicy:
    """``policy``, or ``PolicyRefused`` if its free period is below the local minimum."""
    if policy.free_hours < minimum_hours:
        raise PolicyRefused(
            f"free_hours {policy.free_hours:g} is below the local minimum of {minimum_hours:g} h"
        )
    return policy


@dataclass(frozen=True)
class Outage:
    """An interval the storage clock stops: ``end`` None while it lasts."""

    start: datetime
    end: datetime | None = None


def _merged(deposited_at: datetime, outages: Iterable[Outage], now: datetime) -> list[Outage]:
    """The outages after the deposit, ongoing ones ending at ``now``, sorted and merged."""
    spans = sorted(
        (max(o.start, deposited_at), o.end if o.end is not None else now)
        for o in outages
        if (o.end if o.end is not None else now) > deposited_at
    )
    merged: list[list[datetime]] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [Outage(start, end) for start, end in merged]


def counted(deposited_at: datetime, at: datetime, outages: Iterable[Outage]) -> timedelta:
    """How long the storage clock ran from the deposit to ``at``: outages left out."""
    if at <= deposited_at:
        return timedelta(0)
    spans = _merged(deposited_at, outages, at)
    stopped = sum((min(o.end or at, at) - o.start for o in spans if o.start < at), timedelta(0))
    return at - deposited_at - stopped


def moment_after(
    deposited_at: datetime, hours: float, outages: Iterable[Outage], now: datetime
) -> datetime:
    """When the storage clock reaches ``hours``, taking an ongoing outage to end at ``now``."""
    moment, left = deposited_at, timedelta(hours=hours)
    for outage in _merged(deposited_at, outages, now):
        assert outage.end is not None
        if outage.start >= moment + left:
            break
        left -= max(outage.start - moment, timedelta(0))
        moment = max(moment, outage.end)
    return moment + left


def free_until(
    deposited_at: datetime, policy: StoragePolicy, outages: Iterable[Outage], now: datetime
) -> datetime:
    return moment_after(deposited_at, policy.free_hours, outages, now)


def deadline(
    deposited_at: datetime, policy: StoragePolicy, outages: Iterable[Outage], now: datetime
) -> datetime:
    """When the parcel becomes a return, as things stand at ``now`` (an ongoing outage
    moves it on for as long as it lasts)."""
    return moment_after(deposited_at, policy.keep_hours, outages, now)


def expired(
    deposited_at: datetime, policy: StoragePolicy, outages: Iterable[Outage], at: datetime
) -> bool:
    """Whether the storage clock reached ``keep_hours`` by ``at``."""
    return counted(deposited_at, at, outages) >= timedelta(hours=policy.keep_hours)


def fee_owed(
    deposited_at: datetime, policy: StoragePolicy, outages: Iterable[Outage], at: datetime
) -> int:
    """Minor units owed at ``at``: nothing inside the free period; then ``fee_minor`` per
    started period, at most ``cap_minor``."""
    over = counted(deposited_at, at, outages) - timedelta(hours=policy.free_hours)
    if over <= timedelta(0) or not policy.charges:
        return 0
    started = -(-over // timedelta(hours=policy.period_hours))
    return min(policy.cap_minor, started * policy.fee_minor)


def money(minor: int, currency: str = "CNY") -> str:
    """``150`` -> ``¥1.50`` (yuan), ``EUR 1.50`` for others."""
    symbol = "¥" if currency == "CNY" else f"{currency} "
    return f"{symbol}{minor // MINOR_UNITS}.{minor % MINOR_UNITS:02d}"
