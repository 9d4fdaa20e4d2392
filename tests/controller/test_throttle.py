"""The guessing throttle: lockouts that double, a daily disable, and restarts."""

from __future__ import annotations

from datetime import date, timedelta

from controller.config import Policy
from controller.store import Throttle
from controller.throttle import check, fail, reenable, succeed

POLICY = Policy()
TODAY = date(2026, 11, 24)
BOOT = "boot-a"


def _fail(row: Throttle, now: float, today: date = TODAY) -> None:
    fail(row, POLICY, now=now, today=today, boot=BOOT)


def test_five_wrong_then_thirty_seconds() -> None:
    row = Throttle(scope="kiosk:code")
    for n in range(4):
        verdict = fail(row, POLICY, now=0.0, today=TODAY, boot=BOOT)
        assert verdict.allowed
        assert verdict.attempts_left == 4 - n
    verdict = fail(row, POLICY, now=0.0, today=TODAY, boot=BOOT)
    assert not verdict.allowed
    assert verdict.retry_after_s == 30
    assert check(row, POLICY, now=29.0, today=TODAY, boot=BOOT).retry_after_s == 1.0
    assert check(row, POLICY, now=30.0, today=TODAY, boot=BOOT).allowed


def test_each_wrong_code_after_a_lockout_doubles_it_up_to_fifteen_minutes() -> None:
    row = Throttle(scope="kiosk:code")
    now = 0.0
    for _ in range(5):
        _fail(row, now)
    lockouts = []
    for _ in range(8):
        now = row.locked_until
        assert check(row, POLICY, now=now, today=TODAY, boot=BOOT).allowed
        lockouts.append(fail(row, POLICY, now=now, today=TODAY, boot=BOOT).retry_after_s)
    assert lockouts == [60, 120, 240, 480, 900, 900, 900, 900]


def test_a_right_code_resets() -> None:
    row = Throttle(scope="kiosk:code")
    for _ in range(5):
        _fail(row, 0.0)
    succeed(row)
    assert check(row, POLICY, now=0.0, today=TODAY, boot=BOOT).attempts_left == 5


def test_a_hundred_failures_in_a_day_disable_until_tomorrow_or_a_manager() -> None:
    row = Throttle(scope="kiosk:code")
    for _ in range(99):
        row.locked_until = 0.0
        _fail(row, 0.0)
    assert not row.disabled
    assert fail(row, POLICY, now=0.0, today=TODAY, boot=BOOT).disabled
    assert check(row, POLICY, now=1e9, today=TODAY, boot=BOOT).disabled
    tomorrow = TODAY + timedelta(days=1)
    assert not check(row, POLICY, now=1e9, today=tomorrow, boot=BOOT).disabled
    row.disabled = True
    reenable(row)
    assert check(row, POLICY, now=1e9, today=tomorrow, boot=BOOT).allowed


def test_a_restart_in_the_same_boot_keeps_the_deadline() -> None:
    row = Throttle(scope="kiosk:code")
    for _ in range(5):
        _fail(row, 100.0)
    assert check(row, POLICY, now=110.0, today=TODAY, boot=BOOT).retry_after_s == 20.0


def test_a_reboot_rearms_an_unfinished_lockout_in_full() -> None:
    row = Throttle(scope="kiosk:code")
    for _ in range(5):
        _fail(row, 100.0)
    # After a reboot the monotonic clock restarts near zero: the old deadline means nothing.
    verdict = check(row, POLICY, now=5.0, today=TODAY, boot="boot-b")
    assert not verdict.allowed
    assert verdict.retry_after_s == 30.0
