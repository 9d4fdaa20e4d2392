"""Guessing limits for pickup codes and courier PINs, surviving restarts.

Courier PINs (one scope per courier, defaults in ``config.Policy``): after ``lockout_after``
consecutive failures, a lockout of ``lockout_base_s``; each failure after a lockout doubles it, up
to ``lockout_max_s``; a success resets both. After ``daily_failure_limit`` failures in one local
day, the scope is disabled until the next day or a manager re-enables it.

Pickup codes are throttled per **source** and kiosk-wide, and never disabled (docs/security.md):

- a source is where an attempt comes from: the kiosk's own screen (``Policy.kiosk_terminals``,
  the loopback addresses by default) or anywhere else on the network. Each source has the PIN
  ramp above, without the daily disable; a success clears its own source's ramp and nothing else.
- the kiosk-wide row counts every wrong code of the day, from every source and every path
  (pickup and refusal, page and API). Past ``kiosk_failure_budget`` the kiosk is *slow*: each
  wrong code locks its source for ``slow_lockout_s``, and a ``kiosk.lockout`` alarm goes out. A
  recipient with the right code at a source that has not failed still opens at once.

The code scopes are a fixed set (``CODE_SCOPES``), so the table cannot grow with attempts.

Lockouts run on CLOCK_MONOTONIC, which no clock adjustment moves. It is shared by every process of
one boot, so a daemon restart keeps the exact deadline; after a reboot (a new boot id) a lockout
that had not ended is re-armed in full, the safe side of not knowing how long the machine was off.
Time comes from a ``Clock`` passed in, so tests advance it instead of waiting.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from controller.clock import Clock
from controller.codes import CODE_DIGITS
from controller.config import Policy
from controller.errors import LockedOut
from controller.store import Throttle, emit
from locker_contract.events import KioskLockout

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")

TERMINAL = "terminal"  # the kiosk's own screen
NETWORK = "network"  # any other address the kiosk API is reachable from
KIOSK_SCOPE = "code:kiosk"  # every wrong code, from every source
CODE_SCOPES = (f"code:{TERMINAL}", f"code:{NETWORK}", KIOSK_SCOPE)


@dataclass(frozen=True)
class Moment:
    """One reading of the clock, with the boot it was taken in."""

    now: float
    wall: datetime
    today: date
    boot: str


def moment(clock: Clock, boot: str) -> Moment:
    return Moment(clock.monotonic(), clock.wall(), clock.today(), boot)


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
    budget_reached: bool = False  # this failure spent the kiosk-wide budget of the day


def _rearm_after_reboot(row: Throttle, now: float, boot: str, wall: datetime) -> None:
    if row.boot_id == boot:
        return
    ended = (
        row.locked_until_wall is None or row.locked_until_wall.replace(tzinfo=wall.tzinfo) <= wall
    )
    row.locked_until = 0.0 if ended else now + row.lockout_s
    if not ended:
        row.locked_until_wall = wall + timedelta(seconds=row.lockout_s)
    row.boot_id = boot


def rearm_all(s: Session, at: Moment) -> None:
    """At start, once: re-arm the lockouts a reboot interrupted, for good. (``check`` would
    re-arm lazily, but a refused attempt is rolled back, so every try would restart it.)"""
    for row in s.exec(select(Throttle).where(col(Throttle.boot_id) != at.boot)):
        _rearm_after_reboot(row, at.now, at.boot, at.wall)
        s.add(row)


def _new_day(row: Throttle, today: date) -> None:
    if row.day != today.isoformat():
        row.day, row.day_failures, row.disabled = today.isoformat(), 0, False


def check(
    row: Throttle,
    policy: Policy,
    *,
    now: float,
    today: date,
    boot: str,
    wall: datetime,
) -> Verdict:
    """May an attempt be made now? (Refused attempts are not counted.)"""
    _rearm_after_reboot(row, now, boot, wall)
    _new_day(row, today)
    if row.disabled:
        return Verdict(allowed=False, disabled=True)
    if now < row.locked_until:
        return Verdict(allowed=False, retry_after_s=row.locked_until - now)
    return Verdict(allowed=True, attempts_left=_attempts_left(row, policy))


def _attempts_left(row: Throttle, policy: Policy) -> int:
    return 1 if row.lockout_s else max(1, policy.lockout_after - row.consecutive)


def _count(row: Throttle, today: date, boot: str) -> None:
    _new_day(row, today)
    row.boot_id = boot
    row.consecutive += 1
    row.day_failures += 1


def _ramp(row: Throttle, policy: Policy) -> float | None:
    """The lockout the ramp asks for after this failure, or None while tries are left."""
    if row.lockout_s:
        return min(row.lockout_s * 2, policy.lockout_max_s)
    if row.consecutive >= policy.lockout_after:
        return policy.lockout_base_s
    return None


def _lock(row: Throttle, lockout_s: float, now: float, wall: datetime) -> None:
    row.lockout_s = lockout_s
    row.locked_until = now + lockout_s
    row.locked_until_wall = wall + timedelta(seconds=lockout_s)


def fail(
    row: Throttle,
    policy: Policy,
    *,
    now: float,
    today: date,
    boot: str,
    wall: datetime,
) -> Verdict:
    """Count a wrong PIN; return what the next attempt faces."""
    _count(row, today, boot)
    if row.day_failures >= policy.daily_failure_limit:
        row.disabled = True
        return Verdict(allowed=False, disabled=True)
    lockout = _ramp(row, policy)
    if lockout is None:
        return Verdict(allowed=True, attempts_left=_attempts_left(row, policy))
    _lock(row, lockout, now, wall)
    return Verdict(allowed=False, retry_after_s=lockout)


def succeed(row: Throttle) -> None:
    row.consecutive = 0
    row.lockout_s = 0.0
    row.locked_until = 0.0
    row.locked_until_wall = None


def reenable(row: Throttle) -> None:
    """A manager lifts a daily disable (or the kiosk's slow mode)."""
    row.disabled = False
    row.day_failures = 0
    succeed(row)


# --- pickup codes: per source and kiosk-wide ---------------------------------------------------


def _address(text: str) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


def source_for(host: str | None, terminals: Collection[str]) -> str:
    """Where a code attempt comes from: the kiosk's own screen, or the network. The client
    address of the connection is all that counts (never a header a client could write)."""
    if host is not None and _address(host) in {_address(t) for t in terminals}:
        return TERMINAL
    return NETWORK


def code_scope(source: str) -> str:
    scope = f"code:{source}"
    assert scope in CODE_SCOPES, f"unknown code source {source!r}"
    return scope


@dataclass(frozen=True)
class CodeRows:
    """The two rows a code attempt passes: its source's and the kiosk-wide one."""

    source: Throttle
    kiosk: Throttle


def check_code(rows: CodeRows, policy: Policy, at: Moment) -> Verdict:
    """May ``rows.source`` try a code now? (Refused attempts are not counted.)"""
    _new_day(rows.kiosk, at.today)
    return check(rows.source, policy, now=at.now, today=at.today, boot=at.boot, wall=at.wall)


def fail_code(rows: CodeRows, policy: Policy, at: Moment) -> Verdict:
    """Count a wrong code (or a refusal without its pickup session) against its source and the
    kiosk; past the kiosk's budget of the day every wrong code locks its source for
    ``slow_lockout_s``. Nothing is ever disabled."""
    _count(rows.kiosk, at.today, at.boot)
    _count(rows.source, at.today, at.boot)
    spent = rows.kiosk.day_failures >= policy.kiosk_failure_budget
    reached = rows.kiosk.day_failures == policy.kiosk_failure_budget
    lockout = policy.slow_lockout_s if spent else _ramp(rows.source, policy)
    if lockout is None:
        left = _attempts_left(rows.source, policy)
        return Verdict(allowed=True, attempts_left=left, budget_reached=reached)
    _lock(rows.source, lockout, at.now, at.wall)
    return Verdict(allowed=False, retry_after_s=lockout, budget_reached=reached)


def succeed_code(rows: CodeRows) -> None:
    """A right code clears its own source's ramp; the kiosk's count of the day stays."""
    succeed(rows.source)


def _row(s: Session, scope: str) -> Throttle:
    row = s.get(Throttle, scope) or Throttle(scope=scope)
    s.add(row)
    return row


def admit_code(s: Session, policy: Policy, source: str, at: Moment) -> CodeRows:
    """The rows for a code attempt from ``source``, or ``LockedOut`` while it must wait."""
    rows = CodeRows(_row(s, code_scope(source)), _row(s, KIOSK_SCOPE))
    verdict = check_code(rows, policy, at)
    if not verdict.allowed:
        raise LockedOut("too many wrong tries", retry_after_s=round(verdict.retry_after_s, 1))
    return rows


def code_failed(s: Session, rows: CodeRows, policy: Policy, at: Moment) -> dict[str, object]:
    """Count a failure in the caller's transaction; lockouts and a spent budget are alarms.
    Returns what the person is told (``attempts_left`` or ``retry_after_s``)."""
    verdict = fail_code(rows, policy, at)
    if verdict.budget_reached:
        failures, slow = rows.kiosk.day_failures, policy.slow_lockout_s
        emit(s, KioskLockout(scope=KIOSK_SCOPE, failures=failures, lockout_s=slow, disabled=False))
    if verdict.allowed:
        return {"attempts_left": verdict.attempts_left}
    source = rows.source
    emit(
        s,
        KioskLockout(
            scope=source.scope,
            failures=source.day_failures,
            lockout_s=verdict.retry_after_s,
            disabled=False,
        ),
    )
    return {"retry_after_s": round(verdict.retry_after_s, 1)}


def reenable_codes(s: Session) -> None:
    """A manager ends every code lockout and the kiosk's slow mode (``locker edge keypad``)."""
    for row in s.exec(select(Throttle).where(col(Throttle.scope).in_(CODE_SCOPES))):
        reenable(row)
        s.add(row)


# --- the attacker's odds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Odds:
    """An upper bound on a guesser's chance, every source and every path counted."""

    local_days: int  # local days a window of ``hours`` can touch (a DST day has 23 h)
    budget_guesses: int  # wrong codes before the kiosk turns slow, over those days
    slow_guesses: int  # wrong codes while slow, over every source
    guesses: int
    codes: int  # the code space
    probability: float


def guessing_odds(policy: Policy, *, parcels: int = 100, hours: float = 72.0) -> Odds:
    """How likely a guesser opens any of ``parcels`` parcels (each its own code) in ``hours``.

    A window of ``hours`` touches at most ``ceil(hours / 23) + 1`` local days (the day clocks go
    forward has 23 hours). In each local day at most ``kiosk_failure_budget`` wrong codes are
    made before the kiosk turns slow; after that a source's wrong codes are at least
    ``slow_lockout_s`` apart (its lockout outlives midnight, a restart and, re-armed in full, a
    reboot), so each source adds at most ``floor(T / slow_lockout_s) + 1``. Refusals need a
    pickup session token (192 random bits): a wrong one counts in the same rows, and its own
    chance is negligible. Each guess hits one of ``parcels`` codes out of ``10**CODE_DIGITS`` at
    most (a union bound).
    """
    window_s = hours * 3600
    local_days = math.ceil(hours / 23) + 1
    budget = local_days * policy.kiosk_failure_budget
    slow = len(CODE_SCOPES[:-1]) * (math.floor(window_s / policy.slow_lockout_s) + 1)
    codes = 10**CODE_DIGITS
    guesses = budget + slow
    return Odds(local_days, budget, slow, guesses, codes, min(1.0, guesses * parcels / codes))
