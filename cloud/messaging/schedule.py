"""When a message may go: quiet hours in the site's time, the deadline and its reminder, and the
backoff between tries. Pure functions of the times they are given (the clock is the caller's)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    """Site-local hours no reminder or expiry notice is sent in: ``start`` to ``end``, across
    midnight when ``start`` is later than ``end`` (21:00 to 08:00 by default)."""

    start: time
    end: time

    def holds(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_allowed(self, at: datetime, zone: ZoneInfo) -> datetime:
        """``at`` if it is outside quiet hours in ``zone``; else the end of the quiet hours."""
        local = at.astimezone(zone)
        if not self.holds(local.time()):
            return at
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return end.astimezone(at.tzinfo)


def site_zone(name: str) -> ZoneInfo:
    """The site's time zone; UTC for a name this system does not know."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return ZoneInfo("UTC")


def reminder_due(
    deposited_at: datetime, deadline: datetime, before: timedelta, quiet: QuietHours, zone: ZoneInfo
) -> datetime | None:
    """When the group's reminder goes: ``before`` the deadline, moved out of quiet hours; None
    when that would not fall between the deposit and the deadline (a storage period too short
    to need one, or quiet hours that last until the deadline)."""
    due = quiet.next_allowed(deadline - before, zone)
    if due <= deposited_at or due >= deadline:
        return None
    return due


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (the AWS architecture blog's "full jitter"): a try
    ``n`` (1-based) waits a random time up to ``min(cap, base * 2**(n-1))``, so that many
    dispatchers retrying one gateway after an outage do not come back all at once."""

    base_s: float
    cap_s: float

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt - 1, 32))
        return timedelta(seconds=rng.uniform(0, ceiling))
