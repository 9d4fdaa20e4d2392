"""Guessing limits for pickup codes and courier PINs, surviving restarts.

Rules (defaults in ``config.Policy``): after ``lockout_after`` consecutive failures, a lockout of
``lockout_base_s``; each failure after a lockout doubles it, up to ``lockout_max_s``; a success
resets both. After ``daily_failure_limit`` failures in one local day, entry is disabled until the
next day or a manager re-enables it.

Lockouts run on CLOCK_MONOTONIC, which no clock adjustment moves. It is shared by every process of
one boot, so a daemon restart keeps the exact deadline; after a reboot (a new boot id) a lockout
that had not ended is re-armed in full, the safe side of not knowing how long the machine was off.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from controller.config import Policy
from controller.store import Throttle, utcnow

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


def boot_id() -> str:
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return "unknown-boot"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0
    disabled: bool = False
    attempts_left: int | None = None  # before the next lockout


def _rearm_after_reboot(row: Throttle, now: float, boot: str, wall: datetime) -> None:
    if row.boot_id == boot:
        return
    ended = (
        row.locked_until_wall is None or row.locked_until_wall.replace(tzinfo=wall.tzinfo) <= wall
    )
    row.locked_until = 0.0 if ended else now + row.lockout_s
    row.boot_id = boot


def check(row: Throttle, policy: Policy, *, now: float, today: date, boot: str) -> Verdict:
    """May an attempt be made now? (Refused attempts are not counted.)"""
    _rearm_after_reboot(row, now, boot, utcnow())
    if row.day != today.isoformat():
        row.day, row.day_failures, row.disabled = today.isoformat(), 0, False
    if row.disabled:
        return Verdict(allowed=False, disabled=True)
    if now < row.locked_until:
        return Verdict(allowed=False, retry_after_s=row.locked_until - now)
    return Verdict(allowed=True, attempts_left=_attempts_left(row, policy))


def _attempts_left(row: Throttle, policy: Policy) -> int:
    return 1 if row.lockout_s else max(1, policy.lockout_after - row.consecutive)


def fail(row: Throttle, policy: Policy, *, now: float, today: date, boot: str) -> Verdict:
    """Count a wrong code; return what the next attempt faces."""
    row.day = today.isoformat()
    row.boot_id = boot
    row.consecutive += 1
    row.day_failures += 1
    if row.day_failures >= policy.daily_failure_limit:
        row.disabled = True
        return Verdict(allowed=False, disabled=True)
    if row.lockout_s:
        row.lockout_s = min(row.lockout_s * 2, policy.lockout_max_s)
    elif row.consecutive >= policy.lockout_after:
        row.lockout_s = policy.lockout_base_s
    else:
        return Verdict(allowed=True, attempts_left=_attempts_left(row, policy))
    row.locked_until = now + row.lockout_s
    row.locked_until_wall = datetime.fromtimestamp(time.time() + row.lockout_s, tz=UTC)
    return Verdict(allowed=False, retry_after_s=row.lockout_s)


def succeed(row: Throttle) -> None:
    row.consecutive = 0
    row.lockout_s = 0.0
    row.locked_until = 0.0
    row.locked_until_wall = None


def reenable(row: Throttle) -> None:
    """A manager lifts a daily disable."""
    row.disabled = False
    row.day_failures = 0
    succeed(row)
